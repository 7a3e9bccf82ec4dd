import type Database from 'better-sqlite3';
import { UserStore } from '../store/user-store.ts';
import { UserTokenStore } from '../store/user-token-store.ts';
import { DATA_DIR_FLAG, type CommandGroup } from './command.ts';
import { withDatabase } from './data-folder.ts';
import { tokenTable } from './table.ts';

const out = (text: string) => process.stdout.write(text);

/** Only `find` is used: no password rule to read. */
function tokenStore(db: Database.Database): UserTokenStore {
  return new UserTokenStore(db, new UserStore(db));
}

/** `switchboard users tokens create|list|revoke`: users' API tokens, against the data folder. */
export const userTokensCommands: CommandGroup = {
  name: 'users tokens',
  summary:
    "Manage users' API tokens (Authorization: Token <token> on endpoints with authenticateUsers), stored as SHA-256 hashes.",
  commands: [
    {
      name: 'users tokens create',
      summary: 'Create an API token for a user and print it once.',
      args: '<email>',
      arity: [1, 1],
      flags: {
        name: {
          type: 'string',
          placeholder: 'NAME',
          description: 'what the token is for, shown by list (default "api")',
        },
        'data-dir': DATA_DIR_FLAG,
      },
      run: ({ values, positionals }) =>
        withDatabase(values['data-dir'], (db) => {
          const name = typeof values.name === 'string' ? values.name : undefined;
          const email = positionals[0]!;
          const created = tokenStore(db).create(email, name);
          out(
            `Created API token "${created.name}" (id ${created.id}) for ${email}. Shown once:\n${created.token}\n`,
          );
          return 0;
        }),
    },
    {
      name: 'users tokens list',
      summary: "List a user's API tokens: id, name, created, last used, state (never the tokens).",
      args: '<email>',
      arity: [1, 1],
      flags: { 'data-dir': DATA_DIR_FLAG },
      run: ({ values, positionals }) =>
        withDatabase(values['data-dir'], (db) => {
          out(tokenTable(tokenStore(db).list(positionals[0]!)));
          return 0;
        }),
    },
    {
      name: 'users tokens revoke',
      summary: "Revoke a user's API token by id; it is refused from the next request.",
      args: '<email> <token-id>',
      arity: [2, 2],
      flags: { 'data-dir': DATA_DIR_FLAG },
      run: ({ values, positionals }) =>
        withDatabase(values['data-dir'], (db) => {
          const [email, id] = positionals as [string, string];
          const revoked = tokenStore(db).revoke(email, id);
          out(`Revoked API token "${revoked.name}" (${revoked.id}) of ${email}\n`);
          return 0;
        }),
    },
  ],
};
