/**
 * Host text reaches terminals and the CloudWatch console: control characters
 * are written as visible escapes in text, and never raw in JSON.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderMtrFile, roundMtrTexts } from '../../../common/mtr-report-text.ts';
import {
  escapeControlCharacters,
  hasControlCharacters,
  isControlCodePoint,
  isPrintable,
  stringifyPrintable,
} from '../../../common/printable.ts';
import type { Hop } from '../../../common/result-schema.ts';
import { serializeSeedRecord } from '../../../common/seed-line.ts';

const CONTROLS = [
  '\u0000',
  '\u0007',
  '\b',
  '\t',
  '\n',
  '\r',
  '\u001b',
  '\u007f',
  '\u0085',
  '\u009b',
  '\u2028',
  '\u2029',
  '\u200e',
  '\u200f',
  '\u202a',
  '\u202e',
  '\u2066',
  '\u2069',
];

const hop = (ttl: number, host: string | null): Hop => ({
  ttl,
  host,
  lossPct: 0,
  sent: 3,
  lastMs: 1,
  avgMs: 1,
  bestMs: 1,
  worstMs: 1,
  stdevMs: 0,
  jitterMs: 0,
});

describe('escapeControlCharacters', () => {
  it('writes each control character as \\xHH or \\uHHHH, and leaves other text alone', () => {
    assert.equal(escapeControlCharacters('a\u001b[2Jb\r\nc'), 'a\\x1b[2Jb\\x0d\\x0ac');
    assert.equal(escapeControlCharacters('\u202eevil\u2066'), '\\u202eevil\\u2066');
    assert.equal(escapeControlCharacters('\u009b31m'), '\\x9b31m');
    for (const text of ['10.0.0.1', 'db.corp.internal', 'https://wiki.corp/ü?q=1', 'a\\b', '???', '']) {
      assert.equal(escapeControlCharacters(text), text);
      assert.equal(hasControlCharacters(text), false);
    }
    for (const c of CONTROLS) {
      assert.equal(hasControlCharacters(`x${c}`), true, JSON.stringify(c));
      assert.equal(hasControlCharacters(escapeControlCharacters(`x${c}`)), false, JSON.stringify(c));
    }
  });
});

describe('unpaired surrogates', () => {
  it('are escaped (they have no UTF-8 form) while pairs are kept; they are not control characters', () => {
    assert.equal(escapeControlCharacters('a\ud800b\udc00c'), 'a\\ud800b\\udc00c');
    assert.equal(escapeControlCharacters('ok \u{1F600}'), 'ok \u{1F600}');
    assert.equal(isPrintable('\u{1F600}'), true);
    assert.equal(isPrintable('x\udfff'), false);
    assert.equal(hasControlCharacters('x\udfff'), false);
    const text = stringifyPrintable({ h: 'x\ud800' });
    assert.equal(text, '{"h":"x\\ud800"}');
    assert.equal(isPrintable(text), true);
  });
});

describe('stringifyPrintable', () => {
  it('gives the same JSON value as JSON.stringify, with no control character raw', () => {
    const value = { host: `a${CONTROLS.join('')}z`, n: [1, null, 'ü'], nested: { '\u202ekey': '\u2028' } };
    const text = stringifyPrintable(value);
    assert.deepEqual(JSON.parse(text), value);
    assert.equal(hasControlCharacters(text), false);
    assert.equal(stringifyPrintable({ a: 'plain', b: 1 }), JSON.stringify({ a: 'plain', b: 1 }));
  });

  it('keeps the seed line byte for byte for ordinary values and escapes a hostile host name', () => {
    const seed = {
      HOSTNAME: 'connector-1',
      'RESOURCE(S)': ['10.0.0.1'],
      GATEWAY_IP: 'N/A',
      LATENCY_FLAG: '0' as const,
      'LATENCY_(ms)': '1.0',
      'LATENCY_THRESHOLD_(ms)': '75',
      LOSS_FLAG: '0' as const,
      'HOP_LOSS_(%)': '0.0',
      'LOSS_THRESHOLD_(%)': '5',
      'MTR-ID_(YYYYMMDDHHMMSS)': '0',
    };
    assert.equal(serializeSeedRecord(seed), JSON.stringify(seed));
    const hostile = serializeSeedRecord({ ...seed, HOSTNAME: 'h\u202e\u0085' });
    assert.ok(hostile.includes('"HOSTNAME":"h\\u202e\\u0085"'));
    assert.equal((JSON.parse(hostile) as { HOSTNAME: string }).HOSTNAME, 'h\u202e\u0085');
  });
});

describe('MTR text built from host data', () => {
  it('escapes control characters in hop names and targets (then cut at column 33 as mtr does); ordinary names are unchanged', () => {
    // Prepare: two flagged sections, so the targets appear in the headers.
    const hostile = {
      target: 'db\u001b[31m\nRESOURCE MTR: 0 forged',
      hops: [hop(1, '10.0.0.1\r\n 2.|-- forged'), hop(2, '\u202e1.0.0.01')],
      lossPct: 0,
      latencyFlag: true,
      lossFlag: false,
      verdict: 'latency' as const,
    };
    const ordinary = { ...hostile, target: '10.0.0.9', hops: [hop(1, '10.0.0.9')] };
    // Act
    const texts = roundMtrTexts('20260101120000', [hostile, ordinary], {
      ip: '203.0.113.5\u001b]0;x\u0007',
      hops: [hop(1, '\u0000')],
    });
    // Assess
    const text = `${texts.resource ?? ''}${texts.gateway ?? ''}`;
    assert.equal(hasControlCharacters(text.replaceAll('\n', '')), false);
    const lines = text.split('\n').filter((l) => l !== '');
    assert.deepEqual(lines, [
      'RESOURCE MTR: 20260101120000 db\\x1b[31m\\x0aRESOURCE MTR: 0 forged (Hop, Avg, Loss%)',
      '  1.|-- 10.0.0.1\\x0d\\x0a 2.|-- fo   1.0  0.0%',
      '  2.|-- \\u202e1.0.0.01              1.0  0.0%',
      'RESOURCE MTR: 20260101120000 10.0.0.9 (Hop, Avg, Loss%)',
      '  1.|-- 10.0.0.9                    1.0  0.0%',
      'GATEWAY MTR: 20260101120000 (Hop, Avg, Loss%)',
      '  1.|-- \\x00                        1.0  0.0%',
    ]);
    assert.equal(
      renderMtrFile('RESOURCE', '0', [{ target: 'x', hops: [hop(1, 'router.corp')] }]),
      'RESOURCE MTR: 0 (Hop, Avg, Loss%)\n  1.|-- router.corp                 1.0  0.0%\n',
    );
  });
});

describe('the whole-text checks', () => {
  it('agree with the code-unit definition on random text near every boundary', () => {
    // Prepare: code units at and around each edge of the sets, surrogates of both halves, plain text
    const units = [
      0x0, 0x1f, 0x20, 0x41, 0x7e, 0x7f, 0x9f, 0xa0, 0x200d, 0x200e, 0x200f, 0x2010, 0x2027, 0x2028, 0x2029,
      0x202a, 0x202e, 0x202f, 0x2065, 0x2066, 0x2069, 0x206a, 0xd7ff, 0xd800, 0xdbff, 0xdc00, 0xdfff, 0xe000,
    ];
    let seed = 7;
    const next = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    for (let round = 0; round < 20_000; round++) {
      const codes = Array.from({ length: 1 + next(6) }, () => units[next(units.length)] as number);
      const text = String.fromCharCode(...codes);
      const lone = codes.some((c, i) =>
        c >= 0xd800 && c <= 0xdbff
          ? !((codes[i + 1] ?? 0) >= 0xdc00 && (codes[i + 1] ?? 0) <= 0xdfff)
          : c >= 0xdc00 && c <= 0xdfff && !((codes[i - 1] ?? 0) >= 0xd800 && (codes[i - 1] ?? 0) <= 0xdbff),
      );
      const control = codes.some(isControlCodePoint);

      // Act and Assess
      assert.equal(hasControlCharacters(text), control, JSON.stringify(codes));
      assert.equal(isPrintable(text), !control && !lone, JSON.stringify(codes));
    }
  });
});
