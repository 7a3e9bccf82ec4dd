import { SwitchboardError } from '../errors/switchboard-error.ts';
import { checkDecodeLimits, type DecodeLimits } from './decode-limits.ts';

/**
 * Checks JSON text against `limits` before `JSON.parse` builds anything from it: containers
 * nested deeper than `maxDepth`, or more than `maxValues` values (containers, strings including
 * object keys, numbers, true, false, null), throw SB_ERR_HTTP_BAD_BODY. One linear pass that
 * jumps over string contents; it does not validate the JSON (`JSON.parse` still does), so
 * malformed text passes or fails here only by its counts.
 */
export function checkJsonLimits(text: string, limits: DecodeLimits): void {
  checkDecodeLimits(limits);
  const { maxDepth, maxValues } = limits;
  const length = text.length;
  let depth = 0;
  let values = 0;
  let inLiteral = false; // inside a number or a literal (true, false, null)
  for (let i = 0; i < length; i++) {
    const char = text.charCodeAt(i);
    switch (char) {
      case 0x22: // "
        inLiteral = false;
        if (++values > maxValues) throw tooMany(maxValues, i);
        i = closingQuote(text, i);
        break;
      case 0x5b: // [
      case 0x7b: // {
        inLiteral = false;
        if (++depth > maxDepth) {
          throw new SwitchboardError(
            'SB_ERR_HTTP_BAD_BODY',
            `Invalid JSON: containers nested deeper than ${maxDepth} at character ${i}`,
          );
        }
        if (++values > maxValues) throw tooMany(maxValues, i);
        break;
      case 0x5d: // ]
      case 0x7d: // }
        inLiteral = false;
        depth--;
        break;
      case 0x2c: // ,
      case 0x3a: // :
      case 0x20:
      case 0x09:
      case 0x0a:
      case 0x0d:
        inLiteral = false;
        break;
      default:
        if (!inLiteral) {
          inLiteral = true;
          if (++values > maxValues) throw tooMany(maxValues, i);
        }
    }
  }
}

/** Where the string opened at `open` ends (its closing quote), or the end of the text. */
function closingQuote(text: string, open: number): number {
  let from = open + 1;
  for (;;) {
    const quote = text.indexOf('"', from);
    if (quote === -1) return text.length;
    // Escaped when an odd number of backslashes stand before it.
    let slashes = 0;
    while (text.charCodeAt(quote - 1 - slashes) === 0x5c) slashes++;
    if (slashes % 2 === 0) return quote;
    from = quote + 1;
  }
}

function tooMany(maxValues: number, at: number): SwitchboardError {
  return new SwitchboardError(
    'SB_ERR_HTTP_BAD_BODY',
    `Invalid JSON: more than ${maxValues} values (at character ${at})`,
  );
}
