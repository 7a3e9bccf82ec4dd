import type { JsonSchema } from '@switchboard/shared';
import type { PublishedFunction } from '../http/functions-routes.ts';
import { BASIC_AUTH, BEARER_AUTH, USER_TOKEN, type Components } from './openapi-document.ts';

type Json = Record<string, unknown>;

/**
 * A function as an OpenAPI path item: `POST /_/call/<name>` whose request body is the JSON array
 * of arguments (its schema from `args`: one schema per argument becomes `prefixItems` with the
 * count fixed, one schema is the array's own), whose `200` is the result (`returns`, else any
 * JSON), with the door's error body for `400` (arguments checked), `404` and any other status.
 * Functions only server keys may call ask for a Bearer key; those needing a user, for Basic or a
 * user API token.
 */
export function functionPathItem(published: PublishedFunction, components: Components): Json {
  const { name, args, returns } = published;
  const base = `call.${name}`;
  const operation: Json = {
    operationId: base,
    summary: `Call ${name}`,
    requestBody: {
      required: args !== undefined,
      content: { 'application/json': { schema: argsSchema(args, base, components) } },
    },
  };
  const result = returns === undefined ? {} : components.place(returns, `${base}.returns`).schema;
  const responses: Json = {
    '200': {
      description: "The function's result",
      content: { 'application/json': { schema: result } },
    },
  };
  if (args !== undefined)
    responses['400'] = components.errorResponse('The arguments do not match the schema');
  responses['404'] = components.errorResponse('No function by that name this caller may call');
  responses.default = components.errorResponse('The call failed (docs/errors.md)');
  operation.responses = responses;
  if (!published.allowClients) {
    operation.security = [{ [BEARER_AUTH]: [] }];
    components.useBearerAuth();
  } else if (published.requireUser !== undefined) {
    operation.security = [{ [BASIC_AUTH]: [] }, { [USER_TOKEN]: [] }];
    components.useBasicAuth();
    components.useUserToken();
  }
  return { post: operation };
}

function argsSchema(
  args: JsonSchema[] | JsonSchema | undefined,
  base: string,
  components: Components,
): unknown {
  if (args === undefined) return { type: 'array' };
  if (!Array.isArray(args)) return components.place(args, `${base}.args`).schema;
  return {
    type: 'array',
    prefixItems: args.map(
      (schema, index) => components.place(schema, `${base}.args.${index}`).schema,
    ),
    minItems: args.length,
    maxItems: args.length,
  };
}
