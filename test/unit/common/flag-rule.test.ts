import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  isFlagged,
  isUnmeasured,
  summariseResources,
  unmeasuredJudgement,
  unmeasuredReasonOf,
} from '../../../common/flag-rule.ts';

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
    });
    assert.equal(isFlagged(judgement), true);
    assert.equal(isUnmeasured(judgement), true);
  });

  it('summarises: unmeasured counts in flagged, lossFlag and worstLossPct, not in worstLatencyMs', () => {
    const unmeasured = unmeasuredJudgement({ code: 'E_MTR_OUTPUT', message: 'garbage' });
    const ok = { latencyFlag: false, lossFlag: false, latencyMs: 12.5, lossPct: 1 };
    const slow = { latencyFlag: true, lossFlag: false, latencyMs: 140, lossPct: 0 };
    assert.deepEqual(summariseResources([ok, unmeasured, slow]), {
      resources: 3,
      flagged: 2,
      latencyFlag: true,
      lossFlag: true,
      worstLatencyMs: 140,
      worstLossPct: 100,
    });
    assert.deepEqual(summariseResources([unmeasured]), {
      resources: 1,
      flagged: 1,
      latencyFlag: false,
      lossFlag: true,
      worstLatencyMs: null,
      worstLossPct: 100,
    });
    assert.deepEqual(summariseResources([]), {
      resources: 0,
      flagged: 0,
      latencyFlag: false,
      lossFlag: false,
      worstLatencyMs: null,
      worstLossPct: null,
    });
  });
});
