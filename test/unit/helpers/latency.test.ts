/**
 * The lab tests' latency expectations (test/helpers/latency.ts): relative to a
 * baseline, with a slack that grows with the injected delay, and retried.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  carriesDelay,
  fastestAndScatter,
  lacksDelay,
  measureUntil,
  problems,
  slackMs,
} from '../../helpers/latency.ts';

describe('lab latency expectations', () => {
  it('accepts baseline + injection within 2 ms + 10 %, on either side', () => {
    assert.equal(slackMs(50), 7);
    assert.equal(carriesDelay('hop', 50.3 + 6.9, 0.3, 50), null);
    assert.equal(carriesDelay('hop', 50.3 - 6.9, 0.3, 50), null);
    assert.equal(carriesDelay('relay', 1.9, 0, 0), null);
  });

  it('rejects a figure off by more than the slack, naming the figures', () => {
    // The CI failure: 65.293 ms for 50 ms injected over a 0.3 ms path.
    assert.equal(
      carriesDelay('hop 10.199.100.1', 65.293, 0.3, 50),
      'hop 10.199.100.1: 65.293 ms is baseline 0.300 + 64.993 ms, expected + 50 ± 7.000 ms',
    );
    assert.match(carriesDelay('hop', 40, 0.3, 50) ?? '', /expected \+ 50/);
    assert.match(carriesDelay('relay', 2.5, 0.2, 0) ?? '', /expected \+ 0 ± 2\.000 ms/);
    assert.match(carriesDelay('hop', null, 0.3, 50) ?? '', /no figure/);
  });

  it('widens the slack by twice the scatter of the samples measured, and says so', () => {
    assert.equal(slackMs(50, 4), 15);
    assert.equal(carriesDelay('hop', 65.293, 0.3, 50, 4), null, 'a busy machine scattered the samples');
    assert.match(
      carriesDelay('hop', 100.3, 0.3, 50, 4) ?? '',
      /expected \+ 50 ± 15\.000 ms \(samples scattered by 4\.000 ms\)$/,
      'a doubled delay is still wrong',
    );
  });

  it('tells a hop in front of an impairment from one behind it by the halfway mark', () => {
    assert.equal(lacksDelay('r1', 13, 0.3, 40), null, 'a loaded 13 ms is still in front of 40 ms');
    assert.match(lacksDelay('r1', 20.3, 0.3, 40) ?? '', /carries the 40 ms injected/);
    assert.match(lacksDelay('r1', undefined, 0.3, 40) ?? '', /no figure/);
  });

  it('gives the fastest answer and the scatter of the answered samples', () => {
    assert.deepEqual(fastestAndScatter([102, null, 104]), { fastestMs: 102, stdevMs: 1 });
    assert.deepEqual(fastestAndScatter([null]), { fastestMs: null, stdevMs: 0 });
  });

  it('joins problems and ignores the absent ones', () => {
    assert.equal(problems(null, undefined), null);
    assert.equal(problems('a', null, 'b'), 'a; b');
  });

  it('measures again until the check passes, and returns that measurement', async () => {
    const figures = [65, 56, 51];
    const logged: string[] = [];
    let calls = 0;

    const value = await measureUntil(
      'hop',
      async () => figures[calls++] ?? 0,
      (ms) => carriesDelay('hop', ms, 0, 50),
      { log: (line) => logged.push(line) },
    );

    assert.equal(value, 56);
    assert.equal(calls, 2);
    assert.deepEqual(logged, [
      'hop: measuring again after attempt 1: hop: 65.000 ms is baseline 0.000 + 65.000 ms, expected + 50 ± 7.000 ms',
    ]);
  });

  it('fails after the bounded number of measurements with every attempt in the message', async () => {
    let calls = 0;

    await assert.rejects(
      measureUntil(
        'the gateway hop',
        async () => {
          calls++;
          return 80;
        },
        (ms) => carriesDelay('hop', ms, 0, 50),
        { attempts: 3, log: () => {} },
      ),
      (error: Error) => {
        assert.match(error.message, /^the gateway hop, after 3 measurements:\nattempt 1: hop: 80\.000 ms/);
        assert.match(error.message, /\nattempt 3: /);
        return true;
      },
    );
    assert.equal(calls, 3);
  });
});
