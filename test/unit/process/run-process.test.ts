import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { KILL_GRACE_MS, runProcess } from '../../../agent/process/run-process.ts';
import { assertEndedByDeadline, halfwayMs } from '../../helpers/deadline.ts';

const tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'run-process-test-'));
after(() => fs.rmSync(tempDir, { recursive: true, force: true }));

/** True while the pid exists and is not a zombie waiting for its reaper. */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

async function waitUntilGone(pid: number, withinMs: number): Promise<boolean> {
  const deadline = Date.now() + withinMs;
  while (Date.now() < deadline) {
    if (!isRunning(pid)) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return !isRunning(pid);
}

describe('runProcess', () => {
  it('returns stdout, stderr and exit code 0 of a process that succeeds', async () => {
    // Prepare
    const script = 'process.stdout.write("out"); process.stderr.write("err")';
    // Act
    const result = await runProcess(process.execPath, ['-e', script], { timeoutMs: 10_000 });
    // Assess
    assert.equal(result.exitCode, 0);
    assert.equal(result.signal, null);
    assert.equal(result.stdout, 'out');
    assert.equal(result.stderr, 'err');
    assert.equal(result.timedOut, false);
    assert.equal(result.spawnError, null);
    assert.deepEqual(result.command, [process.execPath, '-e', script]);
    assert.ok(result.durationMs > 0);
  });

  it('resolves (does not reject) a non-zero exit and keeps its stderr as evidence', async () => {
    const result = await runProcess(process.execPath, ['-e', 'console.error("bad thing"); process.exit(7)'], {
      timeoutMs: 10_000,
    });
    assert.equal(result.exitCode, 7);
    assert.equal(result.stderr, 'bad thing\n');
    assert.equal(result.timedOut, false);
    assert.equal(result.spawnError, null);
  });

  it('passes arguments verbatim without a shell', async () => {
    const tricky = ['$(echo no)', '; echo injected', '`id`', '*', 'a\'b"c'];
    const result = await runProcess(
      process.execPath,
      ['-e', 'process.stdout.write(JSON.stringify(process.argv.slice(1)))', ...tricky],
      { timeoutMs: 10_000 },
    );
    assert.deepEqual(JSON.parse(result.stdout), tricky);
  });

  it('overrides and removes environment variables given in env', async () => {
    process.env.RUN_PROCESS_TEST_REMOVE = 'present';
    try {
      const result = await runProcess(
        process.execPath,
        [
          '-e',
          'process.stdout.write(JSON.stringify([process.env.RP_SET, process.env.RUN_PROCESS_TEST_REMOVE ?? null]))',
        ],
        { timeoutMs: 10_000, env: { RP_SET: 'yes', RUN_PROCESS_TEST_REMOVE: undefined } },
      );
      assert.deepEqual(JSON.parse(result.stdout), ['yes', null]);
    } finally {
      delete process.env.RUN_PROCESS_TEST_REMOVE;
    }
  });

  it('reports a signal when the child is killed by one', async () => {
    const result = await runProcess(process.execPath, ['-e', 'process.kill(process.pid, "SIGKILL")'], {
      timeoutMs: 10_000,
    });
    assert.equal(result.exitCode, null);
    assert.equal(result.signal, 'SIGKILL');
    assert.equal(result.timedOut, false);
  });

  it('kills a process that runs past timeoutMs and says it timed out', async () => {
    const result = await runProcess('sleep', ['30'], { timeoutMs: 200 });
    assert.equal(result.timedOut, true);
    assert.equal(result.exitCode, null);
    assert.equal(result.signal, 'SIGTERM');
    assertEndedByDeadline(result.durationMs, {
      deadlineMs: 200,
      alternativeMs: 30_000,
      alternative: 'the end of `sleep 30`',
    });
  });

  it('kills the whole process group at timeout, including a grandchild that holds the pipes', async () => {
    // Prepare: the child starts a grandchild that inherits stdout and sleeps, prints its pid, and hangs.
    const script = [
      'const { spawn } = require("node:child_process");',
      'const g = spawn("sleep", ["60"], { stdio: ["ignore", "inherit", "inherit"] });',
      'process.stdout.write(String(g.pid) + "\\n");',
      'setInterval(() => {}, 1000);',
    ].join('\n');
    // Act
    const result = await runProcess(process.execPath, ['-e', script], { timeoutMs: 500 });
    // Assess: a surviving grandchild would hold the pipes and delay the result until it exits.
    assert.equal(result.timedOut, true);
    assertEndedByDeadline(result.durationMs, {
      deadlineMs: 500,
      alternativeMs: 60_000,
      alternative: "the grandchild's `sleep 60` releasing the pipes",
    });
    const grandchildPid = Number(result.stdout.trim());
    assert.ok(
      Number.isInteger(grandchildPid) && grandchildPid > 0,
      `stdout was ${JSON.stringify(result.stdout)}`,
    );
    assert.equal(
      await waitUntilGone(grandchildPid, halfwayMs(0, 60_000)),
      true,
      `grandchild ${grandchildPid} still runs`,
    );
  });

  it('escalates to SIGKILL for a group member that ignores SIGTERM', async () => {
    // Prepare: the grandchild ignores SIGTERM and does not hold the pipes, so 'close' comes early.
    const grandchild = 'process.on("SIGTERM", () => {}); setInterval(() => {}, 1000);';
    const script = [
      'const { spawn } = require("node:child_process");',
      `const g = spawn(process.execPath, ["-e", ${JSON.stringify(grandchild)}], { stdio: "ignore" });`,
      'process.stdout.write(String(g.pid) + "\\n");',
      'setInterval(() => {}, 1000);',
    ].join('\n');
    // Act
    const result = await runProcess(process.execPath, ['-e', script], { timeoutMs: 700 });
    // Assess
    assert.equal(result.timedOut, true);
    const grandchildPid = Number(result.stdout.trim());
    assert.ok(grandchildPid > 0, `stdout was ${JSON.stringify(result.stdout)}`);
    // Without SIGKILL the grandchild would live for ever: the poll only has to outlast the grace
    // on a busy machine, and costs nothing when the grandchild is gone.
    assert.equal(
      await waitUntilGone(grandchildPid, KILL_GRACE_MS + 30_000),
      true,
      `grandchild ${grandchildPid} still runs`,
    );
  });

  it('reports ENOENT with exit code null for a binary that does not exist', async () => {
    const result = await runProcess('definitely-not-a-command-7f3a', ['x'], { timeoutMs: 10_000 });
    assert.equal(result.spawnError, 'ENOENT');
    assert.equal(result.exitCode, null);
    assert.equal(result.signal, null);
    assert.equal(result.timedOut, false);
    assert.deepEqual(result.command, ['definitely-not-a-command-7f3a', 'x']);
  });

  it('reports EACCES for a file that is not executable', async () => {
    const file = path.join(tempDir, 'not-executable');
    fs.writeFileSync(file, '#!/bin/sh\necho hi\n', { mode: 0o644 });
    const result = await runProcess(file, [], { timeoutMs: 10_000 });
    assert.equal(result.spawnError, 'EACCES');
    assert.equal(result.exitCode, null);
  });

  it('caps captured output at maxOutputBytes and says so in stderr', async () => {
    const script = 'process.stdout.write("x".repeat(200000))';
    const result = await runProcess(process.execPath, ['-e', script], {
      timeoutMs: 10_000,
      maxOutputBytes: 1000,
    });
    assert.equal(result.exitCode, 0);
    assert.equal(result.stdout, 'x'.repeat(1000));
    assert.match(result.stderr, /199000 bytes of stdout beyond 1000 dropped/);
  });

  it('captures more than 64 KiB when it fits under the default cap', async () => {
    const result = await runProcess(process.execPath, ['-e', 'process.stdout.write("y".repeat(300000))'], {
      timeoutMs: 10_000,
    });
    assert.equal(result.stdout.length, 300000);
    assert.equal(result.stderr, '');
  });

  it('runs in the given cwd', async () => {
    const result = await runProcess(process.execPath, ['-e', 'process.stdout.write(process.cwd())'], {
      timeoutMs: 10_000,
      cwd: tempDir,
    });
    assert.equal(result.stdout, fs.realpathSync(tempDir));
  });
});
