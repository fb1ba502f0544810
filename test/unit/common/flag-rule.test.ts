import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  hasJitterFlag,
  isFlagged,
  isUnmeasured,
  setsSeedLatencyFlag,
  summariseResources,
  unmeasuredJudgement,
  unmeasuredReasonOf,
  verdictOf,
} from '../../../common/flag-rule.ts';
import { VERDICTS } from '../../../common/result-contract.ts';

describe('the flag rule', () => {
  it('maps each failure kind of a path to its unmeasured reason', () => {
    assert.deepEqual(
      (['E_RESOLVE', 'E_MTR_FAILED', 'E_MTR_TIMEOUT', 'E_MTR_OUTPUT', 'E_PROBE', 'E_INTERNAL'] as const).map(
        unmeasuredReasonOf,
      ),
      ['dns', 'mtr-failed', 'mtr-timeout', 'mtr-output', 'probe-failed', 'probe-failed'],
    );
  });

  it('an unmeasured resource is flagged as lost: lossFlag, 100 %, no latency, no trouble spot', () => {
    const judgement = unmeasuredJudgement({ code: 'E_RESOLVE', message: 'could not resolve "x": ENOTFOUND' });
    assert.deepEqual(judgement, {
      method: null,
      latencyMs: null,
      latencyBasis: null,
      requestMs: null,
      lossPct: 100,
      latencyFlag: false,
      lossFlag: true,
      trouble: null,
      verdict: 'unmeasured',
      unmeasured: { reason: 'dns', detail: 'could not resolve "x": ENOTFOUND' },
      jitterMs: null,
    });
    assert.equal(isFlagged(judgement), true);
    assert.equal(isUnmeasured(judgement), true);
  });

  it('summarises: unmeasured counts in flagged, lossFlag and worstLossPct, not in worstLatencyMs', () => {
    const unmeasured = unmeasuredJudgement({ code: 'E_MTR_OUTPUT', message: 'garbage' });
    const ok = {
      latencyFlag: false,
      lossFlag: false,
      latencyMs: 12.5,
      lossPct: 1,
      verdict: 'ok' as const,
      jitterMs: 0.4,
    };
    const slow = {
      latencyFlag: true,
      lossFlag: false,
      latencyMs: 140,
      lossPct: 0,
      verdict: 'latency' as const,
      jitterMs: 2.5,
    };
    assert.deepEqual(summariseResources([ok, unmeasured, slow]), {
      resources: 3,
      flagged: 2,
      latencyFlag: true,
      lossFlag: true,
      worstLatencyMs: 140,
      worstLossPct: 100,
      jitterFlag: false,
      worstJitterMs: 2.5,
    });
    assert.deepEqual(summariseResources([unmeasured]), {
      resources: 1,
      flagged: 1,
      latencyFlag: false,
      lossFlag: true,
      worstLatencyMs: null,
      worstLossPct: 100,
      jitterFlag: false,
      worstJitterMs: null,
    });
    assert.deepEqual(summariseResources([]), {
      resources: 0,
      flagged: 0,
      latencyFlag: false,
      lossFlag: false,
      worstLatencyMs: null,
      worstLossPct: null,
      jitterFlag: false,
      worstJitterMs: null,
    });
  });
});

describe('the flag rule for jitter (issue 10)', () => {
  const measured = (verdict: (typeof VERDICTS)[number], latencyFlag = false, lossFlag = false) => ({
    latencyFlag,
    lossFlag,
    latencyMs: 20,
    lossPct: lossFlag ? 30 : 0,
    verdict,
    jitterMs: 12,
  });

  it('names the flagged kinds in the verdict, joined by + in the order latency, loss, jitter', () => {
    const all = [false, true].flatMap((latency) =>
      [false, true].flatMap((loss) => [false, true].map((jitter) => verdictOf({ latency, loss, jitter }))),
    );
    assert.deepEqual(all, [
      'ok',
      'jitter',
      'loss',
      'loss+jitter',
      'latency',
      'latency+jitter',
      'latency+loss',
      'latency+loss+jitter',
    ]);
    assert.ok(
      all.every((verdict) => (VERDICTS as readonly string[]).includes(verdict)),
      'every verdict is one the schema accepts',
    );
  });

  it('a jitter verdict is a flag: flagged, counted in the summary, and LATENCY_FLAG for the seed line', () => {
    const jittery = measured('jitter');
    assert.equal(hasJitterFlag(jittery), true);
    assert.equal(isFlagged(jittery), true);
    assert.equal(setsSeedLatencyFlag(jittery), true);
    assert.equal(hasJitterFlag(measured('latency', true)), false);
    assert.equal(setsSeedLatencyFlag(measured('loss', false, true)), false);
    assert.equal(hasJitterFlag(measured('loss+jitter', false, true)), true);
    assert.equal(isFlagged(measured('ok')), false);

    const summary = summariseResources([
      measured('ok'),
      jittery,
      { ...measured('latency+jitter', true), jitterMs: 30 },
    ]);
    assert.equal(summary.flagged, 2);
    assert.equal(summary.jitterFlag, true);
    assert.equal(summary.latencyFlag, true, "the latency flag stays the resources' own");
    assert.equal(summary.worstJitterMs, 30);
    assert.equal(summariseResources([jittery]).latencyFlag, false, 'jitter alone raises no latencyFlag');
  });
});
