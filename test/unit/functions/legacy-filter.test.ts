/**
 * The legacy `HighLatencyOrLoss` metric filter (LEGACY_FILTER_PATTERN, the one
 * the stack deploys on the central log group) run, with CloudWatch Logs' JSON
 * pattern semantics (test/helpers/filter-pattern.ts), over the lines the real
 * collector writes (functions/logs/records.ts) and the lines the old script
 * or an old agent pushed: a flagged round counts, unless the host was in a
 * maintenance window; lines without the maintenance key count as before.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LEGACY_FILTER_PATTERN } from '../../../common/metric-names.ts';
import { SEED_KEYS } from '../../../common/result-contract.ts';
import { SEED_MAINTENANCE_KEY } from '../../../common/stream-seed-line.ts';
import type { MaintenanceNote } from '../../../functions/dispatch/maintenance.ts';
import { buildInvocationRecords } from '../../../functions/logs/records.ts';
import { filterPatternMatches } from '../../helpers/filter-pattern.ts';
import { resultDocument } from './fixtures.ts';

const counts = (line: string) => filterPatternMatches(LEGACY_FILTER_PATTERN, line);

/** Every line the collector writes for one host's round (seed line, MTR text, records). */
function streamLines(flagged: boolean, maintenance: MaintenanceNote | null): string[] {
  const doc = resultDocument({ hostname: 'connector-1' }, flagged);
  return buildInvocationRecords(
    {
      instanceId: 'i-0123456789abcdef0',
      commandId: 'cmd-1',
      roundId: '20261130T120000Z-abcd',
      status: 'Success',
      responseCode: 0,
      stdout: JSON.stringify(doc),
      stderr: '',
      sentResources: doc.resources.map((r) => r.target),
      maintenance,
    },
    'cmd-1/i-0123456789abcdef0',
    Date.parse('2026-11-30T12:01:00Z'),
  ).events.map((e) => e.message);
}

const seedOf = (lines: string[]): string => {
  const seed = lines.find((l) => l.startsWith('{"HOSTNAME"'));
  assert.ok(seed !== undefined, 'the collector wrote the seed line');
  return seed;
};

const IN_WINDOW: MaintenanceNote = { state: 'in', until: '2026-11-30T14:00:00.000Z', source: 'tag' };
const ENDED: MaintenanceNote = { state: 'ended', until: '2026-11-30T11:00:00.000Z', source: 'tag' };

/** The old script's line (its README's keys, string values), as its CloudWatch agent pushed it. */
function oldScriptLine(latencyFlag: '0' | '1', lossFlag: '0' | '1'): string {
  return JSON.stringify({
    HOSTNAME: 'ip-10-0-1-5',
    'RESOURCE(S)': ['10.20.0.5'],
    GATEWAY_IP: '203.0.113.10',
    LATENCY_FLAG: latencyFlag,
    'LATENCY_(ms)': '182.4',
    'LATENCY_THRESHOLD_(ms)': '75',
    LOSS_FLAG: lossFlag,
    'HOP_LOSS_(%)': '0.0',
    'LOSS_THRESHOLD_(%)': '5',
    'MTR-ID_(YYYYMMDDHHMMSS)': latencyFlag === '1' || lossFlag === '1' ? '20261130120000' : '0',
  });
}

describe('the legacy HighLatencyOrLoss metric filter', () => {
  it('counts a flagged round once, by its seed line, outside a maintenance window (none, or one that ended)', () => {
    for (const maintenance of [null, ENDED]) {
      // Act
      const lines = streamLines(true, maintenance);
      // Assess
      assert.deepEqual(
        lines.filter(counts),
        [seedOf(lines)],
        `${maintenance?.state ?? 'no window'}: the seed line, and nothing else`,
      );
      assert.deepEqual(Object.keys(JSON.parse(seedOf(lines))), [...SEED_KEYS], 'the old line, unchanged');
    }
  });

  it('does not count a flagged round of a host in a window, whose seed line says until when, after the old keys', () => {
    // Act
    const lines = streamLines(true, IN_WINDOW);
    // Assess
    assert.deepEqual(lines.filter(counts), []);
    const seed = JSON.parse(seedOf(lines)) as Record<string, string>;
    assert.deepEqual(Object.keys(seed), [...SEED_KEYS, SEED_MAINTENANCE_KEY]);
    assert.equal(seed[SEED_MAINTENANCE_KEY], IN_WINDOW.until);
    assert.ok(seed.LATENCY_FLAG === '1' || seed.LOSS_FLAG === '1', 'the flags themselves are recorded');
  });

  it('counts the old script’s and old agents’ lines as before: flagged lines without the key count, clean ones do not', () => {
    assert.equal(counts(oldScriptLine('1', '0')), true);
    assert.equal(counts(oldScriptLine('0', '1')), true);
    assert.equal(counts(oldScriptLine('1', '1')), true);
    assert.equal(counts(oldScriptLine('0', '0')), false);
    assert.deepEqual(streamLines(false, null).filter(counts), [], 'a clean round of this collector');
    assert.deepEqual(streamLines(false, IN_WINDOW).filter(counts), []);
  });
});

describe('the CloudWatch Logs JSON pattern semantics the filter relies on (test/helpers/filter-pattern.ts)', () => {
  it('`NOT EXISTS` is true exactly when the line lacks the property; a value of null or "" is there', () => {
    assert.equal(filterPatternMatches('{ $.A NOT EXISTS }', '{"B":"1"}'), true);
    assert.equal(filterPatternMatches('{ $.A NOT EXISTS }', '{"A":"x"}'), false);
    assert.equal(filterPatternMatches('{ $.A NOT EXISTS }', '{"A":null}'), false);
    assert.equal(filterPatternMatches('{ $.A NOT EXISTS }', '{"A":""}'), false);
    assert.equal(filterPatternMatches('{ $.A.B NOT EXISTS }', '{"A":{}}'), true);
  });

  it('a comparison on a missing property is false, `!=` included: why the filter cannot use `!=`', () => {
    assert.equal(filterPatternMatches('{ $.A != "x" }', '{"B":"1"}'), false);
    assert.equal(filterPatternMatches('{ ($.A != "x") || ($.A NOT EXISTS) }', '{"B":"1"}'), true);
  });

  it('`&&` and `||` combine with parentheses as written; a line that is not JSON never matches', () => {
    const pattern = '{ (($.L = "1") || ($.M = "1")) && ($.W NOT EXISTS) }';
    assert.equal(filterPatternMatches(pattern, '{"L":"0","M":"1"}'), true);
    assert.equal(filterPatternMatches(pattern, '{"L":"1","M":"0","W":"t"}'), false);
    assert.equal(filterPatternMatches(pattern, '{"L":"0","M":"0"}'), false);
    assert.equal(filterPatternMatches(pattern, 'RESOURCE MTR: 20261130120000 (Hop, Avg, Loss%)'), false);
  });
});
