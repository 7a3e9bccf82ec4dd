import { SwitchboardError } from '@switchboard/shared';
import { KeyStore } from '../store/key-store.ts';
import { DATA_DIR_FLAG, UsageError, type CommandGroup } from './command.ts';
import { withDatabase } from './data-folder.ts';

const out = (text: string) => process.stdout.write(text);

/** `switchboard keys create|list|revoke`, against the data folder. */
export const keysCommands: CommandGroup = {
  name: 'keys',
  summary: 'Manage uplink keys in the data folder (stored as SHA-256 hashes).',
  commands: [
    {
      name: 'keys create',
      summary: 'Create a key and print its secret once.',
      args: '<name>',
      arity: [1, 1],
      flags: {
        kind: {
          type: 'string',
          placeholder: 'server|client',
          description:
            'server keys register and call anything; client keys call allowClients functions (default server)',
        },
        'data-dir': DATA_DIR_FLAG,
      },
      run: ({ values, positionals }) => {
        const kind = (values.kind ?? 'server') as string;
        if (kind !== 'server' && kind !== 'client') {
          throw new UsageError(
            `--kind must be server or client, got ${JSON.stringify(kind)}`,
            'keys create',
          );
        }
        const name = positionals[0]!;
        return withDatabase(values['data-dir'], (db) => {
          const created = new KeyStore(db).create(name, kind);
          out(
            `Created ${kind} key "${name}" (id ${created.record.id}). Shown once:\n${created.key}\n`,
          );
          return 0;
        });
      },
    },
    {
      name: 'keys list',
      summary: 'List keys: id, name, kind, created, active or revoked (never the secrets).',
      args: '',
      arity: [0, 0],
      flags: { 'data-dir': DATA_DIR_FLAG },
      run: ({ values }) =>
        withDatabase(values['data-dir'], (db) => {
          for (const key of new KeyStore(db).list()) {
            const state =
              key.revokedAt === null
                ? 'active'
                : `revoked ${new Date(key.revokedAt).toISOString()}`;
            out(
              `${key.id}\t${key.name}\t${key.kind}\t${new Date(key.createdAt).toISOString()}\t${state}\n`,
            );
          }
          return 0;
        }),
    },
    {
      name: 'keys revoke',
      summary: 'Revoke a key by id or name; it can no longer connect.',
      details:
        'A running server on the same data folder closes the uplinks connected with it within one\n' +
        'ping interval (15 s by default); revoking through the admin API closes them at once.',
      args: '<id-or-name>',
      arity: [1, 1],
      flags: { 'data-dir': DATA_DIR_FLAG },
      run: ({ values, positionals }) =>
        withDatabase(values['data-dir'], (db) => {
          const revoked = new KeyStore(db).revoke(positionals[0]!);
          if (revoked === undefined) {
            throw new SwitchboardError(
              'SB_ERR_NO_SUCH_KEY',
              `No active key with id or name ${JSON.stringify(positionals[0])}`,
            );
          }
          out(`Revoked key "${revoked.name}" (${revoked.id})\n`);
          return 0;
        }),
    },
  ],
};
