import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UI_TIMEOUT_MS, launchChromium, openDashboard } from './helpers/browser.ts';
import { startAdminServer } from './helpers/admin.ts';
import { LOOP_FUNCTION, launchLoop, serveLoop } from './helpers/tasks.ts';

test('dashboard tasks card: a running task shows its live state; Kill ends it killed', async (t) => {
  const browser = await launchChromium(t);
  if (browser === undefined) return;
  const { sb, url, token } = await startAdminServer(t);
  serveLoop(sb, 50);
  sb.callable('ops.double', (n: number) => n * 2);
  const done = sb.launch('ops.double', 5);
  await done.result();
  const loop = await launchLoop(sb);

  const problems: string[] = [];
  const page = await openDashboard(browser, url, token, problems);

  // Newest first: the running task, then the completed one (no Kill button).
  const row = page.locator(`#tasks tr[data-task-id="${loop.id}"]`);
  const doneRow = page.locator(`#tasks tr[data-task-id="${done.id}"]`);
  await row.waitFor({ timeout: UI_TIMEOUT_MS });
  await doneRow.waitFor({ timeout: UI_TIMEOUT_MS });
  const ids = await page
    .locator('#tasks tbody tr')
    .evaluateAll((rows) =>
      rows.map((r) => (r as unknown as { dataset: { taskId: string } }).dataset.taskId),
    );
  assert.deepEqual(ids, [loop.id, done.id]);
  assert.match((await row.locator('td').nth(0).textContent()) ?? '', new RegExp(LOOP_FUNCTION));
  assert.equal(await row.locator('td').nth(1).textContent(), 'running');
  assert.equal(await doneRow.locator('td').nth(1).textContent(), 'completed');
  assert.equal(await doneRow.locator('button.kill').isVisible(), false);

  // The state is live: its step grows from one poll to the next.
  const stateCell = row.locator('td').nth(2);
  const stepOf = async () => {
    const text = (await stateCell.textContent()) ?? '';
    return Number(/^\{"step":(\d+)\}$/.exec(text)?.[1] ?? NaN);
  };
  const first = await stepOf();
  assert.ok(first >= 1, `a step in the state cell: ${await stateCell.textContent()}`);
  await page.waitForFunction(
    ([id, before]) => {
      const doc = (
        globalThis as unknown as {
          document: { querySelector(s: string): { textContent: string } | null };
        }
      ).document;
      const cell = doc.querySelector(`#tasks tr[data-task-id="${id}"] td:nth-child(3)`);
      const step = Number(/"step":(\d+)/.exec(cell?.textContent ?? '')?.[1] ?? 0);
      return step > Number(before);
    },
    [loop.id, first] as const,
    { timeout: UI_TIMEOUT_MS },
  );

  // Kill, confirmed: the task ends killed, the row says so and the button goes.
  const kill = row.getByRole('button', { name: `Kill task ${loop.id}` });
  assert.equal(await kill.isVisible(), true);
  const dialog = page.waitForEvent('dialog').then(async (shown) => {
    const message = shown.message();
    await shown.accept();
    return message;
  });
  await kill.click();
  assert.match(await dialog, new RegExp(`Kill task ${LOOP_FUNCTION} \\(${loop.id}\\)`));
  await row
    .locator('td')
    .nth(1)
    .filter({ hasText: /^killed$/ })
    .waitFor({ timeout: UI_TIMEOUT_MS });
  assert.equal(await kill.isVisible(), false);
  assert.match((await page.locator('#flash').textContent()) ?? '', /Killed task/);
  const info = await loop.info();
  assert.equal(info.status, 'killed');
  assert.equal(info.error?.code, 'SB_ERR_TASK_KILLED');
  assert.match(
    (await row.locator('td').nth(1).getAttribute('title')) ?? '',
    /^SB_ERR_TASK_KILLED: /,
  );
  assert.deepEqual(problems, []);
  await page.context().close();
});
