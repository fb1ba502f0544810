/**
 * Issue 7 §5 through the built bundle: the agent runs as root, `nobody`
 * (uid 65534) stands in for `ubuntu` and owns the log directory's parent, and
 * plants links, FIFOs and forged locks there. Nothing it plants makes root
 * write outside the directory, create files it did not mean to, block, or read
 * unbounded data; every round ends with a result document.
 *
 * A stand-in `mtr` first on PATH prints a flagged report (250 ms to
 * 127.0.0.1), so each round writes the report and both MTR files. Durations
 * are compared with a clean round measured in the same run, never with a
 * fixed figure; a hang would end at the spawn timeout and fail.
 */

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { HISTORY_FILE } from '../../../agent/history/history-store.ts';
import { TUNNEL_STATE_FILE } from '../../../agent/tunnel/tunnel-memory.ts';
import { parseResultDocument, type ResultDocument } from '../../../common/result-schema.ts';
import {
  forgedLock,
  type HostileDirs,
  hostileDirs,
  NOBODY,
  ownedDir,
  plantFifo,
  plantSymlink,
  rootOnlyFile,
  snapshot,
} from '../../helpers/hostile-dir.ts';
import { roundLockExists } from '../../helpers/round-lock.ts';
import { AGENT, type AgentRun, NODE12, ROOT, standInBin } from '../../helpers/run-agent.ts';

const REPORT = 'LATENCY-LOSS-CONNEXA-REPORT.json';
const HISTORY = HISTORY_FILE;
const FLAGGED_JSON = join(ROOT, 'test', 'fixtures', 'agent-cli', 'mtr095-standin-destination-250ms.json');
/** A planted file must not cost a round more than this many clean rounds (a hang costs the spawn timeout). */
const SLOWDOWN_FACTOR = 8;
const SPAWN_TIMEOUT_MS = 60_000;

/**
 * Runs the bundle; at the timeout SIGKILL, not SIGTERM: the faults fixed here
 * made the agent ignore SIGTERM, and the test must fail, not wait forever.
 */
function runBundle(args: string[], as?: number, node = process.execPath): AgentRun {
  const started = Date.now();
  const result = spawnSync(node, [AGENT, ...args], {
    env: { ...process.env, ...env },
    cwd: as === undefined ? ROOT : dirs.home,
    encoding: 'utf8',
    timeout: SPAWN_TIMEOUT_MS,
    killSignal: 'SIGKILL',
    ...(as === undefined ? {} : { uid: as, gid: as }),
  });
  return {
    status: result.status,
    stdout: result.stdout,
    stderr: result.stderr,
    durationMs: Date.now() - started,
  };
}

let dirs: HostileDirs;
let env: Record<string, string>;
let baseline: AgentRun;
let sequence = 0;

function check(logDir: string, extra: string[] = [], node = process.execPath): AgentRun {
  return runBundle(
    [
      'check',
      '--json',
      '--resources',
      '127.0.0.1',
      '--gateway-ip',
      '127.0.0.1',
      '--count',
      '3',
      '--interval',
      '0.2',
      '--log-dir',
      logDir,
      ...extra,
    ],
    undefined,
    node,
  );
}

/** A fresh stand-in for /home/ubuntu/Connexa-Logs: owned by nobody, in nobody's home. */
function userLogDir(): string {
  sequence += 1;
  return ownedDir(join(dirs.home, `Connexa-Logs-${sequence}`));
}

function documentOf(run: AgentRun): ResultDocument {
  assert.notEqual(run.status, null, `the agent was killed at the ${SPAWN_TIMEOUT_MS} ms timeout: it hung`);
  return parseResultDocument(run.stdout);
}

function assertQuick(run: AgentRun): void {
  assert.ok(
    run.durationMs < baseline.durationMs * SLOWDOWN_FACTOR,
    `took ${run.durationMs} ms; a clean round took ${baseline.durationMs} ms`,
  );
}

/** The round measured (the planted file must not cost the measurements) but could not record them. */
function assertMeasuredNotRecorded(run: AgentRun, message: RegExp): void {
  assert.equal(run.status, 3, run.stderr);
  const doc = documentOf(run);
  assert.equal(doc.outcome, 'environment');
  assert.equal(doc.error?.code, 'E_LOG_DIR');
  assert.match(doc.error?.message ?? '', message);
  assert.equal(doc.resources[0]?.latencyMs, 250, 'the measurement is in the document');
}

function assertCompleted(run: AgentRun, logDir: string): ResultDocument {
  assert.equal(run.status, 0, run.stdout + run.stderr);
  const doc = documentOf(run);
  assert.equal(doc.outcome, 'completed');
  assert.deepEqual(
    doc.files.map((f) => f.path),
    [REPORT, `MTR-RESOURCE-${doc.mtrId}.txt`, `MTR-GATEWAY-${doc.mtrId}.txt`, HISTORY].map((name) =>
      join(logDir, name),
    ),
  );
  return doc;
}

describe('agent check as root in a log directory a non-root user controls', () => {
  before(() => {
    dirs = hostileDirs('agent-hostile-');
    const bin = standInBin(join(dirs.rootDir, 'tools'), {
      mtr: `#!/bin/sh\nif [ "$1" = "--version" ]; then echo "mtr 0.95"; exit 0; fi\ncat '${FLAGGED_JSON}'\n`,
    });
    fs.chmodSync(join(dirs.rootDir, 'tools'), 0o755);
    env = { PATH: `${bin}:${process.env.PATH ?? ''}` };
    const logDir = join(dirs.home, 'Connexa-Logs');
    baseline = check(logDir);
    assertCompleted(baseline, logDir);
  });
  after(() => dirs.cleanup());

  it('a clean round creates the log directory and its files as the directory’s user, not as root', () => {
    const logDir = join(dirs.home, 'Connexa-Logs');
    for (const name of fs.readdirSync(logDir)) {
      assert.equal(fs.statSync(join(logDir, name)).uid, NOBODY, name);
    }
    assert.equal(fs.statSync(logDir).uid, NOBODY);
    // The report, the flagged round's MTR-RESOURCE and MTR-GATEWAY files, the tunnel state and the round history.
    assert.equal(fs.readdirSync(logDir).includes(TUNNEL_STATE_FILE), true);
    assert.equal(fs.readdirSync(logDir).includes(HISTORY_FILE), true);
    assert.equal(fs.readdirSync(logDir).length, 5);
    assert.equal(roundLockExists(logDir), false, 'the lock (kept by root in /run) is released');
  });

  it('report linked to a root-only file: refused, the file is unchanged', () => {
    const logDir = userLogDir();
    const secret = rootOnlyFile(join(dirs.rootDir, 'sudoers'), 'root ALL=(ALL:ALL) ALL\n');
    plantSymlink(secret, join(logDir, REPORT));
    const run = check(logDir);
    assertMeasuredNotRecorded(
      run,
      new RegExp(`${REPORT.replace('.', '\\.')} is a symbolic link; refusing to follow it`),
    );
    assert.equal(fs.readFileSync(secret, 'utf8'), 'root ALL=(ALL:ALL) ALL\n');
    assert.equal(fs.statSync(secret).mode & 0o777, 0o440);
  });

  it('report as a dangling link: refused, its target is not created', () => {
    const logDir = userLogDir();
    const target = join(dirs.rootDir, 'cron-job');
    plantSymlink(target, join(logDir, REPORT));
    assertMeasuredNotRecorded(check(logDir), /is a symbolic link; refusing to follow it/);
    assert.equal(fs.existsSync(target), false);
  });

  it('log directory replaced by a link to a root-owned directory: nothing is written there', () => {
    const victim = join(dirs.rootDir, 'etc-like');
    fs.mkdirSync(victim, { mode: 0o755 });
    fs.writeFileSync(join(victim, 'existing.conf'), 'keep\n');
    const before = snapshot(victim);
    const logDir = plantSymlink(victim, join(dirs.home, 'Connexa-Logs-link'));
    const run = check(logDir);
    assert.equal(run.status, 3, run.stderr);
    const doc = documentOf(run);
    assert.equal(doc.outcome, 'environment');
    assert.equal(doc.error?.code, 'E_LOG_DIR');
    assert.match(
      doc.error?.message ?? '',
      new RegExp(
        `really ${victim}\\) is not writable .*uid ${NOBODY} .*symbolic link ${logDir}, which uid ${NOBODY} owns`,
      ),
    );
    assert.deepEqual(snapshot(victim), before);
  });

  for (const [what, plant] of [
    ['a FIFO', (lock: string) => plantFifo(lock)],
    ['a link to /dev/zero', (lock: string) => plantSymlink('/dev/zero', lock)],
    [
      'a forged lock (pid 1, this boot, startedAt 2099)',
      (lock: string) => {
        fs.writeFileSync(lock, forgedLock());
        fs.chownSync(lock, NOBODY, NOBODY);
        return lock;
      },
    ],
  ] as const) {
    it(`${what} at the old lock path neither blocks, nor is read, nor makes the round busy`, () => {
      const logDir = userLogDir();
      const lock = plant(join(logDir, '.cc-monitor.lock'));
      const before = fs.lstatSync(lock);
      const run = check(logDir);
      assertCompleted(run, logDir);
      assertQuick(run);
      const afterRun = fs.lstatSync(lock);
      assert.equal(afterRun.ino, before.ino, 'left alone');
      assert.equal(afterRun.mode, before.mode);
    });
  }

  it('a root-owned log directory made by the old script inside the user’s home keeps working, as root', () => {
    const logDir = join(dirs.home, 'Connexa-Logs-old');
    fs.mkdirSync(logDir, { mode: 0o755 });
    fs.writeFileSync(join(logDir, REPORT), '{"HOSTNAME":"old"}\n', { mode: 0o644 });
    const run = check(logDir);
    assertCompleted(run, logDir);
    const lines = fs.readFileSync(join(logDir, REPORT), 'utf8').trim().split('\n');
    assert.equal(lines.length, 2);
    assert.equal(fs.statSync(join(logDir, `MTR-RESOURCE-${documentOf(run).mtrId}.txt`)).uid, 0);
  });

  it('rotation and pruning move planted links by name and never touch what they point to', () => {
    const logDir = userLogDir();
    const secret = rootOnlyFile(join(dirs.rootDir, 'shadow'), 'root:$6$x:19000::::::\n');
    const outside = join(dirs.rootDir, 'rotated-into');
    fs.mkdirSync(outside, { mode: 0o755 });
    const before = { secret: snapshot(dirs.rootDir) };
    const own = (name: string, content: string) => {
      fs.writeFileSync(join(logDir, name), content);
      fs.chownSync(join(logDir, name), NOBODY, NOBODY);
    };
    own(REPORT, `${'{"HOSTNAME":"old"}\n'.repeat(300)}`);
    plantSymlink(secret, join(logDir, `${REPORT}.1`));
    plantSymlink(join(outside, 'new'), join(logDir, `${REPORT}.2`));
    plantSymlink(secret, join(logDir, 'MTR-RESOURCE-20000101000000.txt'));
    plantFifo(join(logDir, 'MTR-GATEWAY-20000101000000.txt'));
    for (const id of ['20010101000000', '20020101000000']) own(`MTR-RESOURCE-${id}.txt`, 'old\n');

    const run = check(logDir, ['--max-report-bytes', '4096', '--keep-reports', '2', '--max-mtr-files', '2']);

    const doc = assertCompleted(run, logDir);
    assert.deepEqual(snapshot(dirs.rootDir), before.secret, 'nothing outside changed or appeared');
    assert.equal(fs.readlinkSync(join(logDir, `${REPORT}.2`)), secret, 'the .1 link moved to .2 by name');
    assert.equal(fs.readFileSync(join(logDir, `${REPORT}.1`), 'utf8').split('\n').length, 301);
    assert.deepEqual(
      fs.readdirSync(logDir).sort(),
      [
        TUNNEL_STATE_FILE,
        REPORT,
        `${REPORT}.1`,
        `${REPORT}.2`,
        `MTR-GATEWAY-${doc.mtrId}.txt`,
        'MTR-GATEWAY-20000101000000.txt',
        `MTR-RESOURCE-${doc.mtrId}.txt`,
        'MTR-RESOURCE-20000101000000.txt',
        HISTORY,
      ].sort(),
    );
  });

  it('does the same under Node.js 12.22 (seteuid, O_NOFOLLOW, opendir): files as the user, links refused', () => {
    assert.ok(
      fs.existsSync(NODE12),
      `the Node 12 binary the bundle promises to run on is missing: ${NODE12}`,
    );
    const logDir = join(dirs.home, 'Connexa-Logs-node12');
    assertCompleted(check(logDir, [], NODE12), logDir);
    for (const name of fs.readdirSync(logDir))
      assert.equal(fs.statSync(join(logDir, name)).uid, NOBODY, name);
    const secret = rootOnlyFile(join(dirs.rootDir, 'node12-secret'), 'root only\n');
    fs.unlinkSync(join(logDir, REPORT));
    plantSymlink(secret, join(logDir, REPORT));
    assertMeasuredNotRecorded(check(logDir, [], NODE12), /is a symbolic link; refusing to follow it/);
    assert.equal(fs.readFileSync(secret, 'utf8'), 'root only\n');
    const zero = runBundle(['check', '--json', '--config', '/dev/zero'], undefined, NODE12);
    assert.equal(documentOf(zero).error?.code, 'E_CONFIG_FILE');
  });

  it('--config /dev/zero, a FIFO or a user’s link is rejected at once with E_CONFIG_FILE', () => {
    const fifo = plantFifo(join(dirs.rootDir, 'monitor-fifo.json'), 0);
    const real = join(dirs.rootDir, 'monitor.json');
    fs.writeFileSync(real, JSON.stringify({ resources: ['127.0.0.1'] }));
    const link = plantSymlink(real, join(dirs.home, 'monitor.json'));
    for (const [config, message] of [
      ['/dev/zero', /is a character device, not a regular file/],
      [fifo, /is a FIFO \(named pipe\), not a regular file/],
      [link, /is reached through the symbolic link .*which uid 65534 owns/],
    ] as const) {
      const run = runBundle(['check', '--json', '--config', config, '--log-dir', userLogDir()]);
      assert.equal(run.status, 2, run.stdout + run.stderr);
      const doc = documentOf(run);
      assert.equal(doc.outcome, 'invalid-input');
      assert.equal(doc.error?.code, 'E_CONFIG_FILE');
      assert.match(doc.error?.message ?? '', message);
      assertQuick(run);
    }
  });
});

describe('agent check as root: SIGTERM in a directory a user controls', () => {
  before(() => {
    dirs = hostileDirs('agent-term-');
    const bin = standInBin(join(dirs.rootDir, 'tools'), {
      mtr: '#!/bin/sh\nif [ "$1" = "--version" ]; then echo "mtr 0.95"; exit 0; fi\nexec sleep 60\n',
    });
    fs.chmodSync(join(dirs.rootDir, 'tools'), 0o755);
    env = { PATH: `${bin}:${process.env.PATH ?? ''}` };
  });
  after(() => dirs.cleanup());

  it('stops the round at once with a document and frees the lock', async () => {
    const logDir = userLogDir();
    plantFifo(join(logDir, '.cc-monitor.lock'));
    const child = spawn(
      process.execPath,
      [AGENT, 'check', '--json', '--resources', '127.0.0.1', '--log-dir', logDir],
      {
        env: { ...process.env, ...env },
      },
    );
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    const exit = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    // No time limits of their own: a round that never takes its lock, or ignores SIGTERM, is
    // ended by the runner's hang guard.
    while (!roundLockExists(logDir) && child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
    assert.ok(roundLockExists(logDir), 'the round took its lock');
    child.kill('SIGTERM');
    const code = await exit;
    assert.equal(code, 143, 'SIGTERM ended it');
    assert.match(parseResultDocument(stdout).error?.message ?? '', /stopped by SIGTERM/);
    assert.equal(roundLockExists(logDir), false);
  });
});

describe('agent check as a non-root user, whose lock lives in the log directory', () => {
  before(() => {
    dirs = hostileDirs('agent-nonroot-');
    const bin = standInBin(join(dirs.rootDir, 'tools'), {
      mtr: `#!/bin/sh\nif [ "$1" = "--version" ]; then echo "mtr 0.95"; exit 0; fi\ncat '${FLAGGED_JSON}'\n`,
    });
    fs.chmodSync(join(dirs.rootDir, 'tools'), 0o755);
    env = { PATH: `${bin}:${process.env.PATH ?? ''}` };
  });
  after(() => dirs.cleanup());

  function checkAsNobody(logDir: string): AgentRun {
    return runBundle(
      ['check', '--json', '--resources', '127.0.0.1', '--count', '2', '--interval', '1', '--log-dir', logDir],
      NOBODY,
    );
  }

  it('a FIFO or a link to /dev/zero at its lock path ends the round at once with E_LOG_DIR', () => {
    const clean = checkAsNobody(userLogDir());
    assert.equal(documentOf(clean).outcome, 'completed', clean.stdout + clean.stderr);
    for (const [plant, found] of [
      [
        (lock: string) => plantFifo(lock),
        /\.cc-monitor\.lock is a FIFO \(named pipe\), not a lock file; refusing to open it/,
      ],
      [
        (lock: string) => plantSymlink('/dev/zero', lock),
        /\.cc-monitor\.lock is a symbolic link, not a lock file/,
      ],
    ] as const) {
      const logDir = userLogDir();
      plant(join(logDir, '.cc-monitor.lock'));
      const run = checkAsNobody(logDir);
      assert.equal(run.status, 3, run.stdout + run.stderr);
      const doc = documentOf(run);
      assert.equal(doc.outcome, 'environment');
      assert.equal(doc.error?.code, 'E_LOG_DIR');
      assert.match(doc.error?.message ?? '', found);
      assert.ok(
        run.durationMs < clean.durationMs * SLOWDOWN_FACTOR,
        `${run.durationMs} ms vs ${clean.durationMs} ms`,
      );
    }
  });
});
