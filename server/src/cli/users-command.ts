import type Database from 'better-sqlite3';
import { SwitchboardError } from '@switchboard/shared';
import { resolveOptions } from '../options.ts';
import { UserStore, type PublicUser } from '../store/user-store.ts';
import { DATA_DIR_FLAG, type Command, type CommandGroup, type FlagSpec } from './command.ts';
import { withDatabase } from './data-folder.ts';
import { readPassword } from './read-password.ts';
import { isoOr, table } from './table.ts';
import { userTokensCommands } from './user-tokens-command.ts';

const out = (text: string) => process.stdout.write(text);

const PASSWORD_FLAG: FlagSpec = {
  type: 'string',
  placeholder: 'P',
  description: 'the password (visible in the process list; without it, read from stdin)',
};

const STDIN_NOTE =
  'Without --password the password is read from stdin (one line; no echo on a terminal), which\n' +
  'keeps it out of the shell history and the process list. A password has at least 8\n' +
  'characters (SWITCHBOARD_MIN_PASSWORD_LENGTH, as the server reads it, changes that).';

/** A users command naming one user by login name. */
function userCommand(
  name: string,
  summary: string,
  run: (store: UserStore, email: string) => string | Promise<string>,
): Command {
  return {
    name: `users ${name}`,
    summary,
    args: '<email>',
    arity: [1, 1],
    flags: { 'data-dir': DATA_DIR_FLAG },
    run: ({ values, positionals }) =>
      withDatabase(values['data-dir'], async (db) => {
        out(await run(userStore(db), positionals[0]!));
        return 0;
      }),
  };
}

/**
 * `switchboard users add|list|passwd|enable|disable|remove` and `users tokens …`, against the
 * data folder.
 */
export const usersCommands: CommandGroup = {
  name: 'users',
  summary: 'Manage users who sign in with a login name and password (scrypt hashes).',
  groups: [userTokensCommands],
  commands: [
    {
      name: 'users add',
      summary: 'Create a user.',
      details: STDIN_NOTE,
      args: '<email>',
      arity: [1, 1],
      flags: {
        password: PASSWORD_FLAG,
        disabled: { type: 'boolean', description: 'create the user disabled' },
        data: {
          type: 'string',
          placeholder: 'JSON',
          description: 'a JSON object kept with the user',
        },
        'data-dir': DATA_DIR_FLAG,
      },
      run: ({ values, positionals }) =>
        withDatabase(values['data-dir'], async (db) => {
          const email = positionals[0]!;
          const data = values.data;
          const user = await userStore(db).create({
            email,
            password: stringOr(values.password) ?? (await readPassword(`Password for ${email}: `)),
            enabled: values.disabled !== true,
            ...(typeof data === 'string' ? { data: parseData(data) } : {}),
          });
          out(`Created user ${user.email} (id ${user.id}${user.enabled ? '' : ', disabled'})\n`);
          return 0;
        }),
    },
    {
      name: 'users list',
      summary: 'List users: id, email, enabled, created, last login (never the hashes).',
      args: '',
      arity: [0, 0],
      flags: { 'data-dir': DATA_DIR_FLAG },
      run: ({ values }) =>
        withDatabase(values['data-dir'], (db) => {
          out(userTable(userStore(db).list()));
          return 0;
        }),
    },
    {
      name: 'users passwd',
      summary: "Change a user's password (signs them out of every session).",
      details: STDIN_NOTE,
      args: '<email>',
      arity: [1, 1],
      flags: { password: PASSWORD_FLAG, 'data-dir': DATA_DIR_FLAG },
      run: ({ values, positionals }) =>
        withDatabase(values['data-dir'], async (db) => {
          const email = positionals[0]!;
          const store = userStore(db);
          if (store.find(email) === undefined) throw noSuchUser(email); // before asking
          const password =
            stringOr(values.password) ?? (await readPassword(`New password for ${email}: `));
          const user = await store.update(email, { password });
          out(`Changed the password of ${user.email}\n`);
          return 0;
        }),
    },
    userCommand('enable', 'Let a user sign in again.', async (store, email) => {
      const user = await store.update(email, { enabled: true });
      return `Enabled ${user.email}\n`;
    }),
    userCommand(
      'disable',
      'Refuse sign-ins of a user (kept, not removed).',
      async (store, email) => {
        const user = await store.update(email, { enabled: false });
        return `Disabled ${user.email}\n`;
      },
    ),
    userCommand('remove', 'Delete a user.', (store, email) => {
      if (!store.remove(email)) throw noSuchUser(email);
      return `Removed user ${email}\n`;
    }),
  ],
};

/**
 * The store with the server's password rule: SWITCHBOARD_MIN_PASSWORD_LENGTH if set (validated
 * as the server does; no other variable is read), else the default 8.
 */
function userStore(db: Database.Database): UserStore {
  const env = { SWITCHBOARD_MIN_PASSWORD_LENGTH: process.env.SWITCHBOARD_MIN_PASSWORD_LENGTH };
  return new UserStore(db, resolveOptions({}, env).minPasswordLength);
}

function stringOr(value: string | boolean | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function parseData(json: string): Record<string, unknown> {
  try {
    return JSON.parse(json) as Record<string, unknown>; // the store checks it is an object
  } catch {
    throw new SwitchboardError('SB_ERR_USER_INVALID', '--data must be a JSON object');
  }
}

function noSuchUser(email: string): SwitchboardError {
  return new SwitchboardError('SB_ERR_NO_SUCH_USER', `No user ${JSON.stringify(email)}`);
}

/** Aligned columns; never the password hash (the store does not hand it out). */
function userTable(list: PublicUser[]): string {
  return table([
    ['id', 'email', 'enabled', 'created', 'last login'],
    ...list.map((user) => [
      String(user.id),
      user.email,
      user.enabled ? 'yes' : 'no',
      isoOr(user.createdAt, ''),
      isoOr(user.lastLoginAt, 'never'),
    ]),
  ]);
}
