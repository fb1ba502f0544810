/**
 * How a value from a host gets into a notification. Every such value (a host
 * name, a target, a hop, a warning, an error text, a tunnel's status) passes
 * one of these on its way in, so no host can forge a line, a heading or a
 * link in another host's part of the message:
 *
 * - `show` (e-mail, webhook text): control characters, line breaks and
 *   bidirectional overrides written as visible escapes (common/printable.ts),
 *   then clipped with `…` and the original length.
 * - `chatCode` (Slack / Teams markdown): `show`, then set in an inline code
 *   span, where neither client renders markdown, links or mentions; backticks
 *   (which would end the span) and angle brackets (Slack's `<!channel>`,
 *   `<https://...|text>` syntax) are replaced by look-alikes.
 * - `asciiSubject` (SNS Subject): printable ASCII only, one line.
 */
import { escapeControlCharacters } from '../../common/printable.ts';

/** The value escaped and clipped to `max` characters (the clip says how long it was). */
export function show(value: string | null | undefined, max: number): string {
  if (value === null || value === undefined) return '-';
  const escaped = escapeControlCharacters(value);
  if (escaped.length <= max) return escaped;
  const note = `… (${value.length} chars)`;
  return `${cutUnits(escaped, Math.max(1, max - note.length))}${note}`;
}

/** An inline code span for chat markdown (see the module comment). */
export function chatCode(value: string | null | undefined, max: number): string {
  const text = show(value, max).replace(/`/g, 'ˋ').replace(/</g, '‹').replace(/>/g, '›');
  return `\`${text === '' ? ' ' : text}\``;
}

/** Chat markdown text that is ours but may quote AWS's words: no markup characters take effect. */
export function chatPlain(value: string, max: number): string {
  return show(value, max)
    .replace(/[`*_~|]/g, ' ')
    .replace(/</g, '‹')
    .replace(/>/g, '›');
}

/**
 * An SNS Subject: printable ASCII, one line, at most `max` characters, starting
 * with a letter or digit. Non-ASCII characters become `?`.
 */
export function asciiSubject(value: string, max: number): string {
  const ascii = value
    .replace(/[\r\n\t]+/g, ' ')
    .replace(/[^\x20-\x7e]/g, '?')
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/^[^A-Za-z0-9]+/, '');
  const subject = ascii === '' ? 'CloudConnexa Monitor notification' : ascii;
  return subject.length <= max ? subject : `${subject.slice(0, max - 3).trimEnd()}...`;
}

/** The first `n` UTF-16 units, without splitting a surrogate pair. */
export function cutUnits(text: string, n: number): string {
  if (text.length <= n) return text;
  const code = text.charCodeAt(n - 1);
  return code >= 0xd800 && code <= 0xdbff ? text.slice(0, n - 1) : text.slice(0, n);
}

export const utf8Bytes = (text: string): number => Buffer.byteLength(text, 'utf8');

/** Cuts `text` to at most `maxBytes` UTF-8 bytes on a character boundary. */
export function cutBytes(text: string, maxBytes: number): string {
  if (utf8Bytes(text) <= maxBytes) return text;
  let out = '';
  let bytes = 0;
  for (const char of text) {
    const size = utf8Bytes(char);
    if (bytes + size > maxBytes) break;
    out += char;
    bytes += size;
  }
  return out;
}
