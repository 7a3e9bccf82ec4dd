import { SwitchboardError } from '../errors/switchboard-error.ts';
import type { EndpointDoc, EndpointPolicy, EndpointSchema, JsonSchema } from './registrations.ts';

/** Longest `summary` of an endpoint, in characters. */
export const MAX_SUMMARY_LENGTH = 300;
/** Longest `description` of an endpoint, in characters. */
export const MAX_DESCRIPTION_LENGTH = 10_000;
/** Most tags per endpoint; each at most 100 characters. */
export const MAX_TAGS = 20;
const MAX_TAG_LENGTH = 100;
/** All schemas of one endpoint together, measured as JSON text: 64 KiB. */
export const MAX_SCHEMA_BYTES = 64 * 1024;
/** Deepest nesting of objects and arrays in one schema. */
export const MAX_SCHEMA_DEPTH = 64;

const SCHEMA_PARTS = new Set(['body', 'query', 'params', 'response']);
/** A status code (`200`), a range (`2XX`) or `default`, as OpenAPI keys responses. */
const STATUS_KEY = /^(?:[1-5](?:\d\d|XX)|default)$/;

/**
 * Checks what an endpoint says about itself (summary, description, tags, schema) and returns
 * only the fields that are set. Schemas must be plain JSON (objects, arrays, strings, finite
 * numbers, booleans, null) within MAX_SCHEMA_BYTES and MAX_SCHEMA_DEPTH; whether they are valid
 * JSON Schema is the server's call (SB_ERR_SCHEMA_INVALID). A body schema cannot be combined
 * with `maxBodyBytes` (such bodies are streamed, never held to be checked).
 * Throws SB_ERR_OPTIONS_INVALID.
 */
export function endpointDoc(raw: EndpointDoc, policy: EndpointPolicy | undefined): EndpointDoc {
  const doc: EndpointDoc = {};
  const { summary, description, tags, schema } = raw as Record<keyof EndpointDoc, unknown>;
  if (summary !== undefined) doc.summary = text(summary, 'summary', MAX_SUMMARY_LENGTH);
  if (description !== undefined)
    doc.description = text(description, 'description', MAX_DESCRIPTION_LENGTH);
  if (tags !== undefined) {
    if (!Array.isArray(tags) || tags.length > MAX_TAGS)
      throw invalid(`tags must be an array of at most ${MAX_TAGS} strings`);
    doc.tags = (tags as unknown[]).map((tag) => text(tag, 'each tag', MAX_TAG_LENGTH));
  }
  if (schema !== undefined) {
    doc.schema = endpointSchema(schema);
    if (doc.schema.body !== undefined && policy?.maxBodyBytes !== undefined)
      throw invalid('schema.body cannot be combined with maxBodyBytes (streamed bodies)');
  }
  return doc;
}

function endpointSchema(value: unknown): EndpointSchema {
  if (!isPlainObject(value)) throw invalid('schema must be { body?, query?, params?, response? }');
  for (const key of Object.keys(value)) {
    if (!SCHEMA_PARTS.has(key))
      throw invalid(
        `unknown schema part ${JSON.stringify(key)}; use body, query, params, response`,
      );
  }
  const budget = { bytes: MAX_SCHEMA_BYTES };
  const schema: EndpointSchema = {};
  for (const part of ['body', 'query', 'params'] as const) {
    if (value[part] !== undefined) schema[part] = jsonSchema(value[part], `schema.${part}`, budget);
  }
  const response = value.response;
  if (response !== undefined) {
    if (!isPlainObject(response) || Object.keys(response).length === 0)
      throw invalid('schema.response must map status codes ("200", "2XX", "default") to schemas');
    const byStatus: Record<string, JsonSchema> = {};
    for (const [status, item] of Object.entries(response)) {
      if (!STATUS_KEY.test(status))
        throw invalid(
          `schema.response key ${JSON.stringify(status)} is not a status code, a range like 2XX, or default`,
        );
      byStatus[status] = jsonSchema(item, `schema.response.${status}`, budget);
    }
    schema.response = byStatus;
  }
  if (Object.keys(schema).length === 0) throw invalid('schema names no part');
  return schema;
}

/**
 * Checks that `value` is a JSON Schema made of plain JSON (an object, true or false), charging
 * its size to `budget` (bytes left); throws SB_ERR_OPTIONS_INVALID.
 */
export function jsonSchema(value: unknown, what: string, budget: { bytes: number }): JsonSchema {
  if (typeof value !== 'boolean' && !isPlainObject(value))
    throw invalid(`${what} must be a JSON Schema (an object, true or false)`);
  plainJson(value, what, budget, 0);
  return value;
}

/** Walks `value`, charging its approximate JSON size to `budget`; throws on anything not JSON. */
function plainJson(value: unknown, what: string, budget: { bytes: number }, depth: number): void {
  if (depth > MAX_SCHEMA_DEPTH) throw invalid(`${what} is nested deeper than ${MAX_SCHEMA_DEPTH}`);
  budget.bytes -= 2;
  if (typeof value === 'string') budget.bytes -= value.length;
  else if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw invalid(`${what} holds a number JSON cannot express`);
    budget.bytes -= 8;
  } else if (Array.isArray(value)) {
    for (const item of value as unknown[]) plainJson(item, what, budget, depth + 1);
  } else if (isPlainObject(value)) {
    for (const key of Object.keys(value)) {
      budget.bytes -= key.length + 3;
      plainJson(value[key], what, budget, depth + 1);
    }
  } else if (value !== null && typeof value !== 'boolean') {
    throw invalid(`${what} must be plain JSON; it holds a ${describe(value)}`);
  }
  if (budget.bytes < 0) throw invalid(`schemas are larger than ${MAX_SCHEMA_BYTES} bytes`);
}

/** Whether two endpoints say the same about themselves (schemas compared by content). */
export function sameDoc(a: EndpointDoc | undefined, b: EndpointDoc | undefined): boolean {
  return canonicalJson(a ?? {}) === canonicalJson(b ?? {});
}

/** JSON with object keys sorted, so equal content gives equal text whatever the key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${(value as unknown[]).map(canonicalJson).join(',')}]`;
  if (isPlainObject(value)) {
    const keys = Object.keys(value)
      .filter((key) => value[key] !== undefined)
      .sort();
    return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(value[key])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

function text(value: unknown, what: string, max: number): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > max)
    throw invalid(`${what} must be a string of 1 to ${max} characters`);
  return value;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function describe(value: unknown): string {
  if (typeof value === 'object' && value !== null) return value.constructor?.name ?? 'object';
  return typeof value;
}

function invalid(message: string): SwitchboardError {
  return new SwitchboardError('SB_ERR_OPTIONS_INVALID', message);
}
