import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import ajvFormats from 'ajv-formats';
import { SwitchboardError, canonicalJson, type JsonSchema } from '@switchboard/shared';

/** A compiled schema: true when the value is valid, else `errors` says why. */
export type Check = ValidateFunction;

/**
 * `exact` validates JSON as it is (bodies, responses); `coerce` first turns strings into the
 * schema's types (query strings and path parameters, whose values are always strings), as
 * Fastify does for its querystring schemas.
 */
export type CheckMode = 'exact' | 'coerce';

/** Compiled schemas kept for reuse; beyond this the least recently used are dropped. */
const MAX_CACHED_SCHEMAS = 1_000;
/** OpenAPI's own schema keywords, accepted as annotations (strict mode refuses unknown ones). */
const OPENAPI_KEYWORDS = ['example', 'discriminator', 'xml', 'externalDocs'];

/**
 * Compiles endpoint schemas with Ajv (JSON Schema 2020-12, the dialect of OpenAPI 3.1) once per
 * content: registrations that repeat a schema (every reconnect of an uplink, every provider of a
 * path) share one compiled function. Ajv is created on the first schema, so a server whose
 * endpoints declare none pays nothing.
 *
 * Strict mode stays on (an unknown keyword such as a typo `propertie` is an error, not silently
 * ignored); formats come from ajv-formats; `$ref` resolves only inside the schema itself.
 */
export class SchemaCompiler {
  private instances: Record<CheckMode, Ajv2020> | undefined;
  private readonly cache = new Map<string, Check>();

  /** Throws SB_ERR_SCHEMA_INVALID with Ajv's reason, prefixed with `what` (e.g. `schema.body`). */
  compile(schema: JsonSchema, mode: CheckMode, what: string): Check {
    const key = `${mode} ${canonicalJson(schema)}`;
    const cached = this.cache.get(key);
    if (cached !== undefined) {
      this.cache.delete(key); // most recently used goes last
      this.cache.set(key, cached);
      return cached;
    }
    const ajv = (this.instances ??= { exact: makeAjv(false), coerce: makeAjv('array') })[mode];
    // Ajv keeps every schema object it compiled for its lifetime; this cache owns them instead,
    // so registrations that come and go do not grow Ajv's. Removal also forgets the schema's
    // $id, so it is skipped for an $id Ajv already knew (a meta-schema's).
    const id = typeof schema === 'object' ? schema.$id : undefined;
    const known = typeof id === 'string' ? id.replace(/#$/, '') : undefined;
    const owned =
      typeof schema === 'object' &&
      (known === undefined || (ajv.schemas[known] === undefined && ajv.refs[known] === undefined));
    let check: Check;
    try {
      check = ajv.compile(schema);
    } catch (error) {
      throw new SwitchboardError(
        'SB_ERR_SCHEMA_INVALID',
        `${what} is not a valid JSON Schema: ${error instanceof Error ? error.message : String(error)}`,
      );
    } finally {
      if (owned) ajv.removeSchema(schema);
    }
    this.cache.set(key, check);
    if (this.cache.size > MAX_CACHED_SCHEMAS) this.cache.delete(this.cache.keys().next().value!);
    return check;
  }
}

function makeAjv(coerceTypes: false | 'array'): Ajv2020 {
  const ajv = new Ajv2020({
    coerceTypes,
    allErrors: false, // stop at the first error: bounded work on hostile input
    addUsedSchema: false, // a schema's $id does not become visible to other endpoints' schemas
    logger: false,
    // Unknown formats are errors, not silently ignored (ajv-formats adds the common ones).
    validateFormats: true,
  });
  ajv.addVocabulary(OPENAPI_KEYWORDS);
  // ajv-formats is CommonJS: its default export arrives as the module object under NodeNext.
  const addFormats = (ajvFormats as unknown as { default: (ajv: Ajv2020) => void }).default;
  addFormats(ajv);
  return ajv;
}

/** The first error as one line: `body/items/0/name must be string`. */
export function describeErrors(where: string, errors: ErrorObject[] | null | undefined): string {
  const first = errors?.[0];
  if (first === undefined) return `${where} is invalid`;
  return `${where}${first.instancePath} ${first.message ?? 'is invalid'}`;
}
