import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { spawnScript } from './helpers/child.ts';

// From outside the repository, as a user would: pack the published tarballs, install each in an
// empty folder, run the installed CLI and plain JavaScript uplinks (ESM and require()) with node.

const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const HEAVY = ['better-sqlite3', 'fastify', 'tsx', 'typescript', 'esbuild'];

/**
 * Set to 1 to install the server exactly as a user does, compiling better-sqlite3 from source
 * (2–5 minutes here). By default its install scripts are skipped and the native module this
 * checkout already compiled (same version, same Node) is copied in; everything else is a
 * plain `npm install` of the tarball.
 */
const FULL_INSTALL = process.env.SWITCHBOARD_PACK_FULL_INSTALL === '1';

/** npm in `cwd`, with the repository's environment variables left out (no workspace, no conditions). */
async function npm(args: string[], cwd: string): Promise<string> {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !/^npm_|^NODE_OPTIONS$/i.test(name)),
  );
  const { stdout, stderr } = await run('npm', args, {
    cwd,
    env,
    timeout: 9 * 60_000,
    maxBuffer: 16 << 20,
  });
  return stdout + stderr;
}

async function emptyApp(parent: string, name: string): Promise<string> {
  const dir = path.join(parent, name);
  await mkdir(dir);
  await writeFile(
    path.join(dir, 'package.json'),
    JSON.stringify({ name, private: true, type: 'module' }),
  );
  return dir;
}

/** Every installed package name under `node_modules`, nested ones too. */
async function installedPackages(modules: string, found = new Set<string>()): Promise<Set<string>> {
  const entries = await readdir(modules, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
    const names = entry.name.startsWith('@')
      ? (await readdir(path.join(modules, entry.name))).map((sub) => `${entry.name}/${sub}`)
      : [entry.name];
    for (const name of names) {
      found.add(name);
      await installedPackages(path.join(modules, name, 'node_modules'), found);
    }
  }
  return found;
}

async function folderBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += (await stat(path.join(entry.parentPath, entry.name))).size;
  }
  return total;
}

/** The README's plain JavaScript uplink ("Run an uplink on another machine"), run as written. */
async function readmeUplink(): Promise<string> {
  const readme = await readFile(path.join(ROOT, 'README.md'), 'utf8');
  const block = /`up\.mjs`, plain JavaScript:\n\n```js\n([\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(block, 'README has the up.mjs snippet');
  return block;
}

const UPLINK_CJS = `
const { connect } = require('@switchboard/uplink');
connect({ url: process.env.SWITCHBOARD_URL, key: process.env.SWITCHBOARD_KEY }).then(async (uplink) => {
  uplink.callable('mul', (a, b) => a * b);
  await uplink.synced();
  console.log('ready');
  process.once('SIGTERM', () => void uplink.close().then(() => process.exit(0)));
});
`;

const CONSUMER_TS = `
import { connect, SwitchboardError, type CallContext } from '@switchboard/uplink';
const uplink = await connect({ url: 'http://127.0.0.1:1', key: 'k' });
uplink.callable('add', (a: number, b: number) => a + b);
const sum: unknown = await uplink.call('add', 1, 2);
const failure: SwitchboardError | undefined = undefined;
const context: CallContext | undefined = undefined;
export { sum, failure, context };
`;

test('packed tarballs install outside the repo: the CLI starts, plain .mjs and .cjs uplinks serve over HTTP', async (t) => {
  const work = await mkdtemp(path.join(tmpdir(), 'sb-pack-'));
  t.after(() => rm(work, { recursive: true, force: true }));

  const packed = await run(process.execPath, ['scripts/pack.mjs', '--out', work], {
    cwd: ROOT,
    timeout: 120_000,
  });
  const tarballs = new Map(
    packed.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { name: string; file: string; bytes: number })
      .map((entry) => [entry.name, entry]),
  );
  const uplinkTarball = tarballs.get('@switchboard/uplink');
  const serverTarball = tarballs.get('@switchboard/server');
  assert.ok(uplinkTarball && serverTarball, packed.stdout);

  // The uplink alone: light, no server machinery, nothing TypeScript.
  const uplinkApp = await emptyApp(work, 'uplink-app');
  const started = performance.now();
  const uplinkLog = await npm(
    ['install', uplinkTarball.file, '--prefer-offline', '--no-audit', '--no-fund'],
    uplinkApp,
  );
  const installMs = performance.now() - started;
  assert.doesNotMatch(uplinkLog, /EBADENGINE/);
  const uplinkPackages = await installedPackages(path.join(uplinkApp, 'node_modules'));
  for (const heavy of HEAVY) assert.ok(!uplinkPackages.has(heavy), `${heavy} was installed`);
  const uplinkBytes = await folderBytes(path.join(uplinkApp, 'node_modules'));
  t.diagnostic(
    `uplink: tarball ${(uplinkTarball.bytes / 1024).toFixed(0)} KiB; installed ${(uplinkBytes / 2 ** 20).toFixed(1)} MiB ` +
      `in ${uplinkPackages.size} packages (${[...uplinkPackages].sort().join(', ')}) in ${(installMs / 1000).toFixed(1)} s`,
  );

  // Its declaration files type-check a consumer (the repository's TypeScript, the app's install).
  await writeFile(path.join(uplinkApp, 'consumer.ts'), CONSUMER_TS);
  await writeFile(
    path.join(uplinkApp, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        target: 'ES2022',
        strict: true,
        noEmit: true,
        types: ['node'],
        typeRoots: [path.join(ROOT, 'node_modules/@types')],
      },
      files: ['consumer.ts'],
    }),
  );
  await run(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', '.'], {
    cwd: uplinkApp,
  });

  // The server: the installed `switchboard` CLI on plain node; tsx is nowhere in production.
  const serverApp = await emptyApp(work, 'server-app');
  const serverLog = await npm(
    [
      'install',
      serverTarball.file,
      '--prefer-offline',
      '--no-audit',
      '--no-fund',
      ...(FULL_INSTALL ? [] : ['--ignore-scripts']),
    ],
    serverApp,
  );
  assert.doesNotMatch(serverLog, /EBADENGINE/);
  if (!FULL_INSTALL) {
    const native = 'node_modules/better-sqlite3/build/Release';
    await mkdir(path.join(serverApp, native), { recursive: true });
    await copyFile(
      path.join(ROOT, native, 'better_sqlite3.node'),
      path.join(serverApp, native, 'better_sqlite3.node'),
    );
  }
  // `npm ls` exits 1 when nothing matches: its output is the answer either way.
  const productionTsx = await npm(['ls', 'tsx', '--omit=dev', '--all'], serverApp).catch(
    (error: { stdout?: string }) => error.stdout ?? '',
  );
  assert.match(productionTsx, /\(empty\)/, productionTsx);
  const serverPackages = await installedPackages(path.join(serverApp, 'node_modules'));
  for (const absent of ['tsx', 'typescript', 'esbuild']) assert.ok(!serverPackages.has(absent));
  const pkg = JSON.parse(
    await readFile(path.join(serverApp, 'node_modules/@switchboard/server/package.json'), 'utf8'),
  ) as { exports: Record<string, Record<string, string>> };
  assert.deepEqual(Object.keys(pkg.exports['.'] ?? {}), ['types', 'default']);

  const dataDir = path.join(work, 'data');
  const server = spawnScript(t, path.join(serverApp, 'node_modules/.bin/switchboard'), {}, [
    'start',
    '--port',
    '0',
    '--data-dir',
    dataDir,
  ]);
  const url = (await server.waitFor(/^Switchboard listening on /, 30_000))
    .replace('Switchboard listening on ', '')
    .trim();
  const key = (await server.waitFor(/^\s+export SWITCHBOARD_KEY=/))
    .trim()
    .replace('export SWITCHBOARD_KEY=', '');
  const env = { SWITCHBOARD_URL: url, SWITCHBOARD_KEY: key };

  await writeFile(path.join(uplinkApp, 'up.mjs'), await readmeUplink());
  await writeFile(path.join(uplinkApp, 'up.cjs'), UPLINK_CJS);
  const esm = spawnScript(t, path.join(uplinkApp, 'up.mjs'), env);
  const cjs = spawnScript(t, path.join(uplinkApp, 'up.cjs'), env);
  await esm.waitFor(/^serving add/, 30_000);
  await cjs.waitFor(/^ready$/, 30_000);

  const call = async (name: string, args: unknown[]): Promise<unknown> => {
    const response = await fetch(`${url}/_/call/${name}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify(args),
    });
    assert.equal(response.status, 200);
    return response.json();
  };
  assert.equal(await call('add', [2, 3]), 5);
  assert.equal(await call('mul', [6, 7]), 42);
  const hello = await fetch(`${url}/_/api/hello/Ada`);
  assert.equal(hello.status, 200);
  assert.deepEqual(await hello.json(), { hello: 'Ada' });
  assert.equal(esm.stderr(), '');
  assert.equal(cjs.stderr(), '', 'require() of the ESM package prints no warning');

  for (const child of [esm, cjs, server]) child.process.kill('SIGTERM');
  assert.equal((await esm.exited).signal, 'SIGTERM'); // the snippet keeps no SIGTERM handler
  for (const child of [cjs, server]) assert.equal((await child.exited).code, 0);
});
