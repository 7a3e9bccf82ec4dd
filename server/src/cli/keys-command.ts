import { SwitchboardError } from '@switchboard/shared';
import { describeScope } from '../store/key-scope.ts';
import { KeyStore } from '../store/key-store.ts';
import { DATA_DIR_FLAG, UsageError, type CommandGroup } from './command.ts';
import { withDatabase } from './data-folder.ts';
import { isoOr, table } from './table.ts';

const out = (text: string) => process.stdout.write(text);

/** `switchboard keys create|list|revoke`, against the data folder. */
export const keysCommands: CommandGroup = {
  name: 'keys',
  summary: 'Manage uplink keys in the data folder (stored as SHA-256 hashes).',
  commands: [
    {
      name: 'keys create',
      summary: 'Create a key and print its secret once.',
      details:
        'Names are unique among active keys. A server key without --functions or --endpoints may\n' +
        'register any function and endpoint; with either it is scoped: it may register only what\n' +
        'its patterns allow (exact names, or prefixes ending in *), and nothing of a kind whose\n' +
        "flag is left out. Example: --functions 'gpu.*,ocr' --endpoints '/gpu/*,/status'.",
      args: '<name>',
      arity: [1, 1],
      flags: {
        kind: {
          type: 'string',
          placeholder: 'server|client',
          description:
            'server keys register and call; client keys call allowClients functions (default server)',
        },
        functions: {
          type: 'string',
          placeholder: 'PATTERNS',
          description: 'function names a server key may register, comma-separated (gpu.*,ocr)',
        },
        endpoints: {
          type: 'string',
          placeholder: 'PATTERNS',
          description: 'endpoint paths a server key may register, comma-separated (/gpu/*,/status)',
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
        const scope = {
          functions: values.functions as string | undefined,
          endpoints: values.endpoints as string | undefined,
        };
        const name = positionals[0]!;
        return withDatabase(values['data-dir'], (db) => {
          const created = new KeyStore(db).create(name, kind, scope);
          out(
            `Created ${kind} key "${created.record.name}" (id ${created.record.id}, may register: ${describeScope(created.record.scope)}). Shown once:\n${created.key}\n`,
          );
          return 0;
        });
      },
    },
    {
      name: 'keys list',
      summary: 'List keys: id, name, kind, scope, created, state (never the secrets).',
      details:
        'scope "all" marks an unscoped server key, which may register any function or endpoint.',
      args: '',
      arity: [0, 0],
      flags: { 'data-dir': DATA_DIR_FLAG },
      run: ({ values }) =>
        withDatabase(values['data-dir'], (db) => {
          const rows = new KeyStore(db)
            .list()
            .map((key) => [
              key.id,
              key.name,
              key.kind,
              key.kind === 'client' ? '-' : describeScope(key.scope),
              isoOr(key.createdAt, ''),
              key.revokedAt === null ? 'active' : `revoked ${isoOr(key.revokedAt, '')}`,
            ]);
          out(table([['id', 'name', 'kind', 'scope', 'created', 'state'], ...rows]));
          return 0;
        }),
    },
    {
      name: 'keys revoke',
      summary: 'Revoke a key by id or name; it can no longer connect.',
      details:
        'A running server on the same data folder closes the uplinks connected with it within one\n' +
        'ping interval (15 s by default); revoking through the admin API closes them at once.\n' +
        'When several active keys share the name (data folders from before names were unique),\n' +
        'nothing is revoked and the ids are listed (SB_ERR_KEY_AMBIGUOUS): revoke by id.',
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
