import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseArgv } from '../../../agent/cli/parse-argv.ts';
import { resolveOptions } from '../../../agent/cli/resolve-options.ts';
import { DEFAULT_STALE_AFTER_MS } from '../../../agent/files/lock.ts';
import { defaultMtrTimeoutMs } from '../../../agent/probes/run-mtr.ts';
import {
  fallbackAttemptTimeoutMs,
  LOCK_STALE_AFTER_MS,
  MAX_ROUND_MS,
  mtrTimeoutMs,
  roundWorstCaseMs,
} from '../../../common/round-budget.ts';
import { DEFAULTS, LIMITS } from '../../../common/settings.ts';
import { worstCaseRunSeconds } from '../../../functions/dispatch/dispatch-round.ts';

describe('round budget: one model for agent, lock and dispatch', () => {
  it('keeps the longest round the agent accepts inside the lock stale age', () => {
    assert.equal(DEFAULT_STALE_AFTER_MS, LOCK_STALE_AFTER_MS);
    assert.ok(LOCK_STALE_AFTER_MS > MAX_ROUND_MS);
    // Search the largest interval the agent accepts at the largest count, over resource counts.
    for (const resources of [1, 10, LIMITS.maxResources]) {
      const list = Array.from(
        { length: resources },
        (_, i) => `10.0.${Math.floor(i / 200)}.${(i % 200) + 1}`,
      );
      let accepted = 0;
      for (let tenths = 1; tenths <= 600; tenths++) {
        const interval = tenths / 10;
        try {
          const argv = parseArgv([
            'check',
            '--resources',
            list.join(','),
            '--count',
            String(LIMITS.count.max),
            '--interval',
            String(interval),
          ]);
          const o = resolveOptions('check', argv, {});
          accepted = interval;
          assert.ok(roundWorstCaseMs(o.settings, resources + 1) <= MAX_ROUND_MS);
          assert.ok(roundWorstCaseMs(o.settings, resources + 1) < DEFAULT_STALE_AFTER_MS);
        } catch (error) {
          assert.match(String((error as Error).message), /worst case/);
          break;
        }
      }
      assert.ok(accepted > 0, `some interval is accepted with ${resources} resources`);
    }
  });

  it('gives dispatch and the agent the same worst case for the same settings', () => {
    const settings = {
      count: 40,
      intervalSec: 2,
      latencyThresholdMs: 75,
      lossThresholdPct: 5,
      hops: 3,
      lossRule: 'persistent' as const,
      tcpPort: 443,
      jitterThresholdMs: 0,
      resources: '10.0.0.1,10.0.0.2,db.corp.internal',
    };
    const agentMs = roundWorstCaseMs({ ...settings, concurrency: DEFAULTS.concurrency }, 4);
    assert.equal(worstCaseRunSeconds(settings), Math.ceil(agentMs / 1000));
    // The fallback runs after mtr: the worst case is more than twice the probing time.
    assert.ok(agentMs > 2 * settings.count * settings.intervalSec * 1000);
  });

  it('uses the mtr timeout and fallback attempt bounds the probes use', () => {
    assert.equal(
      defaultMtrTimeoutMs({ address: '10.0.0.1', family: 4, count: 10, intervalSec: 1 }),
      mtrTimeoutMs({ count: 10, intervalSec: 1 }),
    );
    assert.equal(fallbackAttemptTimeoutMs(1), 1000);
    assert.equal(fallbackAttemptTimeoutMs(75), 1500);
    assert.equal(fallbackAttemptTimeoutMs(10_000), 5000);
  });
});
