/**
 * The text encoding of the agent bundle inside the SSM command document: base 85
 * (5 characters per 4 bytes, where base64 spends 4 per 3: about 6 % less text,
 * which is room for resource lists). The host decodes it with the one-line ES5
 * program CCM_UNPACK in ssm/run-agent.sh, which receives this alphabet as its
 * @@BASE85_ALPHABET@@ token.
 *
 * Format (the Ascii85/btoa scheme without its `z` shorthand): each 4 bytes,
 * read as a big-endian unsigned 32-bit number, become 5 digits, most
 * significant first, digit d written as BASE85_ALPHABET[d]. A final group of
 * n < 4 bytes is zero-padded to 4, encoded, and only its first n + 1 digits are
 * written; the decoder pads those with the highest digit (84) and keeps n
 * bytes. So m bytes take exactly m + ceil(m / 4) characters, and a text whose
 * length is 1 more than a multiple of 5 is not an encoding.
 */

/**
 * Printable ASCII (! to ~, no space) has 94 characters; these 9 are left out,
 * each for a place the text travels: a single-quoted sh string in the step's
 * script, a JSON string in the document and the CloudFormation template, a
 * YAML string when the document is read back as YAML, and the SSM and
 * CloudFormation syntax around them.
 *   '      ends the single-quoted sh string that carries the text.
 *   " \    escaped in JSON and double-quoted YAML (2 bytes each, and a hazard).
 *   { }    SSM parameter references {{ Name }}, CloudFormation dynamic
 *          references {{resolve:...}}.
 *   $ `    sh expansion and command substitution, serverless ${...} variables
 *          and Fn::Sub, should the text ever stand outside single quotes.
 *   % &    two of the 87 left must go: these are the escape introducers of
 *          URLs and printf formats (%) and of HTML/XML (&), formats the text
 *          may be copied into; the text is printf's argument, never its format.
 * The other 85 are plain text in every one of those places.
 */
const LEFT_OUT = '\'"\\{}$`%&';

/** The 85 digits, value 0 to 84 in this order: printable ASCII in code order without LEFT_OUT. */
export const BASE85_ALPHABET = ((): string => {
  let alphabet = '';
  for (let code = 0x21; code <= 0x7e; code++) {
    const char = String.fromCharCode(code);
    if (!LEFT_OUT.includes(char)) alphabet += char;
  }
  if (alphabet.length !== 85) throw new Error(`base85 alphabet has ${alphabet.length} characters`);
  return alphabet;
})();

/** Characters an encoding of `bytes` bytes takes: bytes + ceil(bytes / 4). */
export function base85Length(bytes: number): number {
  return bytes + Math.ceil(bytes / 4);
}

/** Encodes bytes as described in this module's header; the empty input gives ''. */
export function encodeBase85(bytes: Uint8Array): string {
  const data = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const group = Buffer.alloc(4);
  const digits: string[] = ['', '', '', '', ''];
  let text = '';
  for (let offset = 0; offset < data.length; offset += 4) {
    const take = Math.min(4, data.length - offset);
    group.fill(0);
    data.copy(group, 0, offset, offset + take);
    let value = group.readUInt32BE(0);
    for (let i = 4; i >= 0; i--) {
      digits[i] = BASE85_ALPHABET.charAt(value % 85);
      value = Math.floor(value / 85);
    }
    text += take === 4 ? digits.join('') : digits.slice(0, take + 1).join('');
  }
  return text;
}
