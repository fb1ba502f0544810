/**
 * The build-time half of the agent's text encoding (ssm/base85.ts): its
 * alphabet and the encoder's output. The host-side decoder is exercised
 * against it in test/integration/ssm-script/unpack.test.ts.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { BASE85_ALPHABET, base85Length, encodeBase85 } from '../../../ssm/base85.ts';

describe('base85 encoding of the agent bundle', () => {
  it('uses 85 distinct printable ASCII characters in code order, none special where the text travels', () => {
    assert.equal(BASE85_ALPHABET.length, 85);
    const codes = [...BASE85_ALPHABET].map((char) => char.charCodeAt(0));
    for (let i = 0; i < codes.length; i++) {
      const code = codes[i] ?? 0;
      assert.ok(code >= 0x21 && code <= 0x7e, `printable, not a space: ${code}`);
      if (i > 0) assert.ok(code > (codes[i - 1] ?? 0), 'in code order, each once');
    }
    for (const char of ["'", '"', '\\', '{', '}', '$', '`', '%', '&']) {
      assert.ok(!BASE85_ALPHABET.includes(char), `leaves out ${char}`);
    }
    // JSON (the document, the CloudFormation template) carries it without escapes.
    assert.equal(JSON.stringify(BASE85_ALPHABET), `"${BASE85_ALPHABET}"`);
  });

  it('writes each 4 bytes as 5 big-endian digits and a final n-byte group as its first n+1 digits', () => {
    // Digits worked out by hand from the format: 0xFFFFFFFF = 82·85⁴ + 23·85³ + 54·85² + 12·85 + 0,
    // and a lone 0xFF is 0xFF000000, whose first two digits are 81 and 81.
    assert.equal(encodeBase85(Buffer.alloc(0)), '');
    assert.equal(encodeBase85(Buffer.from([0, 0, 0, 0])), '!!!!!');
    assert.equal(encodeBase85(Buffer.from([0xff, 0xff, 0xff, 0xff])), 'z=]2!');
    assert.equal(encodeBase85(Buffer.from([0xff])), 'yy');
    assert.equal(encodeBase85(Buffer.from([0, 0, 0, 0, 0xff])), '!!!!!yy');
    assert.equal(encodeBase85(Buffer.from([0, 0, 0, 1])), '!!!!#');
  });

  it('takes exactly n + ceil(n/4) characters of the alphabet for n bytes, within 5/4 of n + 4', () => {
    for (let n = 0; n <= 64; n++) {
      const bytes = randomBytes(n);
      const text = encodeBase85(bytes);
      assert.equal(text.length, base85Length(n), `${n} bytes`);
      assert.equal(text.length, n + Math.ceil(n / 4));
      assert.ok(text.length <= (n * 5) / 4 + 4, `${n} bytes: ${text.length} characters`);
      for (const char of text) assert.ok(BASE85_ALPHABET.includes(char), char);
    }
  });

  it('encodes a view into a larger buffer as the bytes of the view only', () => {
    const big = randomBytes(64);
    const view = big.subarray(3, 14);
    assert.equal(encodeBase85(view), encodeBase85(Buffer.from(view)));
    assert.equal(
      encodeBase85(new Uint8Array(big.buffer, big.byteOffset + 5, 6)),
      encodeBase85(big.subarray(5, 11)),
    );
  });
});
