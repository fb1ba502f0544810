/**
 * The text encoding of the agent bundle inside the SSM command document: base 90
 * (21 characters per 17 bytes, where base64 spends 4 per 3 and base85 5 per 4:
 * about 1.2 % less text than base85, some 580 characters of room for resource
 * lists with today's agent). The host decodes it with the one-line program
 * CCM_UNPACK in ssm/run-agent.sh, which receives this alphabet as its
 * @@BASE90_ALPHABET@@ token.
 *
 * Format: each 17 bytes, read as a big-endian unsigned 136-bit number, become
 * 21 digits, most significant first, digit d written as BASE90_ALPHABET[d]
 * (90^21 is just above 2^136). A final group of m < 17 bytes is the m-byte
 * number in the fewest digits that can hold any m bytes, k = digitsFor(m). The
 * decoder needs no length marker: k digits carry bytesIn(k) = floor(k × 0.8115)
 * bytes (0.8115 is log256(90) = 0.81148 rounded up; for k ≤ 21 no product is
 * within 0.01 of an integer, so the rounding never changes the floor), and a k
 * with bytesIn(k - 1) = bytesIn(k) (1, 6, 11 and 16) is no length the encoder
 * writes, nor is a group whose value does not fit its bytes.
 */

/**
 * Printable ASCII (! to ~, no space) has 94 characters; these 4 are left out,
 * each for a place the text travels: a single-quoted sh string in the step's
 * script, a JSON string in the document and the CloudFormation template, the
 * SSM and CloudFormation syntax around them.
 *   '      ends the single-quoted sh string that carries the text.
 *   " \    escaped in JSON and double-quoted YAML (2 bytes each, and a hazard).
 *   {      opens SSM parameter references {{ Name }}, CloudFormation dynamic
 *          references {{resolve:...}} and serverless ${...} variables (osls
 *          builds the document through ${file(ssm/document.cjs)}): without it
 *          the text holds none of them, whatever else it holds.
 * The other 90 are plain text in all of those places. Outside single quotes
 * many would be shell syntax ($ ` ; | < > ( ) * ? [ ...), so the text is only
 * ever printf's argument in single quotes (never its format), and code that
 * substitutes it into other text uses split/join or a replacer function, never
 * String.replace's replacement string ($& and $` are patterns there).
 */
const LEFT_OUT = '\'"\\{';

/** The 90 digits, value 0 to 89 in this order: printable ASCII in code order without LEFT_OUT. */
export const BASE90_ALPHABET = ((): string => {
  let alphabet = '';
  for (let code = 0x21; code <= 0x7e; code++) {
    const char = String.fromCharCode(code);
    if (!LEFT_OUT.includes(char)) alphabet += char;
  }
  if (alphabet.length !== 90) throw new Error(`base90 alphabet has ${alphabet.length} characters`);
  return alphabet;
})();

/** Bytes in a full group, and its digits. */
export const GROUP_BYTES = 17;
export const GROUP_DIGITS = 21;

/** Bytes that k digits carry (the decoder's rule, CCM_UNPACK): floor(k × 0.8115). */
export function bytesIn(digits: number): number {
  return Math.floor(digits * 0.8115);
}

/** Digits of a group of m bytes (1 to 17): the fewest k with 90^k ≥ 256^m. */
export function digitsFor(bytes: number): number {
  const limit = 256n ** BigInt(bytes);
  let digits = 0;
  for (let capacity = 1n; capacity < limit; capacity *= 90n) digits++;
  return digits;
}

/** Characters an encoding of `bytes` bytes takes. */
export function base90Length(bytes: number): number {
  const tail = bytes % GROUP_BYTES;
  return Math.floor(bytes / GROUP_BYTES) * GROUP_DIGITS + (tail === 0 ? 0 : digitsFor(tail));
}

/** Encodes bytes as described in this module's header; the empty input gives ''. */
export function encodeBase90(bytes: Uint8Array): string {
  let text = '';
  for (let offset = 0; offset < bytes.length; offset += GROUP_BYTES) {
    const group = bytes.subarray(offset, offset + GROUP_BYTES);
    let value = 0n;
    for (const byte of group) value = (value << 8n) | BigInt(byte);
    const digits = new Array<string>(digitsFor(group.length));
    for (let i = digits.length - 1; i >= 0; i--) {
      digits[i] = BASE90_ALPHABET.charAt(Number(value % 90n));
      value /= 90n;
    }
    text += digits.join('');
  }
  return text;
}
