import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parseMtrJson } from '../../../agent/mtr/parse-mtr-json.ts';
import { MonitorError } from '../../../common/errors.ts';

const FIXTURES = path.join(__dirname, '..', '..', 'fixtures', 'mtr');

function fixture(name: string): string {
  return readFileSync(path.join(FIXTURES, name), 'utf8');
}

function assertOutputError(text: string, pattern: RegExp): void {
  assert.throws(
    () => parseMtrJson(text),
    (error: unknown) => {
      assert.ok(error instanceof MonitorError, 'throws a MonitorError');
      assert.equal(error.code, 'E_MTR_OUTPUT');
      assert.match(error.message, pattern);
      return true;
    },
  );
}

describe('parseMtrJson with mtr 0.95 output captured on this machine', () => {
  it('reads every default field of a loopback run', () => {
    // Prepare
    const text = fixture('mtr095-loopback-v4.json');
    // Act
    const report = parseMtrJson(text);
    // Assess
    assert.equal(report.dst, '127.0.0.1');
    assert.equal(report.tests, 3);
    assert.deepEqual(report.hops, [
      {
        ttl: 1,
        host: '127.0.0.1',
        lossPct: 0,
        sent: 3,
        lastMs: 0.053,
        avgMs: 0.067,
        bestMs: 0.053,
        worstMs: 0.097,
        stdevMs: 0.024,
      },
    ]);
  });

  it('leaves fields that -o AL does not print as null', () => {
    const report = parseMtrJson(fixture('mtr095-loopback-v4-AL.json'));
    assert.deepEqual(report.hops, [
      {
        ttl: 1,
        host: '127.0.0.1',
        lossPct: 0,
        sent: null,
        lastMs: null,
        avgMs: 0.072,
        bestMs: null,
        worstMs: null,
        stdevMs: null,
      },
    ]);
  });

  it('reads an IPv6 loopback run', () => {
    const report = parseMtrJson(fixture('mtr095-loopback-v6.json'));
    assert.equal(report.dst, '::1');
    assert.equal(report.hops[0]?.host, '::1');
    assert.equal(report.hops[0]?.bestMs, 0.06);
  });

  it('turns a ??? hop into host null with no times (mtr prints 0.0 for them)', () => {
    const report = parseMtrJson(fixture('mtr095-netns-silent-router.json'));
    const [first, second] = report.hops;
    assert.deepEqual(first, {
      ttl: 1,
      host: null,
      lossPct: 100,
      sent: 5,
      lastMs: null,
      avgMs: null,
      bestMs: null,
      worstMs: null,
      stdevMs: null,
    });
    assert.equal(second?.host, '10.199.2.2');
    assert.equal(second?.lossPct, 0);
    assert.equal(typeof second?.avgMs, 'number');
  });

  it('keeps fractional loss of a lossy destination', () => {
    const report = parseMtrJson(fixture('mtr095-netns-dest-loss-AL.json'));
    assert.deepEqual(
      report.hops.map((hop) => [hop.ttl, hop.host, hop.lossPct]),
      [
        [1, '10.199.1.1', 0],
        [2, '10.199.2.2', 25],
      ],
    );
  });

  it('keeps the ttl mtr printed when the first hops are skipped (--first-ttl)', () => {
    const report = parseMtrJson(fixture('mtr095-crafted-first-ttl-3.json'));
    assert.deepEqual(
      report.hops.map((hop) => hop.ttl),
      [3, 4, 5],
    );
  });
});

describe('parseMtrJson with mtr 0.92/0.93 hand-printed JSON', () => {
  it('reads count, tests and tos given as strings and two-decimal reals', () => {
    // Prepare
    const text = fixture('mtr092-crafted-default.json');
    // Act
    const report = parseMtrJson(text);
    // Assess
    assert.equal(report.tests, 10);
    assert.deepEqual(
      report.hops.map((hop) => [hop.ttl, hop.host, hop.lossPct, hop.sent, hop.avgMs]),
      [
        [1, '100.64.0.1', 0, 10, 1.23],
        [2, '10.8.0.1', 30, 10, 2.4],
        [3, null, 100, 10, null],
        [4, '10.20.0.10', 30, 10, 4.9],
      ],
    );
    assert.equal(report.hops[0]?.worstMs, 1.6);
  });

  it('reads the -o AL variant', () => {
    const report = parseMtrJson(fixture('mtr092-crafted-AL.json'));
    assert.deepEqual(report.hops[1], {
      ttl: 2,
      host: '10.20.0.10',
      lossPct: 0,
      sent: null,
      lastMs: null,
      avgMs: 2.25,
      bestMs: null,
      worstMs: null,
      stdevMs: null,
    });
  });

  it('accepts numbers given as strings for any field', () => {
    const text = JSON.stringify({
      report: {
        mtr: { dst: 'x', tests: ' 5 ' },
        hubs: [{ count: '2', host: 'h', 'Loss%': '12.50', Avg: '3.00', Snt: '5' }],
      },
    });
    const report = parseMtrJson(text);
    assert.equal(report.tests, 5);
    assert.deepEqual(report.hops[0], {
      ttl: 2,
      host: 'h',
      lossPct: 12.5,
      sent: 5,
      lastMs: null,
      avgMs: 3,
      bestMs: null,
      worstMs: null,
      stdevMs: null,
    });
  });
});

describe('parseMtrJson rejects output that is not an mtr report', () => {
  const hub = { count: 1, host: '127.0.0.1', 'Loss%': 0, Avg: 0.1 };
  const wrap = (hubs: unknown, mtr: unknown = { dst: '127.0.0.1', tests: 3 }): string =>
    JSON.stringify({ report: { mtr, hubs } });

  it('names empty output', () => {
    assertOutputError('  \n', /output is empty/);
  });

  it('names invalid JSON and quotes the start of the output', () => {
    assertOutputError(
      'mtr: Failure to start mtr-packet: Invalid argument',
      /not valid JSON.*output: mtr: Failure/,
    );
  });

  it('names a JSON document cut short', () => {
    const text = fixture('mtr095-loopback-v4.json');
    assertOutputError(text.slice(0, text.length / 2), /not valid JSON/);
  });

  it('names the 0.92 output for a run with no hops, which is not JSON', () => {
    assertOutputError('{\n  "report": {\n    "mtr": {\n    },\n    "hubs": [  }\n}\n', /not valid JSON/);
  });

  it('names a missing report object', () => {
    assertOutputError('{"hubs": []}', /no "report" object/);
    assertOutputError('[]', /not an object/);
  });

  it('names a missing report.mtr or dst', () => {
    assertOutputError(JSON.stringify({ report: { hubs: [] } }), /no "report\.mtr" object/);
    assertOutputError(wrap([], { tests: 3 }), /report\.mtr\.dst/);
  });

  it('names hubs that are not an array', () => {
    assertOutputError(wrap({}), /"report\.hubs" is missing or not an array/);
  });

  it('names a hop without a usable count', () => {
    assertOutputError(wrap([{ ...hub, count: 0 }]), /report\.hubs\[0\]\.count 0 is not a positive integer/);
    assertOutputError(wrap([{ ...hub, count: 'one' }]), /report\.hubs\[0\]\.count "one" is not a number/);
    assertOutputError(wrap([{ ...hub, count: undefined }]), /count \(missing\)/);
  });

  it('names hops out of order or repeated', () => {
    assertOutputError(wrap([hub, { ...hub, count: 1 }]), /hop 2 has count 1, not above the previous count 1/);
  });

  it('names a hop without a host', () => {
    assertOutputError(wrap([{ ...hub, host: 7 }]), /report\.hubs\[0\]\.host 7/);
  });

  it('names a hop without Loss% or with loss outside 0..100', () => {
    assertOutputError(wrap([{ count: 1, host: 'h', Avg: 1 }]), /has no "Loss%"/);
    assertOutputError(wrap([{ ...hub, 'Loss%': 120 }]), /Loss% 120 is outside 0\.\.100/);
  });

  it('names a time that is not a number or is negative', () => {
    assertOutputError(wrap([{ ...hub, Avg: 'fast' }]), /report\.hubs\[0\]\.Avg "fast" is not a number/);
    assertOutputError(wrap([{ ...hub, Avg: -1 }]), /Avg -1 is negative/);
  });

  it('names a tests count that is not a positive integer', () => {
    assertOutputError(wrap([hub], { dst: 'x', tests: 2.5 }), /tests" 2\.5 is not a positive integer/);
  });

  it('keeps the excerpt short for huge output', () => {
    assert.throws(
      () => parseMtrJson(`x${'y'.repeat(10_000)}`),
      (error: unknown) => error instanceof MonitorError && error.message.length < 400,
    );
  });
});
