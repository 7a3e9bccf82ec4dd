import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  commandHelp,
  groupHelp,
  parseCommand,
  UsageError,
  type Command,
  type Parsed,
} from '../server/src/cli/command.ts';
import { openDatabase } from '../server/src/store/database.ts';
import { AdminTokenStore } from '../server/src/store/admin-token-store.ts';
import { keysCommands } from '../server/src/cli/keys-command.ts';
import { startCommand, startConfig } from '../server/src/cli/start-options.ts';
import { statusCommand } from '../server/src/cli/status-command.ts';
import { tasksCommands } from '../server/src/cli/tasks-command.ts';
import { tokensCommands } from '../server/src/cli/tokens-command.ts';
import { usersCommands } from '../server/src/cli/users-command.ts';
import { spawnScript } from './helpers/child.ts';
import { runCli } from './helpers/cli.ts';
import { expectError } from './helpers/http-client.ts';
import { makeDataDir, startServer } from './helpers/server.ts';

const GROUPS = [keysCommands, usersCommands, tokensCommands, tasksCommands];
const COMMANDS: Command[] = [
  startCommand(() => Promise.resolve(0)),
  statusCommand,
  ...GROUPS.flatMap((group) => group.commands),
];

test('every command and group has a --help naming its usage and every flag', () => {
  for (const command of COMMANDS) {
    assert.equal(parseCommand(command, ['--help']), 'help', command.name);
    assert.equal(parseCommand(command, ['x', '-h', '--bogus']), 'help', command.name);
    const help = commandHelp(command);
    assert.ok(help.startsWith(`Usage: switchboard ${command.name}`), help);
    for (const flag of [...Object.keys(command.flags), 'help']) {
      assert.ok(help.includes(`--${flag}`), `${command.name} --help mentions --${flag}`);
    }
  }
  for (const group of GROUPS) {
    const help = groupHelp(group);
    for (const command of group.commands) assert.ok(help.includes(command.name), command.name);
  }
});

test('the CLI prints --help for commands and subcommands with exit 0', async (t) => {
  // One of each kind (the test above covers every command's text in-process).
  const cases: Array<[args: string[], usage: RegExp]> = [
    [['--help'], /^switchboard — /],
    [['help', 'tokens', 'create'], /^Usage: switchboard tokens create <name>/],
    [['keys', '--help'], /^Usage: switchboard keys <command>/],
    [['status', '-h'], /^Usage: switchboard status \[--url URL\] \[--token T\] \[--json\]/],
  ];
  const runs = await Promise.all(cases.map(([args]) => runCli(t, null, args)));
  runs.forEach((run, index) => {
    const [args, usage] = cases[index]!;
    assert.equal(run.code, 0, `${args.join(' ')}: ${run.err}`);
    assert.match(run.out, usage, args.join(' '));
  });
});

test('unknown commands and flags, missing arguments and bad values exit 2 with a clear message', async (t) => {
  const cases: Array<[args: string[], message: RegExp, env?: Record<string, string>]> = [
    [[], /Which command\?/],
    [['keys', 'bogus'], /Unknown keys command "bogus"/],
    [['keys', 'create', 'x', '--bogus'], /Unknown option '--bogus'/],
    [
      ['start'],
      /SWITCHBOARD_PORT must be an integer from 0 to 65535, got "70000"/,
      { SWITCHBOARD_PORT: '70000' },
    ],
    [['status'], /status needs an admin token/, { SWITCHBOARD_ADMIN_TOKEN: '' }],
  ];
  const runs = await Promise.all(
    cases.map(([args, , env]) => runCli(t, null, args, { env: env ?? {} })),
  );
  runs.forEach((run, index) => {
    const [args, message] = cases[index]!;
    assert.equal(run.code, 2, `${args.join(' ')}: ${run.out}${run.err}`);
    assert.match(run.err, message, args.join(' '));
    assert.match(run.err, /Run "switchboard.* --help" for usage\./);
  });
});

test('every command refuses unknown flags, wrong argument counts and bad values as usage errors', async () => {
  const command = (name: string) => COMMANDS.find((candidate) => candidate.name === name)!;
  const usage = (name: string, argv: string[], message: RegExp, env: NodeJS.ProcessEnv = {}) => {
    const run = async () => {
      const parsed = parseCommand(command(name), argv);
      assert.notEqual(parsed, 'help');
      if (name === 'start') startConfig(parsed as Parsed, env);
      else await command(name).run(parsed as Parsed);
    };
    return assert.rejects(run, (error: unknown) => {
      assert.ok(error instanceof UsageError, String(error));
      assert.match(error.message, message);
      assert.equal(error.command, name);
      return true;
    });
  };
  for (const name of COMMANDS.map((c) => c.name)) {
    await usage(name, ['--bogus'], /Unknown option '--bogus'/);
  }
  await usage('keys create', [], /keys create needs <name>/);
  await usage('keys create', ['x', '--kind', 'root'], /--kind must be server or client/);
  await usage('keys create', ['x', '--kind'], /argument missing/);
  await usage('keys list', ['extra'], /Unexpected argument "extra"/);
  await usage('tokens create', [], /tokens create needs <name>/);
  await usage('users add', ['a@b.c', 'd@e.f'], /Unexpected argument "d@e.f"/);
  await usage('start', ['--port', 'abc'], /--port must be an integer from 0 to 65535, got "abc"/);
  await usage('start', ['--max-body-bytes', '0'], /--max-body-bytes must be a positive integer/);
  await usage('start', ['--log-level', 'loud'], /--log-level must be one of fatal, error/);
  await usage('start', ['--public-origin', 'ftp://x'], /publicOrigin must be http or https/);
  await usage('start', ['--call-timeout-ms', '7200000'], /callTimeoutMs must not exceed/);
  await usage('start', [], /SWITCHBOARD_MAX_FRAME_BYTES must be a positive integer/, {
    SWITCHBOARD_MAX_FRAME_BYTES: '1e6',
  });
  await usage('status', ['--url', 'x', '--token', 't'], /--url must be an http\(s\) URL/);
});

test('start options: flags win over SWITCHBOARD_* variables, which win over defaults', () => {
  const env = {
    SWITCHBOARD_PORT: '4000',
    SWITCHBOARD_HOST: '127.0.0.1',
    SWITCHBOARD_MAX_BODY_BYTES: '1024',
    SWITCHBOARD_CALL_TIMEOUT_MS: '5000',
    SWITCHBOARD_LOG_LEVEL: 'warn',
    SWITCHBOARD_PUBLIC_ORIGIN: 'https://api.example.com',
  };
  const parsed = parseCommand(
    startCommand(() => Promise.resolve(0)),
    ['--port', '0', '--max-body-bytes', '4096', '--log-level', 'info'],
  );
  assert.notEqual(parsed, 'help');
  const config = startConfig(parsed as Exclude<typeof parsed, 'help'>, env);
  assert.deepEqual(config, {
    options: {
      host: '127.0.0.1',
      port: 0,
      publicOrigin: 'https://api.example.com',
      maxBodyBytes: 4096,
      callTimeoutMs: 5000,
    },
    logLevel: 'info',
  });
  assert.throws(
    () => startConfig({ values: {}, positionals: [] }, { SWITCHBOARD_CALL_TIMEOUT_MS: '1.5' }),
    (error: unknown) =>
      error instanceof UsageError && /SWITCHBOARD_CALL_TIMEOUT_MS must be/.test(error.message),
  );
});

test('start reads its limits from flags and the environment (real process, real requests)', async (t) => {
  const dataDir = await makeDataDir(t);
  const spawnStart = (args: string[], env: Record<string, string>) =>
    spawnScript(t, 'server/src/cli/main.ts', env, ['start', '--data-dir', dataDir, ...args]);
  const urlOf = async (child: ReturnType<typeof spawnStart>) =>
    (await child.waitFor(/^Switchboard listening on /)).replace('Switchboard listening on ', '');
  // Bodies are read only for callers allowed to call the name: a server key may call any.
  const created = await runCli(t, dataDir, ['keys', 'create', 'limits', '--kind', 'server']);
  const key = /sbk_s_\S+/.exec(created.out)?.[0] ?? assert.fail(created.out + created.err);

  // The flags win: port 0 (not the env's unusable port 1), 4096 bytes (not the env's 1024).
  const flagged = spawnStart(['--port', '0', '--max-body-bytes', '4096'], {
    SWITCHBOARD_PORT: '1',
    SWITCHBOARD_MAX_BODY_BYTES: '1024',
  });
  // Only the environment: 1024 bytes, and logs at level info (pino JSON lines on stdout).
  const fromEnv = spawnStart([], {
    SWITCHBOARD_PORT: '0',
    SWITCHBOARD_MAX_BODY_BYTES: '1024',
    SWITCHBOARD_LOG_LEVEL: 'info',
  });
  const [flaggedUrl, envUrl] = await Promise.all([urlOf(flagged), urlOf(fromEnv)]);
  const post = (url: string, bytes: number) =>
    fetch(`${url}/_/call/echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify(['x'.repeat(bytes)]),
    });
  assert.notEqual((await post(flaggedUrl, 2000)).status, 413);
  await expectError(await post(flaggedUrl, 5000), 413, 'SB_ERR_HTTP_BODY_TOO_LARGE');
  await expectError(await post(envUrl, 2000), 413, 'SB_ERR_HTTP_BODY_TOO_LARGE');
  await fromEnv.waitFor(/"level":30.*"msg":"Server listening at/);
  assert.ok(!flagged.lines.some((line) => line.startsWith('{')), 'no log without a level');

  flagged.process.kill('SIGTERM');
  fromEnv.process.kill('SIGTERM');
  assert.equal((await flagged.exited).code, 0);
  assert.equal((await fromEnv.exited).code, 0);
});

test('tokens create, list and revoke in a data folder; the token opens the admin API of a server on it', async (t) => {
  const dataDir = await makeDataDir(t);
  const run = (args: string[]) => runCli(t, dataDir, args);

  const created = await run(['tokens', 'create', 'ops']);
  assert.equal(created.code, 0, created.err);
  const token = /^(sbt_\S+)$/m.exec(created.out)?.[1];
  assert.ok(token, created.out);
  const listed = await run(['tokens', 'list']);
  assert.equal(listed.code, 0, listed.err);
  assert.match(listed.out, /^id\s+name\s+created\s+last used\s+state$/m);
  assert.match(listed.out, /^\S+\s+ops\s+\d{4}-\S+Z\s+never\s+active$/m);
  assert.ok(!listed.out.includes(token), 'list never shows a token');

  const { url } = await startServer(t, { dataDir });
  const keys = `${url}/_/admin/api/v1/keys/`;
  const withToken = { headers: { authorization: `Token ${token}` } };
  assert.equal((await fetch(keys, withToken)).status, 200);
  assert.match((await run(['tokens', 'list'])).out, /^\S+\s+ops\s+\S+Z\s+\d{4}-\S+Z\s+active$/m);

  const revoked = await run(['tokens', 'revoke', 'ops']);
  assert.equal(revoked.code, 0, revoked.err);
  await expectError(await fetch(keys, withToken), 401, 'SB_ERR_ADMIN_TOKEN_INVALID');
  assert.match((await run(['tokens', 'list'])).out, /\s+ops\s+.*revoked \d{4}-\S+Z$/m);
  const again = await run(['tokens', 'revoke', 'ops']);
  assert.equal(again.code, 1);
  assert.match(again.err, /SB_ERR_NO_SUCH_ADMIN_TOKEN/);
});

test('admin tokens: hashed at rest, names unique among active tokens, coded errors', async (t) => {
  const db = openDatabase(await makeDataDir(t));
  t.after(() => db.close());
  const tokens = new AdminTokenStore(db);
  const { token, record } = tokens.create('  ops  ');
  assert.equal(record.name, 'ops');
  assert.match(token, /^sbt_[A-Za-z0-9_-]{43}$/);
  const stored = db.prepare('SELECT * FROM admin_tokens').all() as Array<{ hash: string }>;
  assert.equal(stored.length, 1);
  assert.ok(!JSON.stringify(stored).includes(token.slice(4)), 'only a hash is stored');
  assert.equal(tokens.verify(token)?.id, record.id);
  assert.ok(tokens.verify(token)!.lastUsedAt !== null, 'use is recorded');
  assert.equal(tokens.verify(`${token}x`), undefined);
  assert.throws(() => tokens.create('ops'), { code: 'SB_ERR_ADMIN_TOKEN_EXISTS' });
  for (const bad of ['', '   ', 'a\u0000b', 'x'.repeat(201)]) {
    assert.throws(() => tokens.create(bad), { code: 'SB_ERR_ADMIN_BAD_REQUEST' });
  }
  tokens.revoke(record.id);
  assert.equal(tokens.verify(token), undefined);
  assert.throws(() => tokens.revoke('ops'), { code: 'SB_ERR_NO_SUCH_ADMIN_TOKEN' });
  const again = tokens.create('ops'); // the name is free once revoked
  assert.notEqual(again.record.id, record.id);
  assert.deepEqual(
    tokens.list().map((t) => [t.name, t.revokedAt === null]),
    [
      ['ops', false],
      ['ops', true],
    ],
  );
});

test('keys revoke of an unknown key exits 1 with SB_ERR_NO_SUCH_KEY', async (t) => {
  const dataDir = await makeDataDir(t);
  const missing = await runCli(t, dataDir, ['keys', 'revoke', 'nobody']);
  assert.equal(missing.code, 1);
  assert.match(missing.err, /SB_ERR_NO_SUCH_KEY/);
});
