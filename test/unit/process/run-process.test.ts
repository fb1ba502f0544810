import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { childSearchPath } from '../../../agent/process/child-env.ts';
import { runProcess } from '../../../agent/process/run-process.ts';
import { InvalidInputError } from '../../../common/errors.ts';

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

  it('gives the child only PATH, the C locale and the variables named in env', async () => {
    // Prepare: variables a host may have set, which must not reach the child.
    const inherited = {
      MTR_OPTIONS: '-o LS',
      MTR_PACKET: '/tmp/not-mtr-packet',
      LD_PRELOAD: '/tmp/libnot.so',
      LANG: 'de_DE.UTF-8',
      LC_ALL: 'de_DE.UTF-8',
      RUN_PROCESS_TEST_SECRET: 'host only',
    };
    const saved = Object.fromEntries(Object.keys(inherited).map((k) => [k, process.env[k]]));
    Object.assign(process.env, inherited);
    try {
      // Act
      const result = await runProcess(
        process.execPath,
        ['-e', 'process.stdout.write(JSON.stringify(process.env))'],
        {
          timeoutMs: 10_000,
          env: { RP_SET: 'yes' },
        },
      );
      // Assess
      const env = JSON.parse(result.stdout) as Record<string, string>;
      assert.deepEqual(Object.keys(env).sort(), ['LANG', 'LC_ALL', 'PATH', 'RP_SET']);
      assert.equal(env.LC_ALL, 'C');
      assert.equal(env.LANG, 'C');
      assert.equal(env.RP_SET, 'yes');
      assert.equal(env.PATH, childSearchPath(process.env.PATH));
    } finally {
      for (const [key, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    }
  });

  it('lets a caller name its own PATH explicitly', async () => {
    const result = await runProcess(process.execPath, ['-e', 'process.stdout.write(process.env.PATH)'], {
      timeoutMs: 10_000,
      env: { PATH: '/opt/only' },
    });
    assert.equal(result.stdout, '/opt/only');
  });

  it('rejects an environment variable name that is not a name, before starting anything', async () => {
    const marker = path.join(tempDir, 'started-despite-bad-env');
    await assert.rejects(
      runProcess('touch', [marker], { timeoutMs: 10_000, env: { 'BAD=NAME': 'x' } }),
      (error: unknown) => error instanceof InvalidInputError && /BAD=NAME/.test(error.message),
    );
    assert.equal(fs.existsSync(marker), false);
  });

  it('rejects a timeout that setTimeout cannot hold', async () => {
    await assert.rejects(runProcess('true', [], { timeoutMs: 2 ** 31 }), InvalidInputError);
    await assert.rejects(runProcess('true', [], { timeoutMs: Number.NaN }), InvalidInputError);
  });

  it('runs in / unless a cwd is given, so no relative name resolves in a directory someone else controls', async () => {
    const result = await runProcess(process.execPath, ['-e', 'process.stdout.write(process.cwd())'], {
      timeoutMs: 10_000,
    });
    assert.equal(result.stdout, '/');
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
    assert.ok(result.durationMs >= 190 && result.durationMs < 5_000, `took ${result.durationMs} ms`);
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
    assert.ok(result.durationMs < 5_000, `took ${result.durationMs} ms`);
    const grandchildPid = Number(result.stdout.trim());
    assert.ok(
      Number.isInteger(grandchildPid) && grandchildPid > 0,
      `stdout was ${JSON.stringify(result.stdout)}`,
    );
    assert.equal(await waitUntilGone(grandchildPid, 2_000), true, `grandchild ${grandchildPid} still runs`);
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
    assert.equal(await waitUntilGone(grandchildPid, 2_000), true, `grandchild ${grandchildPid} still runs`);
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

  it('writes input to stdin and closes it; without input stdin is empty', async () => {
    const echo = 'process.stdin.pipe(process.stdout)';
    const given = await runProcess(process.execPath, ['-e', echo], {
      timeoutMs: 10_000,
      input: 'netns add x\n',
    });
    assert.equal(given.stdout, 'netns add x\n');
    const none = await runProcess(process.execPath, ['-e', echo], { timeoutMs: 10_000 });
    assert.equal(none.stdout, '');
    assert.equal(none.exitCode, 0);
  });

  it('survives a child that exits without reading a large input', async () => {
    const result = await runProcess('true', [], { timeoutMs: 10_000, input: 'x'.repeat(1024 * 1024) });
    assert.equal(result.exitCode, 0);
  });

  it('runs in the given cwd', async () => {
    const result = await runProcess(process.execPath, ['-e', 'process.stdout.write(process.cwd())'], {
      timeoutMs: 10_000,
      cwd: tempDir,
    });
    assert.equal(result.stdout, fs.realpathSync(tempDir));
  });
});

/**
 * A child that starts a grandchild in a new session (setsid through
 * `detached`), out of reach of the process-group kill, holding the child's
 * stdout for `holdMs`; prints the grandchild's pid, then exits 0 or hangs.
 */
function escapingHolder(holdMs: number, then: 'exit' | 'hang'): string[] {
  const grandchild = `setTimeout(() => {}, ${holdMs})`;
  return [
    '-e',
    [
      'const { spawn } = require("node:child_process");',
      `const g = spawn(process.execPath, ["-e", ${JSON.stringify(grandchild)}], { detached: true, stdio: ["ignore", "inherit", "inherit"] });`,
      'g.unref();',
      'process.stdout.write("report from " + process.pid + "\\ngrandchild " + g.pid + "\\n");',
      then === 'exit' ? 'process.exitCode = 0;' : 'setInterval(() => {}, 1000);',
    ].join('\n'),
  ];
}

function grandchildPid(stdout: string): number {
  const pid = Number(/grandchild (\d+)/.exec(stdout)?.[1]);
  assert.ok(Number.isInteger(pid) && pid > 0, `stdout was ${JSON.stringify(stdout)}`);
  return pid;
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone already
  }
}

describe('runProcess ends by its deadline, whatever the descendants do', () => {
  it('a timed-out child whose setsid grandchild holds stdout: ends after the kill grace, with the output so far', async () => {
    // Prepare: the grandchild would hold the pipe 40 times longer than the timeout.
    const timeoutMs = 500;
    const holdMs = 40 * timeoutMs;
    // Act
    const result = await runProcess(process.execPath, escapingHolder(holdMs, 'hang'), { timeoutMs });
    const holder = grandchildPid(result.stdout);
    try {
      // Assess
      assert.equal(result.timedOut, true);
      assert.equal(result.outputLeftOpen, true);
      assert.match(result.stdout, /^report from \d+\n/);
      assert.match(result.stderr, /held open .* outside its process group/);
      assert.ok(result.durationMs >= timeoutMs, `ended after ${result.durationMs} ms`);
      assert.ok(
        result.durationMs < holdMs / 2,
        `ended after ${result.durationMs} ms: it waited for the grandchild (${holdMs} ms)`,
      );
      assert.equal(isRunning(holder), true, 'the grandchild still held the pipe when the run ended');
    } finally {
      killQuietly(holder);
    }
  });

  it('a child that exits 0 while its setsid grandchild holds stdout: ends after the drain, exit code and output kept', async () => {
    const timeoutMs = 20_000;
    const result = await runProcess(process.execPath, escapingHolder(timeoutMs * 2, 'exit'), { timeoutMs });
    const holder = grandchildPid(result.stdout);
    try {
      assert.equal(result.exitCode, 0);
      assert.equal(result.timedOut, false);
      assert.equal(result.outputLeftOpen, true);
      assert.match(result.stdout, /^report from \d+\ngrandchild \d+\n$/);
      assert.ok(
        result.durationMs < timeoutMs / 4,
        `ended after ${result.durationMs} ms of a ${timeoutMs} ms timeout`,
      );
    } finally {
      killQuietly(holder);
    }
  });

  it('kills a group member that still holds stdout after the child exited, then ends with the pipes closed', async () => {
    const timeoutMs = 20_000;
    const script = [
      'const { spawn } = require("node:child_process");',
      'const g = spawn("sleep", ["60"], { stdio: ["ignore", "inherit", "inherit"] });',
      'g.unref();',
      'process.stdout.write("grandchild " + g.pid + "\\n");',
    ].join('\n');
    const result = await runProcess(process.execPath, ['-e', script], { timeoutMs });
    const member = grandchildPid(result.stdout);
    try {
      assert.equal(result.exitCode, 0);
      assert.equal(result.outputLeftOpen, false);
      assert.ok(result.durationMs < timeoutMs / 4, `ended after ${result.durationMs} ms`);
      assert.equal(await waitUntilGone(member, 2_000), true, `group member ${member} still runs`);
    } finally {
      killQuietly(member);
    }
  });

  it('kills what is left of the group when the child exits, even if it does not hold the pipes', async () => {
    const script = [
      'const { spawn } = require("node:child_process");',
      'const g = spawn("sleep", ["60"], { stdio: "ignore" });',
      'g.unref();',
      'process.stdout.write("grandchild " + g.pid + "\\n");',
    ].join('\n');
    const result = await runProcess(process.execPath, ['-e', script], { timeoutMs: 20_000 });
    const member = grandchildPid(result.stdout);
    try {
      assert.equal(result.exitCode, 0);
      assert.equal(await waitUntilGone(member, 2_000), true, `group member ${member} outlived the run`);
    } finally {
      killQuietly(member);
    }
  });

  it('stops a run when its abort signal fires, reported as aborted rather than timed out', async () => {
    const timeoutMs = 30_000;
    const stop = new AbortController();
    const pending = runProcess('sleep', ['60'], { timeoutMs, signal: stop.signal });
    setTimeout(() => stop.abort(), 100);
    const result = await pending;
    assert.equal(result.aborted, true);
    assert.equal(result.timedOut, false);
    assert.equal(result.signal, 'SIGTERM');
    assert.ok(result.durationMs < timeoutMs / 4, `ended after ${result.durationMs} ms`);
  });

  it('does not start a run whose signal has already fired', async () => {
    const marker = path.join(tempDir, 'started-after-abort');
    const stop = new AbortController();
    stop.abort();
    const result = await runProcess('touch', [marker], { timeoutMs: 10_000, signal: stop.signal });
    assert.equal(result.aborted, true);
    assert.equal(result.exitCode, null);
    assert.equal(fs.existsSync(marker), false);
  });
});
