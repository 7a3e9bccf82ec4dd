import { SwitchboardError } from '../errors/switchboard-error.ts';
import { canonicalJson, jsonSchema, MAX_SCHEMA_BYTES } from './endpoint-doc.ts';
import type { FunctionSignature } from './registrations.ts';

/** Most positional argument schemas one function may declare. */
export const MAX_ARGS_SCHEMAS = 64;

/**
 * Checks the `args` and `returns` schemas of a function (callable options or a registration)
 * and returns only what is set, undefined when neither is. Shape and size only: plain JSON
 * within MAX_SCHEMA_BYTES together and MAX_SCHEMA_DEPTH deep, `args` an array of at most
 * MAX_ARGS_SCHEMAS schemas or one schema; whether they are valid JSON Schema is the server's call
 * (SB_ERR_SCHEMA_INVALID). Throws SB_ERR_OPTIONS_INVALID.
 */
export function functionSignature(raw: {
  args?: unknown;
  returns?: unknown;
}): FunctionSignature | undefined {
  const { args, returns } = raw;
  if (args === undefined && returns === undefined) return undefined;
  const budget = { bytes: MAX_SCHEMA_BYTES };
  const signature: FunctionSignature = {};
  if (Array.isArray(args)) {
    if (args.length > MAX_ARGS_SCHEMAS)
      throw invalid(`args may list at most ${MAX_ARGS_SCHEMAS} schemas, one per argument`);
    signature.args = (args as unknown[]).map((item, index) =>
      jsonSchema(item, `args[${index}]`, budget),
    );
  } else if (args !== undefined) signature.args = jsonSchema(args, 'args', budget);
  if (returns !== undefined) signature.returns = jsonSchema(returns, 'returns', budget);
  return signature;
}

/** Whether two signatures say the same (schemas compared by content, key order aside). */
export function sameSignature(
  a: FunctionSignature | undefined,
  b: FunctionSignature | undefined,
): boolean {
  return canonicalJson(a ?? {}) === canonicalJson(b ?? {});
}

function invalid(message: string): SwitchboardError {
  return new SwitchboardError('SB_ERR_OPTIONS_INVALID', message);
}
