/**
 * Text from hosts (mtr hop names, targets, addresses) is shown in plain-text
 * files and log events, read in terminals and the CloudWatch console. A
 * control character there can clear a screen or recolour it (ESC), forge a
 * line (CR, LF) or reorder what a reader sees (Unicode bidirectional
 * overrides), so such characters are written as visible escapes instead.
 *
 * Characters treated as control characters: C0 (U+0000..U+001F), DEL, C1
 * (U+0080..U+009F), the line and paragraph separators U+2028/U+2029, and the
 * bidirectional marks, embeddings, overrides and isolates (U+200E, U+200F,
 * U+202A..U+202E, U+2066..U+2069). An unpaired UTF-16 surrogate (which JSON
 * can carry as `\ud800`) is escaped too: it is no character at all and has no
 * UTF-8 form, which CloudWatch Logs requires.
 *
 * No imports: shared by the agent and the Lambda functions.
 */

export function isControlCodePoint(code: number): boolean {
  return (
    code <= 0x1f ||
    (code >= 0x7f && code <= 0x9f) ||
    code === 0x200e ||
    code === 0x200f ||
    code === 0x2028 ||
    code === 0x2029 ||
    (code >= 0x202a && code <= 0x202e) ||
    (code >= 0x2066 && code <= 0x2069)
  );
}

/*
 * The same sets as regular expressions over UTF-16 code units (no `u` flag), for
 * the whole-text checks: whole result documents pass through them every round,
 * where a native scan is far cheaper than a loop per code unit.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is this pattern's purpose
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?:^|[^\ud800-\udbff])[\udc00-\udfff]/;

/** A UTF-16 code unit at `i` that is half of a surrogate pair without its other half. */
function isLoneSurrogateAt(text: string, i: number): boolean {
  const code = text.charCodeAt(i);
  if (code >= 0xd800 && code <= 0xdbff) {
    const next = text.charCodeAt(i + 1);
    return !(next >= 0xdc00 && next <= 0xdfff);
  }
  if (code >= 0xdc00 && code <= 0xdfff) {
    const previous = text.charCodeAt(i - 1);
    return !(previous >= 0xd800 && previous <= 0xdbff);
  }
  return false;
}

function needsEscapeAt(text: string, i: number): boolean {
  return isControlCodePoint(text.charCodeAt(i)) || isLoneSurrogateAt(text, i);
}

/** Whether `text` holds a control character (an unpaired surrogate is not one: see isPrintable). */
export function hasControlCharacters(text: string): boolean {
  return CONTROL.test(text);
}

/** Whether `text` can be shown as it is: no control character and no unpaired surrogate. */
export function isPrintable(text: string): boolean {
  return !CONTROL.test(text) && !LONE_SURROGATE.test(text);
}

/**
 * The text with each control character and unpaired surrogate written as
 * `\xHH` (up to U+00FF) or `\uHHHH`; printable text is returned unchanged.
 */
export function escapeControlCharacters(text: string): string {
  if (isPrintable(text)) return text;
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (!needsEscapeAt(text, i)) out += text[i];
    else if (code <= 0xff) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else out += `\\u${code.toString(16).padStart(4, '0')}`;
  }
  return out;
}

/**
 * JSON text of `value` with no control character raw. JSON.stringify already
 * escapes C0 in strings but writes DEL, C1, U+2028/U+2029 and the
 * bidirectional controls as they are; these are written as `\uHHHH` here. The
 * JSON value is the same; only its text changes, and only where such a
 * character occurs (JSON's own syntax is ASCII, so each one is in a string).
 */
export function stringifyPrintable(
  value: unknown,
  replacer?: (this: unknown, key: string, value: unknown) => unknown,
): string {
  const json = JSON.stringify(value, replacer);
  if (json === undefined || isPrintable(json)) return json;
  let out = '';
  for (let i = 0; i < json.length; i++) {
    const code = json.charCodeAt(i);
    out += needsEscapeAt(json, i) ? `\\u${code.toString(16).padStart(4, '0')}` : json[i];
  }
  return out;
}
