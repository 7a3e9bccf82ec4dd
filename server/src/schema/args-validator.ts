import { SwitchboardError, type FunctionSignature } from '@switchboard/shared';
import type { Check, SchemaCompiler } from './schema-compiler.ts';

/** One argument problem, as SB_ERR_VALIDATION's `data.errors` lists it. */
export interface ArgsIssue {
  in: 'args';
  /** JSON Pointer into the arguments array (`/0/name`); empty for the array itself. */
  path: string;
  message: string;
  keyword: string;
}

/**
 * The compiled `args` schemas of one function: built at registration (cached by content, so
 * every provider and reconnect shares them), run by the dispatcher before a call is handed to
 * any provider. A function registered without `args` has no ArgsValidator at all.
 */
export class ArgsValidator {
  private constructor(
    /** One check per positional argument, or undefined for a schema of the whole array. */
    private readonly positional: readonly Check[] | undefined,
    private readonly whole: Check | undefined,
  ) {}

  /**
   * Compiles `args` and `returns` (a `returns` that does not compile is refused as well, though
   * results are not checked); undefined when there are no `args`. Throws SB_ERR_SCHEMA_INVALID.
   */
  static compile(
    signature: FunctionSignature | undefined,
    compiler: SchemaCompiler,
  ): ArgsValidator | undefined {
    if (signature === undefined) return undefined;
    if (signature.returns !== undefined) compiler.compile(signature.returns, 'exact', 'returns');
    const { args } = signature;
    if (args === undefined) return undefined;
    if (Array.isArray(args))
      return new ArgsValidator(
        args.map((schema, index) => compiler.compile(schema, 'exact', `args[${index}]`)),
        undefined,
      );
    return new ArgsValidator(undefined, compiler.compile(args, 'exact', 'args'));
  }

  /**
   * Throws SB_ERR_VALIDATION naming `name` and the argument (`add: args[0] must be number`), the
   * first problem only (bounded work on hostile input), with it in `data.errors`.
   */
  check(name: string, args: readonly unknown[]): void {
    const { positional, whole } = this;
    if (whole !== undefined) {
      run(name, whole, args, '');
      return;
    }
    if (positional === undefined) return;
    const given = Math.min(args.length, positional.length);
    for (let index = 0; index < given; index++)
      run(name, positional[index]!, args[index], `/${index}`);
    if (args.length !== positional.length) {
      const takes = `${positional.length} argument${positional.length === 1 ? '' : 's'}`;
      const missing = args.length < positional.length;
      throw failed(
        name,
        missing ? `/${args.length}` : `/${positional.length}`,
        missing
          ? `is missing (${name} takes ${takes}, got ${args.length})`
          : `is one too many (${name} takes ${takes}, got ${args.length})`,
        missing ? 'required' : 'maxItems',
      );
    }
  }
}

function run(name: string, check: Check, value: unknown, at: string): void {
  if (check(value)) return;
  const first = check.errors?.[0];
  let message = first?.message ?? 'is invalid';
  // Ajv names the property elsewhere: said here, so the message names the field.
  const extra = (first?.params as { additionalProperty?: unknown } | undefined)?.additionalProperty;
  if (first?.keyword === 'additionalProperties' && typeof extra === 'string')
    message += `: ${extra}`;
  throw failed(name, at + (first?.instancePath ?? ''), message, first?.keyword ?? 'invalid');
}

function failed(name: string, path: string, message: string, keyword: string): SwitchboardError {
  const issue: ArgsIssue = { in: 'args', path, message, keyword };
  return new SwitchboardError('SB_ERR_VALIDATION', `${name}: ${argumentPath(path)} ${message}`, {
    data: { errors: [issue] },
  });
}

/** `/0/items/2/name` → `args[0].items[2].name`, as a JavaScript caller would write it. */
export function argumentPath(pointer: string): string {
  let text = 'args';
  for (const raw of pointer.split('/').slice(1)) {
    const token = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (/^(?:0|[1-9]\d*)$/.test(token)) text += `[${token}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(token)) text += `.${token}`;
    else text += `[${JSON.stringify(token)}]`;
  }
  return text;
}
