/**
 * The build-time half of the agent's text encoding (ssm/base90.ts): its
 * alphabet, the group lengths and the encoder's output. The host-side decoder
 * is exercised against it in test/integration/ssm-script/unpack.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  BASE90_ALPHABET,
  base90Length,
  bytesIn,
  digitsFor,
  encodeBase90,
  GROUP_BYTES,
  GROUP_DIGITS,
} from '../../../ssm/base90.ts';
import { seededBytes } from '../../helpers/seeded-bytes.ts';

describe('base90 encoding of the agent bundle', () => {
  it('uses 90 distinct printable ASCII characters in code order, none special where the text travels', () => {
    assert.equal(BASE90_ALPHABET.length, 90);
    const codes = [...BASE90_ALPHABET].map((char) => char.charCodeAt(0));
    for (let i = 0; i < codes.length; i++) {
      const code = codes[i] ?? 0;
      assert.ok(code >= 0x21 && code <= 0x7e, `printable, not a space: ${code}`);
      if (i > 0) assert.ok(code > (codes[i - 1] ?? 0), 'in code order, each once');
    }
    for (const char of ["'", '"', '\\', '{']) {
      assert.ok(!BASE90_ALPHABET.includes(char), `leaves out ${char}`);
    }
    // JSON (the document, the CloudFormation template) carries it without escapes.
    assert.equal(JSON.stringify(BASE90_ALPHABET), `"${BASE90_ALPHABET}"`);
  });

  it("sizes groups so that the decoder's rule gives every length's bytes back, and refuses the others", () => {
    // A full group: 21 digits hold 136 bits (90^21 > 2^136 > 90^20).
    assert.equal(digitsFor(GROUP_BYTES), GROUP_DIGITS);
    assert.ok(90n ** 21n > 2n ** 136n && 90n ** 20n < 2n ** 136n);
    const written = new Set<number>();
    for (let m = 1; m <= GROUP_BYTES; m++) {
      const k = digitsFor(m);
      written.add(k);
      assert.ok(90n ** BigInt(k) >= 256n ** BigInt(m), `${k} digits hold ${m} bytes`);
      assert.ok(90n ** BigInt(k - 1) < 256n ** BigInt(m), `${k - 1} digits do not`);
      assert.equal(bytesIn(k), m, `${k} digits carry ${m} bytes`);
      assert.ok(bytesIn(k - 1) < m, `${k} is no redundant length`);
    }
    // The lengths the encoder never writes are exactly those the decoder refuses.
    for (let k = 1; k <= GROUP_DIGITS; k++) {
      assert.equal(bytesIn(k - 1) === bytesIn(k), !written.has(k), `length ${k}`);
    }
    assert.deepEqual(
      [...Array(GROUP_DIGITS).keys()].map((i) => i + 1).filter((k) => !written.has(k)),
      [1, 6, 11, 16],
    );
  });

  it('writes each 17 bytes as 21 big-endian digits and a final group in its fewest digits', () => {
    // Worked out by hand: a lone 0xFF is 255 = 2·90 + 75, digits '$' and 'o';
    // 0x0100 is 256 = 2·90 + 76 in 3 digits (2 bytes need 3), '!$p'.
    assert.equal(encodeBase90(Buffer.alloc(0)), '');
    assert.equal(encodeBase90(Buffer.alloc(17)), '!'.repeat(21));
    assert.equal(encodeBase90(Buffer.from([0xff])), '$o');
    assert.equal(encodeBase90(Buffer.from([1, 0])), '!$p');
    assert.equal(encodeBase90(Buffer.from([0, 0, 0, 1])), '!!!!#');
    assert.equal(encodeBase90(Buffer.concat([Buffer.alloc(17), Buffer.from([0xff])])), `${'!'.repeat(21)}$o`);
    // The largest group, 2^136 - 1, in digits worked out with BigInt the other way round.
    const max = encodeBase90(Buffer.alloc(17, 0xff));
    let value = 0n;
    for (const char of max) value = value * 90n + BigInt(BASE90_ALPHABET.indexOf(char));
    assert.equal(value, 2n ** 136n - 1n);
  });

  it('takes 21 characters per 17 bytes and the fewest for the rest, all of the alphabet', () => {
    for (let n = 0; n <= 80; n++) {
      const bytes = seededBytes(`length ${n}`, n);
      const text = encodeBase90(bytes);
      assert.equal(text.length, base90Length(n), `${n} bytes`);
      assert.ok(text.length <= (n * 21) / 17 + 2, `${n} bytes: ${text.length} characters`);
      for (const char of text) assert.ok(BASE90_ALPHABET.includes(char), char);
    }
  });

  it('encodes a view into a larger buffer as the bytes of the view only', () => {
    const big = seededBytes('view', 64);
    const view = big.subarray(3, 24);
    assert.equal(encodeBase90(view), encodeBase90(Buffer.from(view)));
    assert.equal(
      encodeBase90(new Uint8Array(big.buffer, big.byteOffset + 5, 20)),
      encodeBase90(big.subarray(5, 25)),
    );
  });
});
