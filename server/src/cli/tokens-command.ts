import { AdminTokenStore } from '../store/admin-token-store.ts';
import { DATA_DIR_FLAG, type CommandGroup } from './command.ts';
import { withDatabase } from './data-folder.ts';
import { tokenTable } from './table.ts';

const out = (text: string) => process.stdout.write(text);

/** `switchboard tokens create|list|revoke`: admin API tokens, against the data folder. */
export const tokensCommands: CommandGroup = {
  name: 'tokens',
  summary:
    'Manage admin API tokens (Authorization: Token <token> on /_/admin/api/v1/), stored as SHA-256 hashes.',
  commands: [
    {
      name: 'tokens create',
      summary: 'Create an admin token and print it once.',
      args: '<name>',
      arity: [1, 1],
      flags: { 'data-dir': DATA_DIR_FLAG },
      run: ({ values, positionals }) =>
        withDatabase(values['data-dir'], (db) => {
          const { record, token } = new AdminTokenStore(db).create(positionals[0]!);
          out(`Created admin token "${record.name}" (id ${record.id}). Shown once:\n${token}\n`);
          return 0;
        }),
    },
    {
      name: 'tokens list',
      summary: 'List admin tokens: id, name, created, last used, state (never the tokens).',
      args: '',
      arity: [0, 0],
      flags: { 'data-dir': DATA_DIR_FLAG },
      run: ({ values }) =>
        withDatabase(values['data-dir'], (db) => {
          out(tokenTable(new AdminTokenStore(db).list()));
          return 0;
        }),
    },
    {
      name: 'tokens revoke',
      summary: 'Revoke an admin token by id or name; the API refuses it from the next request.',
      args: '<id-or-name>',
      arity: [1, 1],
      flags: { 'data-dir': DATA_DIR_FLAG },
      run: ({ values, positionals }) =>
        withDatabase(values['data-dir'], (db) => {
          const revoked = new AdminTokenStore(db).revoke(positionals[0]!);
          out(`Revoked admin token "${revoked.name}" (${revoked.id})\n`);
          return 0;
        }),
    },
  ],
};
