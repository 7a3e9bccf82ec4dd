import { SwitchboardError, type EndpointSchema } from '@switchboard/shared';
import type { ErrorObject } from 'ajv/dist/2020.js';
import { describeErrors, type Check, type SchemaCompiler } from './schema-compiler.ts';

/** What the door knows of a request when it checks it against the endpoint's schemas. */
export interface RequestParts {
  method: string;
  contentType: string | undefined;
  /** The buffered body (endpoints with a body schema never stream theirs). */
  body: unknown;
  /** The raw query string without `?`. */
  query: string;
  params: Readonly<Record<string, string>>;
}

/** One validation problem, as the 400 answer lists it. */
export interface ValidationIssue {
  in: 'body' | 'query' | 'params';
  /** JSON Pointer into the checked value (`/items/0/name`); empty for the value itself. */
  path: string;
  message: string;
  keyword: string;
}

/** An answer as the door checks it. */
export interface ResponseParts {
  status: number;
  headers: Record<string, string | string[]>;
  body?: Uint8Array;
}

/** Methods whose requests must carry the body a `schema.body` describes. */
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);
const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

/**
 * The compiled schemas of one endpoint. Built (and cached by content) at registration, so a
 * request pays for parsing and checking only what its endpoint declared; an endpoint without a
 * schema has no EndpointValidators at all.
 */
export class EndpointValidators {
  private constructor(
    private readonly request: { body?: Check; query?: Check; params?: Check },
    private readonly responses: ReadonlyMap<string, Check> | undefined,
  ) {}

  /** Compiles `schema` (throws SB_ERR_SCHEMA_INVALID); undefined when it declares nothing. */
  static compile(
    schema: EndpointSchema | undefined,
    compiler: SchemaCompiler,
  ): EndpointValidators | undefined {
    if (schema === undefined) return undefined;
    const request: { body?: Check; query?: Check; params?: Check } = {};
    if (schema.body !== undefined)
      request.body = compiler.compile(schema.body, 'exact', 'schema.body');
    if (schema.query !== undefined)
      request.query = compiler.compile(schema.query, 'coerce', 'schema.query');
    if (schema.params !== undefined)
      request.params = compiler.compile(schema.params, 'coerce', 'schema.params');
    const responses =
      schema.response === undefined
        ? undefined
        : new Map(
            Object.entries(schema.response).map(([status, item]) => [
              status,
              compiler.compile(item, 'exact', `schema.response.${status}`),
            ]),
          );
    return new EndpointValidators(request, responses);
  }

  /**
   * Throws SB_ERR_VALIDATION (400, with the issue in `data.errors`), SB_ERR_HTTP_BAD_BODY for a
   * body that is not JSON, or SB_ERR_HTTP_UNSUPPORTED_MEDIA_TYPE for one of another type.
   * Coercion works on copies: the handler still gets the strings it was sent.
   */
  checkRequest(parts: RequestParts): void {
    const { body, query, params } = this.request;
    if (params !== undefined) run(params, { ...parts.params }, 'params');
    if (query !== undefined)
      run(query, Object.fromEntries(new URLSearchParams(parts.query)), 'query');
    if (body !== undefined) {
      const bytes = Buffer.isBuffer(parts.body) ? parts.body : undefined;
      if (bytes === undefined || bytes.byteLength === 0) {
        if (BODY_METHODS.has(parts.method)) throw failed('body', '', 'is required', 'required');
        return;
      }
      if (parts.contentType === undefined || !JSON_TYPE.test(parts.contentType)) {
        throw new SwitchboardError(
          'SB_ERR_HTTP_UNSUPPORTED_MEDIA_TYPE',
          'This endpoint takes a JSON body (Content-Type: application/json)',
        );
      }
      let value: unknown;
      try {
        value = JSON.parse(bytes.toString('utf8'));
      } catch (error) {
        throw new SwitchboardError(
          'SB_ERR_HTTP_BAD_BODY',
          `The body is not valid JSON: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
      run(body, value, 'body');
    }
  }

  /** The schema for a status: exact (`200`), then its range (`2XX`), then `default`. */
  responseCheck(status: number): Check | undefined {
    const { responses } = this;
    if (responses === undefined) return undefined;
    return (
      responses.get(String(status)) ??
      responses.get(`${Math.floor(status / 100)}XX`) ??
      responses.get('default')
    );
  }

  /**
   * Checks a buffered answer against the schema for its status (answers without a body are not
   * checked). Throws SB_ERR_RESPONSE_INVALID when it is not JSON or breaks the schema.
   */
  checkResponse(response: ResponseParts): void {
    const check = this.responseCheck(response.status);
    const { body } = response;
    if (check === undefined || body === undefined || body.byteLength === 0) return;
    const type = headerValue(response.headers, 'content-type');
    if (type === undefined || !JSON_TYPE.test(type))
      throw invalidResponse(`is ${type ?? 'untyped'}, not the JSON its schema describes`);
    let value: unknown;
    try {
      value = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString());
    } catch {
      throw invalidResponse('is not valid JSON');
    }
    if (!check(value))
      throw invalidResponse(
        `does not match its schema for ${response.status}: ${describeErrors('response', check.errors)}`,
      );
  }
}

function run(check: Check, value: unknown, where: ValidationIssue['in']): void {
  if (check(value)) return;
  const first = check.errors?.[0];
  throw failed(
    where,
    first?.instancePath ?? '',
    first === undefined ? 'is invalid' : messageOf(first),
    first?.keyword ?? 'invalid',
  );
}

/** Ajv's message, naming the property for the keywords whose message does not (REST clients need it). */
function messageOf(error: ErrorObject): string {
  const message = error.message ?? 'is invalid';
  const params = error.params as { additionalProperty?: unknown; unevaluatedProperty?: unknown };
  const extra = params.additionalProperty ?? params.unevaluatedProperty;
  return typeof extra === 'string' ? `${message}: ${JSON.stringify(extra)}` : message;
}

function failed(
  where: ValidationIssue['in'],
  path: string,
  message: string,
  keyword: string,
): SwitchboardError {
  const issue: ValidationIssue = { in: where, path, message, keyword };
  return new SwitchboardError('SB_ERR_VALIDATION', `${where}${path} ${message}`, {
    data: { errors: [issue] },
  });
}

function invalidResponse(what: string): SwitchboardError {
  return new SwitchboardError('SB_ERR_RESPONSE_INVALID', `The handler's response ${what}`);
}

function headerValue(headers: Record<string, string | string[]>, name: string): string | undefined {
  for (const key in headers) {
    if (key.length === name.length && key.toLowerCase() === name) {
      const value = headers[key];
      return Array.isArray(value) ? value[0] : value;
    }
  }
  return undefined;
}
