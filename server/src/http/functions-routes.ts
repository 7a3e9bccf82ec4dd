import {
  isReservedName,
  isTrustedCaller,
  type CallerInfo,
  type JsonSchema,
} from '@switchboard/shared';
import type { FastifyInstance } from 'fastify';
import type { FunctionRegistry } from '../catalog/registry.ts';
import { identifyCaller, type CallerDeps } from './admission.ts';
import { fromFastifyError, sendError } from './error-reply.ts';

/** Where the schemas of the functions a caller may call are served. */
export const FUNCTIONS_PATH = '/_/functions.json';

/** One function as `/_/functions.json` (and the OpenAPI document) publishes it. */
export interface PublishedFunction {
  name: string;
  /** As registered: one schema per argument, or one for the whole arguments array. */
  args?: JsonSchema[] | JsonSchema;
  returns?: JsonSchema;
  /** Client keys and HTTP callers without a server key may call it. */
  allowClients: boolean;
  /** Present when such callers need a signed-in user. */
  requireUser?: 'yes' | 'check';
}

/**
 * The live functions `caller` may call, by name: every one for a trusted caller (a server key),
 * those with `allowClients` for everyone else (the ones that also need a signed-in user are
 * listed with `requireUser`: they answer SB_ERR_AUTH_REQUIRED, not "no such function"). Built-in
 * `sb.` functions are never published.
 */
export function visibleFunctions(
  registry: FunctionRegistry,
  caller: CallerInfo,
): PublishedFunction[] {
  const trusted = isTrustedCaller(caller);
  return registry
    .names()
    .filter(({ name, meta }) => !isReservedName(name) && (trusted || meta.allowClients))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map(({ name, meta }) => {
      const published: PublishedFunction = { name, allowClients: meta.allowClients };
      if (meta.requireUser !== 'no') published.requireUser = meta.requireUser;
      if (meta.signature?.args !== undefined) published.args = meta.signature.args;
      if (meta.signature?.returns !== undefined) published.returns = meta.signature.returns;
      return published;
    });
}

/**
 * `GET /_/functions.json`: `{functions: [{name, args?, returns?, allowClients, requireUser?}]}`,
 * the functions the caller may call (see visibleFunctions), identified as `/_/call` identifies
 * it (Bearer key, Basic user, the session's user, or anonymous). What `switchboard types` reads.
 */
export function functionsRoutes(deps: CallerDeps & { registry: FunctionRegistry }) {
  return function routes(app: FastifyInstance, _opts: unknown, done: (err?: Error) => void): void {
    app.setErrorHandler((error, _request, reply) =>
      sendError(reply, fromFastifyError(error), deps.options.debug),
    );
    app.get(FUNCTIONS_PATH, async (request, reply) => {
      const caller = await identifyCaller(deps, request);
      const functions = visibleFunctions(deps.registry, caller);
      return reply
        .header('cache-control', 'no-cache')
        .header('vary', 'authorization, cookie')
        .type('application/json; charset=utf-8')
        .send(JSON.stringify({ functions }));
    });
    done();
  };
}
