// JSON Schema → TypeScript type text, for `switchboard types`. Covers what argument and result
// schemas use: type (one or several), const, enum, anyOf/oneOf (unions), allOf (intersections),
// objects (properties, required, additionalProperties) and arrays (items, prefixItems). Anything
// else — $ref, if/then/else, not, patternProperties — becomes `unknown`, which is always true.

type Schema = Record<string, unknown>;

/** Nesting beyond this becomes `unknown` (schemas are capped at 64 levels by the server). */
const MAX_DEPTH = 32;
const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/** The TypeScript type of values `schema` accepts, laid out from `indent`. */
export function schemaToTs(schema: unknown, indent = '', depth = 0): string {
  if (schema === false) return 'never';
  if (!isSchema(schema) || depth > MAX_DEPTH) return 'unknown';
  const parts: string[] = [];
  if ('const' in schema) parts.push(literal(schema.const));
  else if (Array.isArray(schema.enum)) parts.push(union(schema.enum.map(literal)));
  else {
    const typed = byType(schema, indent, depth);
    if (typed !== undefined) parts.push(typed);
  }
  for (const key of ['anyOf', 'oneOf'] as const) {
    const options = schema[key];
    if (Array.isArray(options) && options.length > 0)
      parts.push(union(options.map((option) => schemaToTs(option, indent, depth + 1))));
  }
  const all = schema.allOf;
  if (Array.isArray(all))
    for (const part of all) parts.push(wrap(schemaToTs(part, indent, depth + 1)));
  const known = parts.filter((part) => part !== 'unknown');
  if (known.length === 0) return 'unknown';
  return known.length === 1 ? known[0]! : known.map(wrap).join(' & ');
}

/**
 * The type of an arguments array for a rest parameter (`...args: T`): a tuple or an array when
 * the schema describes one, else `unknown[]`.
 */
export function argsTupleToTs(schema: unknown, indent = ''): string {
  if (!isSchema(schema)) return 'unknown[]';
  const types = typesOf(schema);
  const arrayLike =
    (types === undefined && ('items' in schema || 'prefixItems' in schema)) ||
    (types !== undefined && types.length === 1 && types[0] === 'array');
  if (!arrayLike || 'const' in schema || 'enum' in schema) return 'unknown[]';
  return arrayToTs(schema, indent, 0);
}

/** `name` as a property key: bare when it is an identifier, else quoted. */
export function propertyKey(name: string): string {
  return IDENTIFIER.test(name) ? name : JSON.stringify(name);
}

/** A JSDoc comment for `description` (and `title`), or '' when there is neither. */
export function docComment(schema: unknown, indent: string): string {
  if (!isSchema(schema)) return '';
  const text = [schema.title, schema.description]
    .filter((part): part is string => typeof part === 'string' && part.trim() !== '')
    .join(' — ')
    .replace(/\*\//g, '*\\/');
  if (text === '') return '';
  const lines = text.split(/\r?\n/);
  if (lines.length === 1) return `${indent}/** ${lines[0]} */\n`;
  return `${indent}/**\n${lines.map((line) => `${indent} * ${line}`.trimEnd()).join('\n')}\n${indent} */\n`;
}

function byType(schema: Schema, indent: string, depth: number): string | undefined {
  let types = typesOf(schema);
  if (types === undefined) {
    if ('properties' in schema || 'additionalProperties' in schema || 'required' in schema)
      types = ['object'];
    else if ('items' in schema || 'prefixItems' in schema) types = ['array'];
    else return undefined;
  }
  return union(
    types.map((type) => {
      switch (type) {
        case 'string':
          return 'string';
        case 'number':
        case 'integer':
          return 'number';
        case 'boolean':
          return 'boolean';
        case 'null':
          return 'null';
        case 'array':
          return arrayToTs(schema, indent, depth);
        case 'object':
          return objectToTs(schema, indent, depth);
        default:
          return 'unknown';
      }
    }),
  );
}

function arrayToTs(schema: Schema, indent: string, depth: number): string {
  const { items, prefixItems } = schema;
  if (!Array.isArray(prefixItems)) {
    const item = items === undefined ? 'unknown' : schemaToTs(items, indent, depth + 1);
    return item === 'never' ? '[]' : `${wrap(item)}[]`;
  }
  const required = typeof schema.minItems === 'number' ? schema.minItems : 0;
  const elements = prefixItems.map((item, index) => {
    const type = schemaToTs(item, indent, depth + 1);
    return index < required ? type : `${wrap(type)}?`;
  });
  const rest = items === undefined ? 'unknown' : schemaToTs(items, indent, depth + 1);
  if (rest !== 'never') elements.push(`...${wrap(rest)}[]`);
  return `[${elements.join(', ')}]`;
}

function objectToTs(schema: Schema, indent: string, depth: number): string {
  const properties = isSchema(schema.properties) ? schema.properties : {};
  const required = new Set(
    Array.isArray(schema.required)
      ? schema.required.filter((name) => typeof name === 'string')
      : [],
  );
  const inner = `${indent}  `;
  const members: string[] = [];
  for (const [name, property] of Object.entries(properties)) {
    const optional = required.has(name) ? '' : '?';
    const type = schemaToTs(property, inner, depth + 1);
    members.push(`${docComment(property, inner)}${inner}${propertyKey(name)}${optional}: ${type};`);
  }
  // Required names without a property schema still must be there.
  for (const name of required)
    if (!(name in properties)) members.push(`${inner}${propertyKey(name)}: unknown;`);
  const extra = schema.additionalProperties;
  if (extra !== false) {
    // An index signature must admit every named property's type: a typed one only alone.
    const type =
      members.length === 0 && extra !== undefined && extra !== true
        ? schemaToTs(extra, inner, depth + 1)
        : 'unknown';
    if (type !== 'never') members.push(`${inner}[key: string]: ${type};`);
  }
  if (members.length === 0) return '{}';
  return `{\n${members.join('\n')}\n${indent}}`;
}

function typesOf(schema: Schema): string[] | undefined {
  const { type } = schema;
  if (typeof type === 'string') return [type];
  if (Array.isArray(type) && type.every((item) => typeof item === 'string')) return type;
  return undefined;
}

function literal(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string' || typeof value === 'boolean') return JSON.stringify(value);
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return 'unknown';
}

function union(types: string[]): string {
  const distinct = [...new Set(types)].filter((type) => type !== 'never');
  if (distinct.includes('unknown')) return 'unknown';
  if (distinct.length === 0) return 'never';
  return distinct.map(wrap).join(' | ');
}

/** Parenthesised when it is a union or intersection, so it can sit inside another type. */
function wrap(type: string): string {
  return hasTopLevelOperator(type) ? `(${type})` : type;
}

/** Whether `type` has a `|` or `&` outside brackets, string literals and comments. */
function hasTopLevelOperator(type: string): boolean {
  let depth = 0;
  let quoted = false;
  for (let index = 0; index < type.length; index++) {
    const char = type[index]!;
    if (quoted) {
      if (char === '\\') index++;
      else if (char === '"') quoted = false;
    } else if (char === '/' && type[index + 1] === '*') {
      const end = type.indexOf('*/', index + 2); // a doc comment: its text is not type syntax
      index = end === -1 ? type.length : end + 1;
    } else if (char === '"') quoted = true;
    else if (char === '{' || char === '[' || char === '(' || char === '<') depth++;
    else if (char === '}' || char === ']' || char === ')' || char === '>') depth--;
    else if (depth === 0 && (char === '|' || char === '&')) return true;
  }
  return false;
}

function isSchema(value: unknown): value is Schema {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
