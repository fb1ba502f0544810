import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidInputError } from '../../../common/errors.ts';
import { parseCollectJob } from '../../../functions/collect/job.ts';
import { loadConfig } from '../../../functions/config.ts';
import {
  decideMaintenance,
  MAINTENANCE_MAX_AHEAD_DAYS,
  parseMaintenanceUntil,
  STAGE_MAINTENANCE_FIELD,
  stageWindow,
} from '../../../functions/dispatch/maintenance.ts';

const TAG = 'CloudConnexaMonitor';
const FIELD = `${TAG}:MaintenanceUntil`;
/** The injected clock: every decision below is made at this instant. */
const NOW = Date.parse('2026-11-30T12:00:00Z');
const HOUR = 3_600_000;
const iso = (ms: number) => new Date(ms).toISOString();

function refusal(fn: () => unknown): InvalidInputError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof InvalidInputError, `an InvalidInputError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected an InvalidInputError');
}

describe('parseMaintenanceUntil', () => {
  it('reads ISO-8601 times with seconds and a zone, UTC or offset', () => {
    assert.equal(
      parseMaintenanceUntil('2026-12-01T18:00:00Z', FIELD, NOW),
      Date.parse('2026-12-01T18:00:00Z'),
    );
    assert.equal(
      parseMaintenanceUntil('2026-12-01T19:30:00+01:00', FIELD, NOW),
      Date.parse('2026-12-01T18:30:00Z'),
    );
    assert.equal(
      parseMaintenanceUntil('2026-12-01T18:00:00.250Z', FIELD, NOW),
      Date.parse('2026-12-01T18:00:00.250Z'),
    );
  });

  it('takes the time as written, as every tag and stage param: spaces around it are refused, not trimmed', () => {
    for (const value of [' 2026-12-01T18:00:00Z', '2026-12-01T18:00:00Z ', ' ']) {
      assert.throws(
        () => parseMaintenanceUntil(value, FIELD, NOW),
        (error: unknown) =>
          error instanceof InvalidInputError &&
          error.message.startsWith(`${FIELD} ${JSON.stringify(value)} is not allowed: an ISO-8601 time`),
        JSON.stringify(value),
      );
    }
  });

  for (const [value, why] of [
    ['2026-12-01T18:00:00', 'no time zone: UTC or the operator’s zone?'],
    ['2026-12-01', 'a date alone'],
    ['2026-12-01T18:00Z', 'no seconds'],
    ['2026-02-30T00:00:00Z', '30 February (Date would roll it into March)'],
    ['2026-13-01T00:00:00Z', 'month 13'],
    ['tomorrow', 'not a time'],
    ['1764590400', 'epoch seconds'],
    ['', 'empty'],
  ] as const) {
    it(`refuses ${JSON.stringify(value)} (${why}), naming the tag, the value and the format`, () => {
      const error = refusal(() => parseMaintenanceUntil(value, FIELD, NOW));
      assert.equal(error.field, FIELD);
      assert.match(error.message, new RegExp(`^${FIELD} ".*" is not allowed: an ISO-8601 time with seconds`));
      assert.match(error.message, /2026-12-01T18:00:00Z/, 'shows an example');
    });
  }

  it(`refuses a window ending more than ${MAINTENANCE_MAX_AHEAD_DAYS} days ahead and says how far it is`, () => {
    const limit = NOW + MAINTENANCE_MAX_AHEAD_DAYS * 24 * HOUR;
    assert.equal(parseMaintenanceUntil(iso(limit), FIELD, NOW), limit, 'exactly at the limit is allowed');
    const error = refusal(() => parseMaintenanceUntil('2062-12-01T00:00:00Z', FIELD, NOW));
    assert.match(error.message, /at most 30 days ahead \(it is \d+ days ahead\)/);
    refusal(() => parseMaintenanceUntil(iso(limit + 1000), FIELD, NOW));
  });

  it('returns a time in the past: the caller decides it is a warning', () => {
    assert.equal(
      parseMaintenanceUntil('2026-11-01T00:00:00Z', FIELD, NOW),
      Date.parse('2026-11-01T00:00:00Z'),
    );
  });

  it('checks the format alone when no clock is given (configuration load)', () => {
    assert.equal(
      parseMaintenanceUntil('2062-12-01T00:00:00Z', FIELD, null),
      Date.parse('2062-12-01T00:00:00Z'),
    );
    refusal(() => parseMaintenanceUntil('2062-12-01', FIELD, null));
  });
});

describe('decideMaintenance', () => {
  it('puts a host whose tag names a future time in maintenance until then', () => {
    const note = decideMaintenance({ [FIELD]: '2026-11-30T14:00:00+01:00' }, TAG, null, NOW);
    assert.deepEqual(note, { state: 'in', until: '2026-11-30T13:00:00.000Z', source: 'tag' });
  });

  it('notes a tag whose time has passed as ended (a warning): the host is alarmed as usual', () => {
    const note = decideMaintenance({ [FIELD]: iso(NOW - HOUR) }, TAG, null, NOW);
    assert.deepEqual(note, { state: 'ended', until: iso(NOW - HOUR), source: 'tag' });
    // The end itself is not inside the window.
    assert.equal(decideMaintenance({ [FIELD]: iso(NOW) }, TAG, null, NOW)?.state, 'ended');
  });

  it('ends the window as the clock passes it, with the same tag', () => {
    const tags = { [FIELD]: iso(NOW + HOUR) };
    assert.equal(decideMaintenance(tags, TAG, null, NOW)?.state, 'in');
    assert.equal(decideMaintenance(tags, TAG, null, NOW + HOUR - 1)?.state, 'in');
    assert.equal(decideMaintenance(tags, TAG, null, NOW + HOUR)?.state, 'ended');
  });

  it('throws for an invalid tag, naming it, so dispatch reports the host misconfigured', () => {
    const error = refusal(() => decideMaintenance({ [FIELD]: 'next tuesday' }, TAG, null, NOW));
    assert.equal(error.field, FIELD);
    assert.equal(error.value, 'next tuesday');
  });

  it('reads the tag under the stack’s own tag key', () => {
    const tags = { 'Other:MaintenanceUntil': iso(NOW + HOUR) };
    assert.equal(decideMaintenance(tags, TAG, null, NOW), null);
    assert.equal(decideMaintenance(tags, 'Other', null, NOW)?.state, 'in');
  });

  it('applies the stage window to every host, and the later of two open windows', () => {
    assert.deepEqual(decideMaintenance({}, TAG, NOW + HOUR, NOW), {
      state: 'in',
      until: iso(NOW + HOUR),
      source: 'stage',
    });
    const tagLater = decideMaintenance({ [FIELD]: iso(NOW + 2 * HOUR) }, TAG, NOW + HOUR, NOW);
    assert.deepEqual(tagLater, { state: 'in', until: iso(NOW + 2 * HOUR), source: 'tag' });
    // An ended tag does not end the stage window.
    const stageOpen = decideMaintenance({ [FIELD]: iso(NOW - HOUR) }, TAG, NOW + HOUR, NOW);
    assert.deepEqual(stageOpen, { state: 'in', until: iso(NOW + HOUR), source: 'stage' });
    // A stage window that ended is no note at all: nothing on the host to remove.
    assert.equal(decideMaintenance({}, TAG, NOW - HOUR, NOW), null);
  });

  it('has nothing to say about a host without the tag and without a stage window', () => {
    assert.equal(decideMaintenance({ [TAG]: 'enabled' }, TAG, null, NOW), null);
  });
});

describe('stageWindow', () => {
  it('is none when the param is empty, the end when it is valid', () => {
    assert.deepEqual(stageWindow('', NOW), { until: null, error: null });
    assert.deepEqual(stageWindow(null, NOW), { until: null, error: null });
    assert.deepEqual(stageWindow(iso(NOW + HOUR), NOW), { until: NOW + HOUR, error: null });
  });

  it('is not applied past the limit (alarms stay on) and says why', () => {
    const window = stageWindow('2062-01-01T00:00:00Z', NOW);
    assert.equal(window.until, null);
    assert.equal(window.error?.field, STAGE_MAINTENANCE_FIELD);
  });
});

describe('maintenance in the configuration and the collect job', () => {
  const env = {
    STAGE: 't',
    LOG_GROUP_NAME: 'g',
    DOCUMENT_NAME: 'd',
    COLLECT_QUEUE_URL: 'https://sqs.example/q',
    CLAIMS_TABLE_NAME: 'claims',
    METRIC_GRANULARITY: 'host',
    ALLOW_INSTALL: 'false',
    DEFAULT_RESOURCES: '10.0.0.1',
    DEFAULT_COUNT: '10',
    DEFAULT_INTERVAL_SEC: '1',
    DEFAULT_LATENCY_THRESHOLD_MS: '75',
    DEFAULT_LOSS_THRESHOLD_PCT: '5',
    DEFAULT_HOPS: '3',
    DEFAULT_LOSS_RULE: 'persistent',
    DEFAULT_TCP_PORT: '443',
    LOG_DIR: '/home/ubuntu/Connexa-Logs',
    COMMAND_TIMEOUT_SECONDS: '120',
    EXECUTION_TIMEOUT_SECONDS: '240',
  };

  it('loads the stage window (empty: none) and refuses a malformed one naming MAINTENANCE_UNTIL', () => {
    assert.equal(loadConfig(env).maintenanceUntil, null);
    assert.equal(
      loadConfig({ ...env, MAINTENANCE_UNTIL: '2026-12-01T18:00:00Z' }).maintenanceUntil,
      '2026-12-01T18:00:00Z',
    );
    assert.throws(
      () => loadConfig({ ...env, MAINTENANCE_UNTIL: '2026-12-01 6pm' }),
      /MAINTENANCE_UNTIL "2026-12-01 6pm" is not allowed/,
    );
  });

  const job = (maintenance: unknown) =>
    JSON.stringify({
      v: 1,
      commandId: 'cmd-1',
      roundId: 'r',
      instanceIds: ['i-0123456789abcdef0'],
      dispatchedAt: 1,
      deadline: 2,
      attempt: 1,
      settings: {},
      maintenance,
    });

  it('reads a job’s maintenance map and refuses one that names other hosts or malformed notes', () => {
    const note = { state: 'in', until: '2026-12-01T18:00:00.000Z', source: 'tag' };
    assert.deepEqual(parseCollectJob(job({ 'i-0123456789abcdef0': note })).maintenance, {
      'i-0123456789abcdef0': note,
    });
    for (const bad of [
      { 'i-0fffffffffffffff0': note },
      { 'i-0123456789abcdef0': { ...note, state: 'maybe' } },
      { 'i-0123456789abcdef0': { ...note, until: 'soon' } },
      { 'i-0123456789abcdef0': { ...note, extra: 1 } },
      [note],
    ]) {
      assert.throws(() => parseCollectJob(job(bad)), /collect job/);
    }
  });
});
