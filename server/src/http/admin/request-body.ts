import { SwitchboardError } from '@switchboard/shared';

/** Largest admin API request body (a user's `data` is at most 64 KiB as JSON). */
export const MAX_ADMIN_BODY_BYTES = 256 * 1024;

type FieldType = 'string' | 'boolean' | 'object' | 'string[]' | 'array' | 'string|null';

/** What a body may hold: each field's type and whether it must be there. */
export type BodySchema = Record<string, { type: FieldType; required: boolean }>;

/**
 * Checks a parsed JSON body against `schema`: a JSON object, no unknown fields, required fields
 * present, each of its type (`object`: a plain object, not null or an array; `string[]`: an
 * array of strings; `array`: any array; `string|null`: a string or null). Anything else is
 * SB_ERR_ADMIN_BAD_REQUEST naming the field, so a client can fix its request.
 */
export function checkBody(body: unknown, schema: BodySchema): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw bad('The body must be a JSON object (Content-Type: application/json)');
  }
  const fields = body as Record<string, unknown>;
  for (const name of Object.keys(fields)) {
    if (!Object.hasOwn(schema, name)) {
      throw bad(
        `Unknown field ${JSON.stringify(name)}; allowed: ${Object.keys(schema).join(', ')}`,
      );
    }
  }
  for (const [name, { type, required }] of Object.entries(schema)) {
    const value = fields[name];
    if (value === undefined) {
      if (required) throw bad(`Field ${JSON.stringify(name)} is required`);
      continue;
    }
    if (!hasType(value, type)) {
      const what = TYPE_NAMES[type];
      throw bad(`Field ${JSON.stringify(name)} must be ${what}`);
    }
  }
  return fields;
}

const TYPE_NAMES: Record<FieldType, string> = {
  string: 'a string',
  boolean: 'a boolean',
  object: 'an object',
  'string[]': 'an array of strings',
  array: 'an array',
  'string|null': 'a string or null',
};

function hasType(value: unknown, type: FieldType): boolean {
  if (type === 'string[]')
    return Array.isArray(value) && value.every((item) => typeof item === 'string');
  if (type === 'array') return Array.isArray(value);
  if (type === 'string|null') return value === null || typeof value === 'string';
  if (type === 'object')
    return typeof value === 'object' && value !== null && !Array.isArray(value);
  return typeof value === type;
}

function bad(message: string): SwitchboardError {
  return new SwitchboardError('SB_ERR_ADMIN_BAD_REQUEST', message);
}
