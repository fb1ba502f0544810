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
    assert.deepEqual(report.quirks, []);
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
        jitterMs: null,
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
        jitterMs: null,
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
      jitterMs: null,
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
      jitterMs: null,
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
      jitterMs: null,
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
      /no JSON report.*output: mtr: Failure/,
    );
    assertOutputError('{ "report": [ 1, }\n', /not valid JSON.*output: \{ "report": \[ 1, \}/);
    assertOutputError('{ "report": [ truncated\n', /not closed/);
  });

  it('names a JSON document cut short', () => {
    const text = fixture('mtr095-loopback-v4.json');
    assertOutputError(text.slice(0, text.length / 2), /not valid JSON/);
  });

  it('names a missing report object', () => {
    assertOutputError('{"hubs": []}', /no "report" object/);
    assertOutputError('[]', /no line starts with "\{"/);
    assertOutputError('{"report": 7}', /no "report" object/);
  });

  it('reads a report without report.mtr or dst (evidence only, never judged) with dst null', () => {
    assert.deepEqual(parseMtrJson(JSON.stringify({ report: { hubs: [] } })), {
      dst: null,
      tests: null,
      hops: [],
      quirks: [],
    });
    assert.equal(parseMtrJson(wrap([hub], { tests: 3 })).dst, null);
  });

  it('names hubs that are not an array', () => {
    assertOutputError(wrap({}), /"report\.hubs" is missing or not an array/);
  });

  it('names a hop without a usable count', () => {
    assertOutputError(wrap([{ ...hub, count: 0 }]), /report\.hubs\[0\]\.count 0 is not a positive integer/);
    assertOutputError(wrap([{ ...hub, count: 'one' }]), /report\.hubs\[0\]\.count "one" is not a number/);
    assertOutputError(wrap([{ ...hub, count: '+1' }]), /count "\+1" is not a number/);
    assertOutputError(wrap([{ ...hub, count: undefined }]), /count \(missing\)/);
  });

  it('names hops out of order or repeated', () => {
    assertOutputError(wrap([hub, { ...hub, count: 1 }]), /hop 2 has count 1, not above the previous count 1/);
  });

  it('names a hop without a host', () => {
    assertOutputError(wrap([{ ...hub, host: 7 }]), /report\.hubs\[0\]\.host 7/);
  });

  it('names a hop without Loss%, with a Loss% that has no value, or with loss outside 0..100', () => {
    assertOutputError(wrap([{ count: 1, host: 'h', Avg: 1 }]), /has no "Loss%".*without L/);
    assertOutputError(wrap([{ ...hub, 'Loss%': 'nan' }]), /Loss% "nan" has no value/);
    assertOutputError(wrap([{ ...hub, 'Loss%': 120 }]), /Loss% 120 is outside 0\.\.100/);
  });

  it('names a time that is not a number', () => {
    assertOutputError(wrap([{ ...hub, Avg: 'fast' }]), /report\.hubs\[0\]\.Avg "fast" is not a number/);
    assertOutputError(wrap([{ ...hub, Avg: true }]), /Avg true is not a number/);
  });

  it('reads a negative time as no value (it cannot be a round trip)', () => {
    const report = parseMtrJson(wrap([{ ...hub, Avg: -1, StDev: -2 }]));
    assert.equal(report.hops[0]?.avgMs, null);
    assert.equal(report.hops[0]?.stdevMs, null);
    assert.deepEqual(report.quirks, ['negative-time']);
  });

  it('drops a tests count or Snt that is not a count: evidence, never judged', () => {
    const report = parseMtrJson(wrap([{ ...hub, Snt: 'ten' }], { dst: 'x', tests: 2.5 }));
    assert.equal(report.tests, null);
    assert.equal(report.hops[0]?.sent, null);
  });

  it('names output with no line starting with "{" (mtr built without JSON support)', () => {
    assertOutputError('HOST: vm                            Loss%   Snt\n', /no line starts with "\{"/);
  });

  it('keeps the excerpt short for huge output', () => {
    assert.throws(
      () => parseMtrJson(`x${'y'.repeat(10_000)}`),
      (error: unknown) => error instanceof MonitorError && error.message.length < 400,
    );
  });
});

describe('parseMtrJson reads every quirk of mtr 0.92 to 0.96 (one fixture each)', () => {
  const deadPath = (name: string) => parseMtrJson(fixture(name));

  it('0.92 dead path: the unclosed "hubs": [ reads as no hops, like 0.93 and 0.95', () => {
    // Prepare
    const text = fixture('mtr092-dead-path.json');
    assert.throws(() => JSON.parse(text), SyntaxError, 'the fixture is the invalid JSON mtr 0.92 prints');
    // Act
    const v092 = deadPath('mtr092-dead-path.json');
    const v093 = deadPath('mtr093-dead-path.json');
    const v095 = deadPath('mtr095-dead-path.json');
    // Assess
    assert.deepEqual(v092, { dst: '10.20.0.9', tests: 10, hops: [], quirks: ['hubs-not-closed'] });
    assert.deepEqual(v093, { ...v092, quirks: [] });
    assert.deepEqual(v095, { ...v092, quirks: [] });
  });

  it('0.92/0.93 hand-printed hops with string counts, "    }]" closing and a ??? hop', () => {
    const report = parseMtrJson(fixture('mtr092-silent-destination.json'));
    assert.deepEqual(report.quirks, []);
    assert.deepEqual(
      report.hops.map((hop) => [hop.ttl, hop.host, hop.lossPct, hop.sent, hop.avgMs]),
      [
        [1, '100.96.0.1', 0, 10, 21.87],
        [2, null, 100, 10, null],
      ],
    );
  });

  it('0.92 unescaped src and resolver-escaped host names are taken literally', () => {
    const text = fixture('mtr092-unescaped-names.json');
    assert.throws(() => JSON.parse(text), SyntaxError);
    const report = parseMtrJson(text);
    assert.deepEqual(report.quirks, ['unescaped-string']);
    assert.deepEqual(
      report.hops.map((hop) => [hop.host, hop.avgMs]),
      [
        ['gw\\(eu-west\\).corp.example', 1.23],
        ['printer\\032room.corp.example', 2.4],
      ],
    );
  });

  it('0.92 field list starting with a blank (-o " LA"): the doubled comma is dropped', () => {
    const text = fixture('mtr092-field-list-leading-blank.json');
    assert.throws(() => JSON.parse(text), SyntaxError);
    const report = parseMtrJson(text);
    assert.deepEqual(report.quirks, ['double-comma']);
    assert.deepEqual(
      report.hops.map((hop) => [hop.ttl, hop.host, hop.lossPct, hop.avgMs, hop.sent]),
      [
        [1, '100.96.0.1', 0, 1.2, null],
        [2, '10.20.0.10', 20, 2.25, null],
      ],
    );
  });

  it('nan, -nan, inf and a negative StDev read as no value; the rest of the path is kept', () => {
    const text = fixture('mtr092-non-finite.json');
    assert.throws(() => JSON.parse(text), SyntaxError);
    const report = parseMtrJson(text);
    assert.deepEqual(report.quirks.sort(), ['negative-time', 'non-finite-number']);
    const [first, second] = report.hops;
    assert.deepEqual(first, {
      ttl: 1,
      host: '100.96.0.1',
      lossPct: 0,
      sent: 10,
      lastMs: null,
      avgMs: 1.23,
      bestMs: 1.11,
      worstMs: null,
      stdevMs: null,
      jitterMs: null,
    });
    assert.equal(second?.avgMs, 2.4);
    assert.equal(second?.stdevMs, null);
  });

  it('non-finite numbers given as strings read as no value too', () => {
    const text = JSON.stringify({
      report: {
        mtr: { dst: 'x' },
        hubs: [{ count: '1', host: 'h', 'Loss%': '0.00', Avg: '1.5', StDev: '-nan' }],
      },
    });
    const report = parseMtrJson(text);
    assert.equal(report.hops[0]?.stdevMs, null);
    assert.deepEqual(report.quirks, ['non-finite-number']);
  });

  it('text printed before and after the report is skipped', () => {
    const report = parseMtrJson(fixture('mtr095-text-around.json'));
    assert.deepEqual(report, {
      ...parseMtrJson(fixture('mtr095-loopback-v4.json')),
      quirks: ['text-around-json'],
    });
  });

  it('text after the report that holds a "}" does not hide the report', () => {
    const text = `${fixture('mtr095-loopback-v4.json')}warning: {odd} }\n`;
    assert.equal(parseMtrJson(text).hops[0]?.avgMs, 0.067);
  });

  it('a report without Avg (-o LS, e.g. from MTR_OPTIONS) is rejected, not read as a silent path', () => {
    assertOutputError(fixture('mtr095-fields-LS.json'), /hops have no "Avg".*MTR_OPTIONS without A/);
  });

  it('a report without Avg and no hops is just a dead path', () => {
    assert.deepEqual(parseMtrJson(wrapEmpty()).hops, []);
  });
});

function wrapEmpty(): string {
  return JSON.stringify({ report: { mtr: { dst: '10.0.0.1' }, hubs: [] } });
}

describe('parseMtrJson reads mean jitter (Javg, -o M) in every dialect (issue 10)', () => {
  it('0.95 with the agent field list: every hop keeps its Javg; hops behind the varied relay jitter', () => {
    // Prepare: a real lab capture, the relay between hops 2 and 3 alternating 5/45 ms.
    const report = parseMtrJson(fixture('mtr095-netns-jitter-varied.json'));
    // Assess
    assert.deepEqual(report.quirks, []);
    assert.deepEqual(
      report.hops.map((hop) => [hop.ttl, hop.host, hop.jitterMs]),
      [
        [1, '10.199.100.1', 0.135],
        [2, '10.199.3.2', 0.166],
        [3, '10.199.4.2', 36.278],
        [4, '10.199.128.11', 36.582],
      ],
    );
    assert.equal(report.hops[3]?.avgMs, 26.941, 'the other fields are read as before');
  });

  it('0.95 with every jitter field (-o LSNABWVMJXI): reads Javg, ignores Jttr, Jmax and Jint', () => {
    const report = parseMtrJson(fixture('mtr095-netns-jitter-all-fields.json'));
    assert.deepEqual(
      report.hops.map((hop) => hop.jitterMs),
      [1.277, 0.082, 36.47, 14.388],
    );
    assert.deepEqual(Object.keys(report.hops[0] ?? {}).sort(), [
      'avgMs',
      'bestMs',
      'host',
      'jitterMs',
      'lastMs',
      'lossPct',
      'sent',
      'stdevMs',
      'ttl',
      'worstMs',
    ]);
  });

  it('0.95 loopback with the agent field list', () => {
    const report = parseMtrJson(fixture('mtr095-loopback-v4-jitter.json'));
    assert.equal(report.hops[0]?.jitterMs, 0.042);
    assert.equal(report.hops[0]?.stdevMs, 0.095);
  });

  it('0.92/0.93 hand-printed: two-decimal Javg, and a ??? hop has none', () => {
    const report = parseMtrJson(fixture('mtr092-crafted-jitter.json'));
    assert.deepEqual(report.quirks, []);
    assert.deepEqual(
      report.hops.map((hop) => [hop.ttl, hop.host, hop.jitterMs]),
      [
        [1, '100.64.0.1', 0.09],
        [2, '10.8.0.1', 0.35],
        [3, null, null],
        [4, '10.20.0.10', 18.42],
      ],
    );
  });

  it('a report without Javg (mtr run with other fields, a stand-in) reads jitter as null', () => {
    const report = parseMtrJson(fixture('mtr095-loopback-v4.json'));
    assert.equal(report.hops[0]?.jitterMs, null);
  });

  it('a Javg that is nan, inf or negative reads as no value; one that is not a number is refused', () => {
    const wrap = (javg: unknown) =>
      JSON.stringify({
        report: { mtr: {}, hubs: [{ count: 1, host: 'h', 'Loss%': 0, Avg: 1, Javg: javg }] },
      });
    assert.equal(parseMtrJson(wrap('nan')).hops[0]?.jitterMs, null);
    assert.equal(parseMtrJson(wrap('inf')).hops[0]?.jitterMs, null);
    const negative = parseMtrJson(wrap(-0.5));
    assert.equal(negative.hops[0]?.jitterMs, null);
    assert.deepEqual(negative.quirks, ['negative-time']);
    assertOutputError(wrap('wobbly'), /report\.hubs\[0\]\.Javg "wobbly" is not a number/);
  });
});
