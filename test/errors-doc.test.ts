import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { ERROR_CODES } from '@switchboard/shared';

test('docs/errors.md lists exactly the codes of the error table, with the same status and retryable flag', async () => {
  const doc = await readFile(new URL('../docs/errors.md', import.meta.url), 'utf8');
  const rows = new Map<string, { status: number; retryable: boolean }>();
  for (const match of doc.matchAll(
    /^\|\s*`(SB_ERR_[A-Z_]+)`\s*\|\s*(\d+)\s*\|\s*(yes|no)\s*\|/gm,
  )) {
    assert.ok(!rows.has(match[1]!), `${match[1]} is listed twice`);
    rows.set(match[1]!, { status: Number(match[2]), retryable: match[3] === 'yes' });
  }
  assert.deepEqual([...rows.keys()].sort(), Object.keys(ERROR_CODES).sort());
  for (const [code, info] of Object.entries(ERROR_CODES)) {
    assert.deepEqual(rows.get(code), { status: info.status, retryable: info.retryable }, code);
  }
});
