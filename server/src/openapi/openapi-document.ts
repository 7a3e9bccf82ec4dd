import { STATUS_CODES } from 'node:http';
import type { EndpointDoc, HttpMethod, JsonSchema } from '@switchboard/shared';
import type { LiveEndpoint } from '../catalog/endpoint-table.ts';
import type { PublishedFunction } from '../http/functions-routes.ts';
import { functionPathItem } from './function-operations.ts';
import { taskPathItems } from './task-operations.ts';

/** `info` of the document (the `openapi` server option). */
export interface OpenApiInfo {
  title: string;
  version: string;
  description?: string;
}

/** Where endpoints are served; the document's paths include it. */
export interface OpenApiContext {
  info: OpenApiInfo;
  /** `/_/api`. */
  prefix: string;
  /** The configured public origin, published as the one server. */
  publicOrigin: string | undefined;
  /**
   * Describe `/_/tasks` as well (when there is a function to launch); `list`: the caller may
   * list every task (a server key).
   */
  tasks?: { list: boolean };
}

type Json = Record<string, unknown>;

export const BASIC_AUTH = 'basicAuth';
/** A server key (`Authorization: Bearer <key>`), for functions only server keys may call. */
export const BEARER_AUTH = 'bearerAuth';
/** `Authorization: Token <user API token>`, wherever a user may sign in (`authenticateUsers`). */
export const USER_TOKEN = 'userToken';
const ERROR_SCHEMA = 'SwitchboardError';
/** Methods whose operations carry the request body a body schema describes. */
const BODY_METHODS: ReadonlySet<HttpMethod> = new Set(['POST', 'PUT', 'PATCH']);
const PARAM = /:([A-Za-z_][A-Za-z0-9_]*)/g;

/**
 * An OpenAPI 3.1 document of the live endpoints: `/users/:id` becomes `<prefix>/users/{id}`
 * with a path parameter, each live method an operation with the endpoint's summary,
 * description and tags, query parameters and request body from its schemas, its response
 * schemas per status, and Basic auth where the endpoint asks for credentials. Schemas go in as
 * they were registered (OpenAPI 3.1 uses JSON Schema 2020-12); one with local `$ref`s is
 * placed under `components/schemas` with its references rewritten to point there.
 */
export function openApiDocument(
  endpoints: readonly LiveEndpoint[],
  context: OpenApiContext,
  functions: readonly PublishedFunction[] = [],
): Json {
  const components = new Components();
  const paths: Json = {};
  const sorted = [...endpoints].sort((a, b) => (a.pattern < b.pattern ? -1 : 1));
  const tags = new Set<string>();
  for (const endpoint of sorted) {
    const path = context.prefix + endpoint.pattern.replace(PARAM, '{$1}');
    paths[path] = pathItem(endpoint, components);
    for (const tag of endpoint.doc.tags ?? []) tags.add(tag);
  }
  // Functions the caller may call, as `POST /_/call/<name>` (function-operations.ts).
  for (const published of functions)
    paths[`/_/call/${published.name}`] = functionPathItem(published, components);
  // The same functions may be launched as background tasks (task-operations.ts).
  if (context.tasks !== undefined && functions.length > 0)
    Object.assign(paths, taskPathItems(components, context.tasks.list));
  const document: Json = { openapi: '3.1.0', info: { ...context.info } };
  if (context.publicOrigin !== undefined) document.servers = [{ url: context.publicOrigin }];
  if (tags.size > 0) document.tags = [...tags].sort().map((name) => ({ name }));
  document.paths = paths;
  document.components = components.toJson();
  return document;
}

function pathItem(endpoint: LiveEndpoint, components: Components): Json {
  const { doc, policy } = endpoint;
  const schema = doc.schema ?? {};
  const name = componentName(endpoint.pattern);
  const params =
    schema.params === undefined ? undefined : components.place(schema.params, `${name}.params`);
  const query =
    schema.query === undefined ? undefined : components.place(schema.query, `${name}.query`);
  const parameters: Json[] = [];
  for (const [, param] of endpoint.pattern.matchAll(PARAM)) {
    parameters.push({
      name: param!,
      in: 'path',
      required: true,
      schema: propertySchema(params, param!) ?? { type: 'string' },
    });
  }
  for (const [property, required] of propertiesOf(schema.query)) {
    parameters.push({
      name: property,
      in: 'query',
      required,
      schema: propertySchema(query, property) ?? {},
    });
  }
  const body =
    schema.body === undefined ? undefined : components.place(schema.body, `${name}.body`);
  const responses: Json = {};
  for (const [status, item] of Object.entries(schema.response ?? {})) {
    responses[status] = {
      description: statusText(status),
      content: {
        'application/json': { schema: components.place(item, `${name}.response.${status}`).schema },
      },
    };
  }
  if (Object.keys(responses).length === 0)
    responses.default = { description: "The handler's response" };
  const validates =
    schema.body !== undefined || schema.query !== undefined || schema.params !== undefined;
  if (validates)
    responses['400'] ??= components.errorResponse('The request does not match the schema');
  const signIn = policy?.authenticateUsers === true || policy?.requireCredentials === true;
  if (signIn)
    responses['401'] ??= components.errorResponse('Basic credentials are missing or wrong');
  const item: Json = {};
  for (const method of endpoint.methods) {
    const operation: Json = {};
    describe(operation, doc);
    if (parameters.length > 0) operation.parameters = parameters;
    if (body !== undefined && BODY_METHODS.has(method)) {
      operation.requestBody = {
        required: true,
        content: { 'application/json': { schema: body.schema } },
      };
    }
    operation.responses = responses;
    if (signIn) {
      const security: Json[] = [{ [BASIC_AUTH]: [] }];
      components.useBasicAuth();
      if (policy?.authenticateUsers === true) {
        security.push({ [USER_TOKEN]: [] });
        components.useUserToken();
      }
      operation.security = security;
    }
    item[method.toLowerCase()] = operation;
  }
  return item;
}

function describe(operation: Json, doc: EndpointDoc): void {
  if (doc.summary !== undefined) operation.summary = doc.summary;
  if (doc.description !== undefined) operation.description = doc.description;
  if (doc.tags !== undefined && doc.tags.length > 0) operation.tags = doc.tags;
}

/** An object schema's properties, each with whether it is required. */
function propertiesOf(schema: JsonSchema | undefined): Array<[string, boolean]> {
  if (typeof schema !== 'object' || !isObject(schema.properties)) return [];
  const required = Array.isArray(schema.required) ? (schema.required as unknown[]) : [];
  return Object.keys(schema.properties).map((name) => [name, required.includes(name)]);
}

/** The schema of one property of a placed object schema, as it can be referred to. */
function propertySchema(placed: Placed | undefined, property: string): unknown {
  if (placed === undefined) return undefined;
  const { original, pointer } = placed;
  if (typeof original !== 'object' || !isObject(original.properties)) return undefined;
  if (!(property in original.properties)) return undefined;
  if (pointer === undefined) return original.properties[property];
  return { $ref: `${pointer}/properties/${escapePointer(property)}` };
}

/** A schema as the document uses it: inline, or a reference to where it was placed. */
interface Placed {
  schema: unknown;
  original: JsonSchema;
  /** Set when the schema lives under components (it has local references). */
  pointer: string | undefined;
}

/** `components` of the document, filled while the paths are written. */
export class Components {
  private readonly schemas: Json = {};
  private readonly names = new Set<string>();
  private basicAuth = false;
  private bearerAuth = false;
  private userToken = false;
  private errorUsed = false;

  /**
   * A schema with local `$ref`s (`#/$defs/item`) cannot be inlined, where `#` would mean the
   * document: it is placed under components/schemas and its references rewritten.
   */
  place(schema: JsonSchema, wanted: string): Placed {
    if (!hasLocalRef(schema)) return { schema, original: schema, pointer: undefined };
    let name = wanted;
    for (let n = 2; this.names.has(name); n++) name = `${wanted}${n}`;
    this.names.add(name);
    const pointer = `#/components/schemas/${escapePointer(name)}`;
    this.schemas[name] = rebase(schema, pointer);
    return { schema: { $ref: pointer }, original: schema, pointer };
  }

  /** A named schema of the document's own (`Task`): its reference. */
  define(name: string, schema: Json): string {
    this.names.add(name);
    this.schemas[name] = schema;
    return `#/components/schemas/${escapePointer(name)}`;
  }

  errorResponse(description: string): Json {
    this.errorUsed = true;
    return {
      description,
      content: { 'application/json': { schema: { $ref: `#/components/schemas/${ERROR_SCHEMA}` } } },
    };
  }

  useBasicAuth(): void {
    this.basicAuth = true;
  }

  useBearerAuth(): void {
    this.bearerAuth = true;
  }

  useUserToken(): void {
    this.userToken = true;
  }

  toJson(): Json {
    const components: Json = {};
    const schemas: Json = { ...this.schemas };
    if (this.errorUsed) schemas[ERROR_SCHEMA] = ERROR_BODY;
    if (Object.keys(schemas).length > 0) components.schemas = schemas;
    const schemes: Json = {};
    if (this.basicAuth) schemes[BASIC_AUTH] = { type: 'http', scheme: 'basic' };
    if (this.bearerAuth) schemes[BEARER_AUTH] = { type: 'http', scheme: 'bearer' };
    if (this.userToken) {
      schemes[USER_TOKEN] = {
        type: 'apiKey',
        in: 'header',
        name: 'Authorization',
        description: "A user's API token: `Authorization: Token sbu_...`",
      };
    }
    if (Object.keys(schemes).length > 0) components.securitySchemes = schemes;
    return components;
  }
}

/** The door's error body (docs/errors.md). */
const ERROR_BODY = {
  type: 'object',
  required: ['code', 'message'],
  properties: {
    code: { type: 'string', description: 'Stable error code, e.g. SB_ERR_VALIDATION' },
    message: { type: 'string' },
    type: { type: 'string', description: "SB_ERR_REMOTE_ERROR: the handler's exception class" },
    errors: {
      type: 'array',
      description: 'SB_ERR_VALIDATION: where the request (or the arguments) broke the schema',
      items: {
        type: 'object',
        properties: {
          in: { enum: ['body', 'query', 'params', 'args'] },
          path: { type: 'string' },
          message: { type: 'string' },
          keyword: { type: 'string' },
        },
      },
    },
  },
};

function hasLocalRef(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(hasLocalRef);
  if (!isObject(value)) return false;
  if (value.$id !== undefined) return false; // references resolve against its own $id
  for (const [key, item] of Object.entries(value)) {
    if (
      (key === '$ref' || key === '$dynamicRef') &&
      typeof item === 'string' &&
      item.startsWith('#')
    )
      return true;
    if (hasLocalRef(item)) return true;
  }
  return false;
}

/** A copy of `value` whose local references point below `pointer`. */
function rebase(value: unknown, pointer: string): unknown {
  if (Array.isArray(value)) return value.map((item) => rebase(item, pointer));
  if (!isObject(value) || value.$id !== undefined) return value;
  const copy: Json = {};
  for (const [key, item] of Object.entries(value)) {
    copy[key] =
      (key === '$ref' || key === '$dynamicRef') && typeof item === 'string' && item.startsWith('#')
        ? pointer + item.slice(1)
        : rebase(item, pointer);
  }
  return copy;
}

/** `/users/:id/history` → `users_id_history` (component names allow `A-Za-z0-9._-`). */
function componentName(pattern: string): string {
  return pattern.replace(/[^A-Za-z0-9]+/g, '_').replace(/^_+|_+$/g, '') || 'root';
}

function statusText(status: string): string {
  if (status === 'default') return 'Any other response';
  if (status.endsWith('XX')) return `Any ${status} response`;
  return STATUS_CODES[status] ?? `Status ${status}`;
}

function escapePointer(token: string): string {
  return token.replace(/~/g, '~0').replace(/\//g, '~1');
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
