/**
 * `watch` replaces the old cron job: rounds repeat, never overlap, and the
 * process stops cleanly on SIGTERM/SIGINT.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseResultDocument } from '../../../common/result-schema.ts';
import { halfwayMs } from '../../helpers/deadline.ts';
import { roundLockExists } from '../../helpers/round-lock.ts';
import { AGENT, runAgent, tempDir } from '../../helpers/run-agent.ts';

describe('agent watch', () => {
  let dir: ReturnType<typeof tempDir>;
  before(() => {
    dir = tempDir('agent-watch-');
  });
  after(() => dir.cleanup());

  it('runs the requested number of rounds, one result document per round', () => {
    const logDir = join(dir.path, 'rounds');
    // --every 0.02 minutes = 1.2 s between round starts.
    const run = runAgent([
      'watch',
      '--json',
      '--every',
      '0.02',
      '--rounds',
      '3',
      '--resources',
      '127.0.0.1',
      '--count',
      '2',
      '--interval',
      '0.2',
      '--log-dir',
      logDir,
    ]);
    assert.equal(run.status, 0, run.stderr);
    const docs = run.stdout
      .trim()
      .split('\n')
      .map((line) => parseResultDocument(line));
    assert.equal(docs.length, 3);
    assert.ok(docs.every((d) => d.outcome === 'completed'));
    const starts = docs.map((d) => Date.parse(d.startedAt));
    for (let i = 1; i < starts.length; i++) {
      const previous = docs[i - 1];
      assert.ok(
        previous && (starts[i] ?? 0) >= Date.parse(previous.finishedAt),
        'a round starts only after the previous one finished',
      );
    }
    assert.equal(
      readFileSync(join(logDir, 'LATENCY-LOSS-CONNEXA-REPORT.json'), 'utf8').trim().split('\n').length,
      3,
    );
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`stops at once on ${signal} while waiting for the next round, exit 0, lock released`, async () => {
      const logDir = join(dir.path, signal);
      const child = spawn(process.execPath, [
        AGENT,
        'watch',
        '--json',
        '--every',
        '10',
        '--resources',
        '127.0.0.1',
        '--count',
        '2',
        '--interval',
        '0.2',
        '--log-dir',
        logDir,
      ]);
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
      });
      const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      // No time limit of its own: a first round that never comes is ended by the runner's hang guard.
      while (!out.includes('\n') && child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
      assert.ok(out.includes('\n'), 'first round reported');

      const stopAsked = Date.now();
      child.kill(signal);

      assert.equal(await exit, 0);
      // The next round is due 10 minutes after the first began.
      const stoppedAfterMs = Date.now() - stopAsked;
      assert.ok(
        stoppedAfterMs < halfwayMs(0, 10 * 60_000),
        `stopped ${stoppedAfterMs} ms after ${signal}: it waited for the next slot`,
      );
      assert.equal(roundLockExists(logDir), false);
    });
  }
});
