/**
 * Latency expectations that hold on a loaded machine, for the lab's tests and
 * any other test that measures a delay.
 *
 * A delay injected by the lab's relay is a floor: a busy CPU only adds to a
 * round trip, and adds to some samples more than others. So a test compares
 * what a path shows with a baseline measured in the same run (the clean path
 * measured just before, or the unimpaired hops of the same mtr report), never
 * with absolute figures; allows a slack that grows with the injected delay and
 * with the scatter of the samples measured (a machine too busy to forward
 * packets on time scatters them, a wrong delay shifts them all); and measures
 * again a few times before it fails. How close the agent gets to the truth in
 * absolute terms is the benchmark's business (`npm run bench`, accuracy
 * table), not a test's.
 */
import assert from 'node:assert/strict';

/** Measurements a test makes before it fails: load comes in bursts, a real fault does not go away. */
export const MEASUREMENT_ATTEMPTS = 3;

/**
 * How far a path carrying `injectedMs` may stray from baseline + injection:
 * 2 ms, plus 10 % of the injection, plus twice the standard deviation of the
 * samples measured (`jitterMs`: ping's mdev, mtr's StDev).
 */
export function slackMs(injectedMs: number, jitterMs = 0): number {
  return 2 + 0.1 * injectedMs + 2 * jitterMs;
}

const fixed = (ms: number): string => ms.toFixed(3);

/**
 * Null when `measuredMs` is `baselineMs` + `injectedMs` within {@link slackMs}
 * (`jitterMs`: the standard deviation of the samples behind `measuredMs`);
 * else a sentence naming the figures. `label` names the path or hop.
 */
export function carriesDelay(
  label: string,
  measuredMs: number | null | undefined,
  baselineMs: number | null | undefined,
  injectedMs: number,
  jitterMs: number | null | undefined = 0,
): string | null {
  if (typeof measuredMs !== 'number' || typeof baselineMs !== 'number')
    return `${label}: no figure (measured ${measuredMs}, baseline ${baselineMs})`;
  const added = measuredMs - baselineMs;
  const slack = slackMs(injectedMs, jitterMs ?? 0);
  return Math.abs(added - injectedMs) <= slack
    ? null
    : `${label}: ${fixed(measuredMs)} ms is baseline ${fixed(baselineMs)} + ${fixed(added)} ms, expected + ${injectedMs} ± ${fixed(slack)} ms${jitterMs ? ` (samples scattered by ${fixed(jitterMs)} ms)` : ''}`;
}

/**
 * Null when `measuredMs` does not carry `injectedMs` over `baselineMs`: it is
 * closer to the baseline than to baseline + injection. That tells a hop in
 * front of the impairment from one behind it whatever the machine's load.
 */
export function lacksDelay(
  label: string,
  measuredMs: number | null | undefined,
  baselineMs: number | null | undefined,
  injectedMs: number,
): string | null {
  if (typeof measuredMs !== 'number' || typeof baselineMs !== 'number')
    return `${label}: no figure (measured ${measuredMs}, baseline ${baselineMs})`;
  const added = measuredMs - baselineMs;
  return added < injectedMs / 2
    ? null
    : `${label}: ${fixed(measuredMs)} ms is baseline ${fixed(baselineMs)} + ${fixed(added)} ms, so it carries the ${injectedMs} ms injected behind it`;
}

/** Fastest and standard deviation of the samples that got an answer (nulls are lost attempts). */
export function fastestAndScatter(samplesMs: ReadonlyArray<number | null>): {
  fastestMs: number | null;
  stdevMs: number;
} {
  const answered = samplesMs.filter((ms): ms is number => ms !== null);
  if (answered.length === 0) return { fastestMs: null, stdevMs: 0 };
  const mean = answered.reduce((a, b) => a + b, 0) / answered.length;
  const variance = answered.reduce((sum, ms) => sum + (ms - mean) ** 2, 0) / answered.length;
  return { fastestMs: Math.min(...answered), stdevMs: Math.sqrt(variance) };
}

/** Joins the problems found (nulls are none), or null when there are none. */
export function problems(...found: Array<string | null | undefined>): string | null {
  const real = found.filter((p): p is string => typeof p === 'string');
  return real.length === 0 ? null : real.join('; ');
}

/**
 * Measures until `check` finds no problem, at most `attempts` times, and
 * returns the measurement that passed; fails the test with every attempt's
 * problem when none did. `measure` must measure afresh each time. Each retry
 * is logged (to stderr by default) with its reason, so retries that start to
 * be the rule do not go unnoticed.
 */
export async function measureUntil<T>(
  what: string,
  measure: (attempt: number) => Promise<T>,
  check: (value: T) => string | null,
  options: { attempts?: number; log?: (line: string) => void } = {},
): Promise<T> {
  const attempts = options.attempts ?? MEASUREMENT_ATTEMPTS;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const seen: string[] = [];
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const value = await measure(attempt);
    const problem = check(value);
    if (problem === null) return value;
    seen.push(`attempt ${attempt}: ${problem}`);
    if (attempt < attempts) log(`${what}: measuring again after attempt ${attempt}: ${problem}`);
  }
  assert.fail(`${what}, after ${attempts} measurements:\n${seen.join('\n')}`);
}
