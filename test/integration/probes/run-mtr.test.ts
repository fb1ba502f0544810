import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { parseMtrJson } from '../../../agent/mtr/parse-mtr-json.ts';
import { buildMtrArgs, checkMtr, runMtr } from '../../../agent/probes/run-mtr.ts';
import { runProcess } from '../../../agent/process/run-process.ts';
import type { RunProcess } from '../../../agent/process/types.ts';
import { InvalidInputError, ProcessError } from '../../../common/errors.ts';
import { OUTPUT_DRAIN_MS } from '../../../common/round-budget.ts';
import { assertEndedByDeadline, halfwayMs } from '../../helpers/deadline.ts';

const fixtureBin = path.join(__dirname, '..', '..', 'fixtures', 'bin');
const tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'run-mtr-test-'));
after(() => fs.rmSync(tempDir, { recursive: true, force: true }));

/** PATH with one stand-in directory first, so `mtr` resolves to the stand-in. */
function pathWith(fixture: string): Record<string, string> {
  return { PATH: `${path.join(fixtureBin, fixture)}:${process.env.PATH ?? '/usr/bin:/bin'}` };
}

function hasRealMtr(): boolean {
  return (process.env.PATH ?? '')
    .split(':')
    .some((dir) => dir !== '' && fs.existsSync(path.join(dir, 'mtr')));
}

async function hasIpv6Loopback(): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(0, '::1', () => server.close(() => resolve(true)));
  });
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.charAt(stat.lastIndexOf(')') + 2) !== 'Z';
  } catch {
    return false;
  }
}

async function waitUntilGone(pid: number, withinMs: number): Promise<boolean> {
  const deadline = Date.now() + withinMs;
  while (isRunning(pid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  return !isRunning(pid);
}

/**
 * The pid the stand-in's descendant wrote (it writes asynchronously, after setsid). No time
 * limit of its own: a descendant that never writes is ended by the runner's hang guard.
 */
async function holderPid(pidFile: string): Promise<number> {
  for (;;) {
    const pid = fs.existsSync(pidFile) ? Number(fs.readFileSync(pidFile, 'utf8').trim()) : 0;
    if (pid > 0) return pid;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function killHolder(pidFile: string): void {
  try {
    process.kill(Number(fs.readFileSync(pidFile, 'utf8').trim()), 'SIGKILL');
  } catch {
    // never started, or gone
  }
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  assert.fail('expected the promise to reject');
}

const base = { address: '127.0.0.1', family: 4 as const, count: 1, intervalSec: 1, gracetimeSec: 1 };

describe('runMtr with the real mtr', {
  skip: hasRealMtr() ? false : 'mtr is not installed on this machine',
}, () => {
  it('returns a JSON report with hubs for 127.0.0.1', async () => {
    const json = await runMtr({ ...base, count: 2, intervalSec: 1 });
    const parsed = JSON.parse(json) as { report?: { hubs?: unknown[] } };
    assert.ok(Array.isArray(parsed.report?.hubs), json);
    assert.ok((parsed.report?.hubs ?? []).length >= 1);
  });

  it('asks for every field the reader needs, mean jitter included, even when MTR_OPTIONS names others', async () => {
    // Prepare: MTR_OPTIONS never reaches mtr from the agent (child-env.ts); passed here on purpose, to
    // show that the explicit field list wins over it (mtr reads MTR_OPTIONS before its arguments).
    const options = { ...base, count: 3, intervalSec: 0.2, env: { MTR_OPTIONS: '-o LS' } };
    // Act
    const json = await runMtr(process.getuid?.() === 0 ? options : { ...options, intervalSec: 1 });
    // Assess
    const hub = (JSON.parse(json) as { report: { hubs: Record<string, unknown>[] } }).report.hubs[0] ?? {};
    assert.deepEqual(Object.keys(hub), [
      'count',
      'host',
      'Loss%',
      'Snt',
      'Last',
      'Avg',
      'Best',
      'Wrst',
      'StDev',
      'Javg',
    ]);
    const [hop] = parseMtrJson(json).hops;
    assert.equal(typeof hop?.jitterMs, 'number', json);
  });

  it('returns a JSON report with hubs for ::1', async (t) => {
    if (!(await hasIpv6Loopback())) {
      t.skip('optional: this machine has no IPv6 loopback');
      return;
    }
    const json = await runMtr({ ...base, address: '::1', family: 6 });
    const parsed = JSON.parse(json) as { report?: { mtr?: { dst?: string }; hubs?: unknown[] } };
    assert.ok(Array.isArray(parsed.report?.hubs), json);
    assert.equal(parsed.report?.mtr?.dst, '::1');
  });

  it('reports the version of the installed mtr', async () => {
    const { version } = await checkMtr();
    assert.match(version, /^\d+\.\d+/);
  });
});

describe('runMtr arguments', () => {
  it('passes options as separate arguments with -- before the address', async () => {
    // Prepare: record what would be run, then run the real thing.
    const seen: string[][] = [];
    const recording: RunProcess = (file, args, options) => {
      seen.push([file, ...args]);
      return runProcess(process.execPath, ['-e', 'process.stdout.write("{}")'], options);
    };
    // Act
    await runMtr({ address: '::1', family: 6, count: 5, intervalSec: 0.5, gracetimeSec: 3 }, recording);
    // Assess
    assert.deepEqual(seen, [
      ['mtr', '-n', '--json', '-o', 'LSNABWVM', '-6', '-c', '5', '-i', '0.5', '-G', '3', '--', '::1'],
    ]);
  });

  it('uses a grace time of 2 s when none is given', () => {
    const args = buildMtrArgs({ address: '127.0.0.1', family: 4, count: 1, intervalSec: 1 });
    assert.deepEqual(args.slice(args.indexOf('-G'), args.indexOf('-G') + 2), ['-G', '2']);
  });

  it('derives the default timeout from count, interval and grace plus 15 s', async () => {
    let timeoutMs = 0;
    const recording: RunProcess = (_file, _args, options) => {
      timeoutMs = options.timeoutMs;
      return runProcess(process.execPath, ['-e', 'process.stdout.write("{}")'], options);
    };
    await runMtr(
      { address: '127.0.0.1', family: 4, count: 10, intervalSec: 0.5, gracetimeSec: 2 },
      recording,
    );
    assert.equal(timeoutMs, 22_000);
  });

  for (const [label, options, field] of [
    ['a host name instead of an IP literal', { ...base, address: 'example.com' }, 'address'],
    ['an IPv6 literal with family 4', { ...base, address: '::1' }, 'address'],
    ['an option-looking address', { ...base, address: '-c9' }, 'address'],
    ['a count of 0', { ...base, count: 0 }, 'count'],
    ['a fractional count', { ...base, count: 1.5 }, 'count'],
    ['an interval of 0', { ...base, intervalSec: 0 }, 'intervalSec'],
  ] as const) {
    it(`rejects ${label} before running anything`, async () => {
      let ran = false;
      const recording: RunProcess = (file, args, opts) => {
        ran = true;
        return runProcess(file, args, opts);
      };
      const error = await rejection(runMtr(options, recording));
      assert.ok(error instanceof InvalidInputError);
      assert.equal(error.field, field);
      assert.equal(ran, false);
    });
  }
});

describe('runMtr failures', () => {
  it('reports E_MTR_MISSING with install advice when mtr is not on PATH', async () => {
    const emptyDir = fs.mkdtempSync(path.join(tempDir, 'empty-path-'));
    const error = await rejection(runMtr({ ...base, env: { PATH: emptyDir } }));
    assert.ok(error instanceof ProcessError);
    assert.equal(error.code, 'E_MTR_MISSING');
    assert.match(error.message, /install mtr-tiny \(Debian\/Ubuntu\), mtr \(RHEL, Amazon Linux\)/);
    assert.equal(error.exitCode, null);
  });

  it('stops a hanging mtr at the timeout with E_MTR_TIMEOUT and leaves no helper behind', async () => {
    // Prepare
    const pidFile = path.join(tempDir, 'hang-helper.pid');
    const env = { ...pathWith('mtr-hang'), MTR_FIXTURE_PIDFILE: pidFile };
    // Act
    const started = Date.now();
    const error = await rejection(runMtr({ ...base, timeoutMs: 500, env }));
    // Assess
    assert.ok(error instanceof ProcessError);
    assert.equal(error.code, 'E_MTR_TIMEOUT');
    assert.match(error.message, /500 ms/);
    assertEndedByDeadline(Date.now() - started, {
      deadlineMs: 500,
      alternativeMs: 300_000,
      alternative: "the helper's `sleep 300`",
    });
    const helperPid = Number(fs.readFileSync(pidFile, 'utf8').trim());
    assert.ok(helperPid > 0);
    assert.equal(
      await waitUntilGone(helperPid, halfwayMs(0, 300_000)),
      true,
      `helper ${helperPid} still runs`,
    );
  });

  it('ends at its deadline when a descendant that left the process group holds stdout and mtr hangs', async () => {
    // Prepare: the descendant would hold the pipe for 120 s, far past the timeout.
    const timeoutMs = 500;
    const pidFile = path.join(tempDir, 'setsid-holder-hang.pid');
    const env = { ...pathWith('mtr-setsid-holder'), MTR_FIXTURE_PIDFILE: pidFile };
    const started = Date.now();
    try {
      // Act
      const error = await rejection(runMtr({ ...base, timeoutMs, env }));
      const elapsedMs = Date.now() - started;
      // Assess
      assert.ok(error instanceof ProcessError);
      assert.equal(error.code, 'E_MTR_TIMEOUT');
      assert.match(error.stderr, /held open .* outside its process group/);
      assertEndedByDeadline(elapsedMs, {
        deadlineMs: timeoutMs,
        alternativeMs: 120_000,
        alternative: "the descendant's `sleep 120` holding stdout",
      });
      assert.equal(isRunning(await holderPid(pidFile)), true, 'the descendant held stdout to the end');
    } finally {
      killHolder(pidFile);
    }
  });

  it('returns the report long before the deadline when mtr exits 0 but a setsid descendant holds stdout', async () => {
    const timeoutMs = 30_000;
    const pidFile = path.join(tempDir, 'setsid-holder-exit.pid');
    const env = { ...pathWith('mtr-setsid-holder'), MTR_FIXTURE_PIDFILE: pidFile, MTR_FIXTURE_EXIT: '0' };
    const started = Date.now();
    try {
      const json = await runMtr({ ...base, timeoutMs, env });
      const elapsedMs = Date.now() - started;
      assert.match(json, /"hubs":\[\{"count":1,"host":"127\.0\.0\.1"/);
      // Returned once mtr exited and the output drain passed, not at the deadline.
      assert.ok(
        elapsedMs < halfwayMs(OUTPUT_DRAIN_MS, timeoutMs),
        `ended after ${elapsedMs} ms: nearer its ${timeoutMs} ms deadline than mtr's exit`,
      );
    } finally {
      killHolder(pidFile);
    }
  });

  it('reports E_MTR_FAILED with exit code and stderr for a non-zero exit', async () => {
    const error = await rejection(runMtr({ ...base, env: pathWith('mtr-fail') }));
    assert.ok(error instanceof ProcessError);
    assert.equal(error.code, 'E_MTR_FAILED');
    assert.equal(error.exitCode, 1);
    assert.match(error.stderr, /Unexpected mtr-packet error/);
    assert.match(error.message, /exited with 1: mtr: Unexpected mtr-packet error/);
    assert.deepEqual(error.command, ['mtr', ...buildMtrArgs(base)]);
    assert.equal(error.toInfo().exitCode, 1);
  });

  it("reports E_MTR_PERMISSION for mtr-packet's socket permission failure", async () => {
    const error = await rejection(runMtr({ ...base, env: pathWith('mtr-permission') }));
    assert.ok(error instanceof ProcessError);
    assert.equal(error.code, 'E_MTR_PERMISSION');
    assert.match(error.message, /cap_net_raw/);
    assert.match(error.stderr, /Failure to open IPv4 sockets: Permission denied/);
  });

  it('reports E_MTR_OUTPUT with the stderr when mtr exits 0 without a report', async () => {
    const error = await rejection(runMtr({ ...base, env: pathWith('mtr-empty') }));
    assert.ok(error instanceof ProcessError);
    assert.equal(error.code, 'E_MTR_OUTPUT');
    assert.equal(error.exitCode, 0);
    assert.match(error.message, /Failed to resolve host: 127\.0\.0\.1/);
  });

  it('reports E_MTR_OUTPUT when mtr exits 0 with text that is not JSON', async () => {
    const error = await rejection(runMtr({ ...base, env: pathWith('mtr-garbage') }));
    assert.ok(error instanceof ProcessError);
    assert.equal(error.code, 'E_MTR_OUTPUT');
    assert.match(error.message, /not a JSON report/);
  });

  it('checkMtr reports E_MTR_MISSING when mtr is not on PATH', async () => {
    const missing = path.join(tempDir, 'no-such-dir', 'mtr');
    const error = await rejection(checkMtr(missing));
    assert.ok(error instanceof ProcessError);
    assert.equal(error.code, 'E_MTR_MISSING');
  });

  it('checkMtr reports E_MTR_FAILED when mtr --version fails', async () => {
    const error = await rejection(checkMtr(path.join(fixtureBin, 'mtr-fail', 'mtr')));
    assert.ok(error instanceof ProcessError);
    assert.equal(error.code, 'E_MTR_FAILED');
    assert.equal(error.exitCode, 1);
  });
});
