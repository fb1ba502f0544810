/**
 * Cutting text to a length, the one way every module does it. Lengths are
 * JavaScript string lengths (UTF-16 code units: what `String.length`, the
 * SSM output limit and the result schema count), and a cut never falls
 * inside a surrogate pair: half of a pair is no character at all, has no
 * UTF-8 form (CloudWatch Logs rejects it) and shows as a replacement glyph.
 * When the cut would split a pair, the whole pair is left out, so the result
 * may be one unit shorter than asked.
 *
 * No imports: shared by the agent and the Lambda functions.
 */

const isHigh = (code: number): boolean => code >= 0xd800 && code <= 0xdbff;
const isLow = (code: number): boolean => code >= 0xdc00 && code <= 0xdfff;

/** The first `max` code units of `text` at most (`text` itself when it is no longer), never half a pair. */
export function headOf(text: string, max: number): string {
  const units = Math.max(0, Math.floor(max));
  if (text.length <= units) return text;
  const end =
    units > 0 && isHigh(text.charCodeAt(units - 1)) && isLow(text.charCodeAt(units)) ? units - 1 : units;
  return text.slice(0, end);
}

/** The last `max` code units of `text` at most, never half a pair. */
export function tailOf(text: string, max: number): string {
  const units = Math.max(0, Math.floor(max));
  if (text.length <= units) return text;
  if (units === 0) return '';
  const start = text.length - units;
  return text.slice(isLow(text.charCodeAt(start)) && isHigh(text.charCodeAt(start - 1)) ? start + 1 : start);
}

/**
 * `text` when it has at most `max` code units; else its head followed by
 * `mark` (default `…`), `max` units in all at most. `mark` may be a function
 * of the original length, e.g. `(n) => `…(${n} chars)``.
 */
export function clipText(
  text: string,
  max: number,
  mark: string | ((length: number) => string) = '…',
): string {
  if (text.length <= max) return text;
  const tail = typeof mark === 'string' ? mark : mark(text.length);
  return `${headOf(text, max - tail.length)}${tail}`;
}

/** The mark of a text clipped with its original length: `https://wiki.corp…(140 chars)`. */
export const lengthMark = (length: number): string => `…(${length} chars)`;
