import { SwitchboardError } from '../errors/switchboard-error.ts';
import type { JsonSchema } from '../protocol/registrations.ts';
import { FILTER_OP_SPELLINGS } from './search-query.ts';

type Json = Record<string, unknown>;

/** The schemas a resource derives from its item schema, for the door and the OpenAPI document. */
export interface ResourceSchemas {
  /** The item as answered. */
  item: JsonSchema;
  /** Create and PUT bodies: writable properties, required ones required, no others. */
  full: JsonSchema;
  /** PATCH bodies: the same properties, none required. */
  partial: JsonSchema;
  /** Required writable properties, which a PUT must send (checked by the resource). */
  required: readonly string[];
  /** Names `q` may use; undefined when there is no item schema (any name). */
  fields: ReadonlySet<string> | undefined;
  /** `page`, `results_per_page`, `q`. */
  listQuery: JsonSchema;
  /** `{num_results, total_pages, page, objects}`. */
  envelope: JsonSchema;
}

/** The error body of the door (docs/errors.md), as resources answer it. */
export const RESOURCE_ERROR_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['code', 'message'],
  properties: { code: { type: 'string' }, message: { type: 'string' } },
};

/**
 * Derives the schemas from `item`, an object schema with `properties` (properties marked
 * `readOnly: true`, such as a server-assigned id, are answered but never accepted in a body;
 * required ones with a `default` are answered always but may be left out of a body).
 * Keywords other than properties/required/$defs apply to answers only. Throws
 * SB_ERR_OPTIONS_INVALID for an item schema that is not such an object.
 */
export function resourceSchemas(
  item: JsonSchema | undefined,
  perPage: { default: number; max: number },
): ResourceSchemas {
  const listQuery: JsonSchema = {
    type: 'object',
    properties: {
      page: { type: 'integer', minimum: 1, default: 1, description: 'Page number, from 1' },
      results_per_page: {
        type: 'integer',
        minimum: 1,
        maximum: perPage.max,
        default: perPage.default,
        description: `Items per page, at most ${perPage.max}`,
      },
      q: {
        type: 'string',
        description:
          'Search JSON (Flask-Restless): {"filters": [{"name", "op", "val"} | {"and": [...]} | {"or": [...]}], ' +
          `"order_by": [{"field", "direction": "asc" | "desc"}]}; ops: ${FILTER_OP_SPELLINGS.join(' ')}`,
      },
    },
  };
  if (item === undefined) {
    const any = { type: 'object' };
    return {
      item: any,
      full: any,
      partial: any,
      required: [],
      fields: undefined,
      listQuery,
      envelope: envelopeOf(any),
    };
  }
  if (typeof item !== 'object' || item.type !== 'object' || !isObject(item.properties))
    throw invalid('item must be an object schema: { type: "object", properties: {...} }');
  const properties = item.properties;
  const writable: Json = {};
  for (const [name, schema] of Object.entries(properties)) {
    if (!(isObject(schema) && schema.readOnly === true)) writable[name] = schema;
  }
  // A required property with a `default` may be left out of a body: the handler fills it in.
  const required = (Array.isArray(item.required) ? (item.required as unknown[]) : []).filter(
    (name): name is string =>
      typeof name === 'string' &&
      name in writable &&
      !(isObject(writable[name]) && 'default' in writable[name]),
  );
  const defs = item.$defs === undefined ? {} : { $defs: item.$defs };
  const body = { type: 'object', properties: writable, additionalProperties: false, ...defs };
  return {
    item,
    full: required.length === 0 ? body : { ...body, required },
    partial: body,
    required,
    fields: new Set(Object.keys(properties)),
    listQuery,
    envelope: envelopeOf(item),
  };
}

function envelopeOf(item: JsonSchema): JsonSchema {
  // An item schema with local references keeps them resolvable: it moves under $defs.
  const local = typeof item === 'object' && item.$defs !== undefined;
  const objects = local
    ? { type: 'array', items: { $ref: '#/$defs/item' } }
    : { type: 'array', items: item };
  const envelope: Json = {
    type: 'object',
    required: ['num_results', 'total_pages', 'page', 'objects'],
    properties: {
      num_results: { type: 'integer', minimum: 0, description: 'Items matching, all pages' },
      total_pages: { type: 'integer', minimum: 0 },
      page: { type: 'integer', minimum: 1 },
      objects,
    },
  };
  if (local) envelope.$defs = { ...(item.$defs as Json), item: rebaseDefs(item) };
  return envelope;
}

/** The item schema placed at `#/$defs/item` of the envelope: its `#/$defs/x` stay valid there. */
function rebaseDefs(item: Json): Json {
  const { $defs: _defs, ...rest } = item;
  return rest;
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function invalid(message: string): SwitchboardError {
  return new SwitchboardError('SB_ERR_OPTIONS_INVALID', message);
}
