import { SwitchboardError } from '../errors/switchboard-error.ts';
import type { HttpRequest } from '../http/http-request.ts';
import { HttpResponse } from '../http/http-response.ts';
import type { EndpointHandler } from '../calls/invoke.ts';
import { endpointShape, type EndpointOptions } from '../protocol/endpoint-path.ts';
import type { HttpMethod } from '../protocol/registrations.ts';
import {
  badQuery,
  created,
  envelope,
  listQueryOf,
  missingFields,
  noContent,
  notFound,
} from './resource-request.ts';
import { RESOURCE_ERROR_SCHEMA, resourceSchemas } from './resource-schemas.ts';
import {
  DEFAULT_MAX_RESULTS_PER_PAGE,
  DEFAULT_RESULTS_PER_PAGE,
  RESOURCE_HANDLERS,
  type ResourceHandlers,
  type ResourceOptions,
} from './resource-types.ts';

/** One endpoint of a resource, as `httpEndpoint(path, options, handler)` takes it. */
export interface ResourceEndpoint {
  path: string;
  options: EndpointOptions;
  handler: EndpointHandler;
}

/**
 * The one or two endpoints of a resource: `path` (GET list, POST create) and `path/:id` (GET,
 * PUT, PATCH, DELETE), each with the methods its handlers serve, so the door answers any other
 * method with 405 and `Allow`, and with the schemas that make the door check bodies and query
 * before anything reaches the handler. Throws SB_ERR_OPTIONS_INVALID (or
 * SB_ERR_ENDPOINT_PATH_INVALID) for bad arguments.
 */
export function resourceEndpoints<T extends object>(
  path: string,
  handlers: ResourceHandlers<T>,
  options: ResourceOptions = {},
): ResourceEndpoint[] {
  endpointShape(path);
  if (path === '/') throw invalid('a resource path cannot be / (its items would be /:id)');
  checkHandlers(handlers);
  const {
    item,
    idField = 'id',
    resultsPerPage = DEFAULT_RESULTS_PER_PAGE,
    maxResultsPerPage = DEFAULT_MAX_RESULTS_PER_PAGE,
    name = path.split('/').pop()!,
    ...endpoint
  } = options;
  if (!isCount(maxResultsPerPage)) throw invalid('maxResultsPerPage must be a positive integer');
  if (!isCount(resultsPerPage) || resultsPerPage > maxResultsPerPage)
    throw invalid('resultsPerPage must be a positive integer, at most maxResultsPerPage');
  if (typeof idField !== 'string' || idField === '') throw invalid('idField must be a field name');
  const schemas = resourceSchemas(item, { default: resultsPerPage, max: maxResultsPerPage });
  const { list, get, create, update, remove } = handlers;
  const endpoints: ResourceEndpoint[] = [];

  const collection: HttpMethod[] = [];
  if (list !== undefined) collection.push('GET');
  if (create !== undefined) collection.push('POST');
  if (collection.length > 0) {
    endpoints.push({
      path,
      options: {
        ...endpoint,
        methods: collection,
        summary: `${capitalised(name)}: ${list && create ? 'list or create' : list ? 'list' : 'create'}`,
        schema: {
          ...(list === undefined ? {} : { query: schemas.listQuery }),
          ...(create === undefined ? {} : { body: schemas.full }),
          response: {
            ...(list === undefined ? {} : { '200': schemas.envelope }),
            ...(create === undefined ? {} : { '201': schemas.item }),
          },
        },
      },
      handler: async (request: HttpRequest) => {
        // The door lets through only the methods listed: POST means create, GET list.
        if (request.method === 'POST') {
          const value = await create!(bodyOf(request) as Partial<T>, request);
          return value instanceof HttpResponse ? value : created(request, value, idField);
        }
        const query = listQueryOf(request, schemas.fields, resultsPerPage, maxResultsPerPage);
        if (!query.ok) return badQuery(query.issue);
        const result = await list!(query.value, request);
        return result instanceof HttpResponse ? result : envelope(result, query.value);
      },
    });
  }

  const single: HttpMethod[] = [];
  if (get !== undefined) single.push('GET');
  if (update !== undefined) single.push('PUT', 'PATCH');
  if (remove !== undefined) single.push('DELETE');
  if (single.length > 0) {
    endpoints.push({
      path: `${path}/:id`,
      options: {
        ...endpoint,
        methods: single,
        summary: `${capitalised(name)}: one item by id`,
        ...describeUpdate(
          endpoint.description,
          update === undefined ? undefined : schemas.required,
        ),
        schema: {
          ...(update === undefined ? {} : { body: schemas.partial }),
          response: {
            ...(get === undefined && update === undefined ? {} : { '200': schemas.item }),
            '404': RESOURCE_ERROR_SCHEMA,
          },
        },
      },
      handler: async (request: HttpRequest) => {
        const id = request.params.id ?? '';
        let value: unknown;
        switch (request.method) {
          case 'PUT':
          case 'PATCH': {
            const body = bodyOf(request);
            if (request.method === 'PUT') {
              const missing = missingFields(body, schemas.required);
              if (missing !== undefined) return missing;
            }
            value = await update!(id, body as Partial<T>, request);
            break;
          }
          case 'DELETE':
            value = await remove!(id, request);
            if (value instanceof HttpResponse) return value;
            return value === undefined || value === false ? notFound(request, id) : noContent();
          default:
            value = await get!(id, request);
        }
        if (value instanceof HttpResponse) return value;
        return value === undefined ? notFound(request, id) : value;
      },
    });
  }
  return endpoints;
}

/**
 * Registers a resource's endpoints with `register` (an uplink's or the server's
 * `httpEndpoint`), all or none; returns a function that withdraws them all.
 */
export function registerResource<T extends object>(
  register: (path: string, options: EndpointOptions, handler: EndpointHandler) => () => void,
  path: string,
  handlers: ResourceHandlers<T>,
  options?: ResourceOptions,
): () => void {
  const withdraws: Array<() => void> = [];
  const withdrawAll = () => {
    for (const withdraw of withdraws.splice(0).reverse()) withdraw();
  };
  try {
    for (const endpoint of resourceEndpoints(path, handlers, options))
      withdraws.push(register(endpoint.path, endpoint.options, endpoint.handler));
  } catch (error) {
    withdrawAll();
    throw error;
  }
  return withdrawAll;
}

/**
 * The door keeps one body schema per path (PATCH's, nothing required), so the document says in
 * words what PUT needs besides; after the resource's own description, if any.
 */
function describeUpdate(
  description: string | undefined,
  required: readonly string[] | undefined,
): { description?: string } {
  if (required === undefined) return description === undefined ? {} : { description };
  const put =
    required.length === 0
      ? 'PUT replaces the item; PATCH changes the fields it sends.'
      : `PUT replaces the item and must send ${required.join(', ')}; PATCH changes the fields it sends.`;
  return { description: description === undefined ? put : `${description}\n\n${put}` };
}

/** The JSON body, already checked against the schema by the door. */
function bodyOf(request: HttpRequest): Record<string, unknown> {
  const body = request.json;
  return typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
}

function checkHandlers(handlers: unknown): void {
  if (typeof handlers !== 'object' || handlers === null)
    throw invalid('resource handlers must be an object { list, get, create, update, remove }');
  let count = 0;
  for (const [key, value] of Object.entries(handlers)) {
    if (value === undefined) continue;
    if (!(RESOURCE_HANDLERS as readonly string[]).includes(key))
      throw invalid(
        `unknown resource handler ${JSON.stringify(key)}; use ${RESOURCE_HANDLERS.join(', ')}`,
      );
    if (typeof value !== 'function') throw invalid(`resource handler ${key} must be a function`);
    count++;
  }
  if (count === 0) throw invalid('a resource needs at least one handler');
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value > 0;
}

function capitalised(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function invalid(message: string): SwitchboardError {
  return new SwitchboardError('SB_ERR_OPTIONS_INVALID', message);
}
