/**
 * The lab's process runner (test/lab/run.ts) is the agent's (run-process.ts)
 * with the lab's API: a timeout ends the whole process group, a descendant
 * holding the output cannot keep a run open, output is capped, and a child
 * sees only the environment it is given. Needs no namespaces.
 */
import assert from 'node:assert/strict';
import os from 'node:os';
import { after, describe, it } from 'node:test';
import { ProcessError } from '../../../common/errors.ts';
import { OUTPUT_DRAIN_MS } from '../../../common/round-budget.ts';
import { assertEndedByDeadline, halfwayMs } from '../../helpers/deadline.ts';
import { DEFAULT_TIMEOUT_MS, isAlive, run, runChecked } from '../../lab/run.ts';

const leftovers: number[] = [];
after(() => {
  for (const pid of leftovers) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
});

/** Polls until `pid` is gone; no limit of its own (the runner's hang guard ends a test that waits forever). */
async function gone(pid: number): Promise<void> {
  while (isAlive(pid)) await new Promise((resolve) => setTimeout(resolve, 20));
}

describe('lab run()', () => {
  it('ends a run at its timeout with its whole process group, the descendant included', async () => {
    // Prepare: a shell whose child sleeps for a minute and prints its pid.
    const timeoutMs = 300;
    const started = Date.now();

    // Act
    const result = await run('sh', ['-c', 'sleep 60 & echo $!; wait'], { timeoutMs });

    // Assess
    const sleeper = Number(result.stdout.trim());
    leftovers.push(sleeper);
    assert.equal(result.timedOut, true);
    assertEndedByDeadline(Date.now() - started, {
      deadlineMs: timeoutMs,
      alternativeMs: 60_000,
      alternative: "the child's own end",
    });
    await gone(sleeper);
  });

  it('ends a run whose output a descendant outside its group holds open', async () => {
    // A setsid descendant keeps stdout open for a minute after the shell exits.
    const started = Date.now();
    const result = await run('sh', ['-c', 'setsid sh -c "echo \\$\\$; exec sleep 60" & sleep 0.2; exit 0'], {
      timeoutMs: DEFAULT_TIMEOUT_MS,
    });
    const holder = Number(result.stdout.trim().split('\n')[0]);
    leftovers.push(holder);
    assert.equal(result.exitCode, 0);
    assert.equal(result.outputLeftOpen, true, result.stderr);
    const elapsedMs = Date.now() - started;
    assert.ok(
      elapsedMs < halfwayMs(200 + OUTPUT_DRAIN_MS, 60_000),
      `ended after ${elapsedMs} ms: nearer the holder's end than the drain window`,
    );
  });

  it('gives a child only PATH, the C locale, TMPDIR and what the caller names', async () => {
    process.env.CCM_LAB_RUN_TEST_SECRET = 'inherited';
    try {
      const { stdout } = await runChecked('env', [], { env: { CCM_NAMED: 'given' } });
      const names = stdout
        .trim()
        .split('\n')
        .map((line) => line.slice(0, line.indexOf('=')))
        .sort();
      assert.deepEqual(names, ['CCM_NAMED', 'LANG', 'LC_ALL', 'PATH', 'TMPDIR']);
      assert.match(stdout, /^CCM_NAMED=given$/m);
      assert.match(stdout, /^LC_ALL=C$/m);
      assert.ok(stdout.includes(`TMPDIR=${os.tmpdir()}\n`));
    } finally {
      delete process.env.CCM_LAB_RUN_TEST_SECRET;
    }
  });

  it('caps the output it keeps, and says so', async () => {
    const result = await run('head', ['-c', '100000', '/dev/zero'], { maxOutputBytes: 1000 });
    assert.equal(result.stdout.length, 1000);
    assert.match(result.stderr, /output capped: 99000 bytes of stdout beyond 1000 dropped/);
  });

  it('rejects with E_PROCESS for a command that cannot start, and runChecked for a failing one', async () => {
    await assert.rejects(run('/nonexistent/command', []), (error: unknown) => {
      assert.ok(error instanceof ProcessError && error.code === 'E_PROCESS', String(error));
      assert.match(error.message, /cannot start \/nonexistent\/command: ENOENT/);
      return true;
    });
    await assert.rejects(runChecked('sh', ['-c', 'echo oops >&2; exit 3']), {
      code: 'E_PROCESS',
      message: /^sh -c echo oops >&2; exit 3 exited with 3$/,
      stderr: 'oops\n',
    });
    assert.equal((await run('cat', [], { input: 'fed on stdin' })).stdout, 'fed on stdin');
  });
});
