import assert from 'node:assert/strict';
import { type ChildProcessWithoutNullStreams, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, afterEach, beforeEach, describe, it } from 'node:test';
import { openDirectory } from '../../../agent/files/dir-handle.ts';
import {
  acquireLock,
  acquireRoundLock,
  LOCK_FILE_NAME,
  type LockOptions,
  MAX_LOCK_BYTES,
  type RoundLock,
  readProcStart,
  rootLockName,
} from '../../../agent/files/lock.ts';
import { prepareLogDir } from '../../../agent/files/log-dir.ts';
import { EnvironmentError, LockedError } from '../../../common/errors.ts';
import { LOCK_STALE_AFTER_MS } from '../../../common/round-budget.ts';
import { exited, killAll, lineReader, spawnFixture } from '../../fixtures/files/children.ts';
import {
  forgedLock,
  hostileDirs,
  NOBODY,
  ownedDir,
  plantFifo,
  plantSymlink,
} from '../../helpers/hostile-dir.ts';
import { measureUntil } from '../../helpers/latency.ts';

const children: ChildProcessWithoutNullStreams[] = [];
let dir = '';

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cc-lock-'));
});
afterEach(async () => {
  await killAll(children.splice(0));
  fs.rmSync(dir, { recursive: true, force: true });
});
after(async () => {
  await killAll(children);
});

function spawnHolder(
  waitGo = false,
  staleAfterMs?: number,
  lockDir = dir,
  o: { takeoverStaleAfterMs?: number } = {},
) {
  const env = {
    ...process.env,
    ...(staleAfterMs === undefined ? {} : { LOCK_STALE_AFTER_MS: String(staleAfterMs) }),
    ...(o.takeoverStaleAfterMs === undefined
      ? {}
      : { LOCK_TAKEOVER_STALE_MS: String(o.takeoverStaleAfterMs) }),
  };
  const child = spawnFixture('lock-holder.ts', waitGo ? [lockDir, 'wait-go'] : [lockDir], env);
  children.push(child);
  return { child, reader: lineReader(child) };
}

function bootId(): string {
  return fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
}

/** The lock mechanism on the test's directory; the handle closes with the lock. */
function acquireRoundLockIn(lockDir: string, o?: LockOptions): RoundLock {
  const handle = openDirectory(lockDir);
  try {
    const lock = acquireLock(handle, LOCK_FILE_NAME, o);
    return {
      path: lock.path,
      release() {
        lock.release();
        handle.close();
      },
    };
  } catch (error) {
    handle.close();
    throw error;
  }
}

/** The lock's age is its ctime, which no test can set back: a later `now` stands in for waiting. */
const later = (ms: number) => () => Date.now() + ms;

function writeLock(content: Record<string, unknown> | string): string {
  const file = path.join(dir, LOCK_FILE_NAME);
  fs.writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

function lockBy(pid: number, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    pid,
    startedAt: new Date().toISOString(),
    hostname: os.hostname(),
    procStart: readProcStart(pid),
    bootId: bootId(),
    ...overrides,
  };
}

async function deadPid(): Promise<number> {
  const child = spawnFixture('print-mtr-id.ts', ['0']);
  const pid = child.pid;
  await exited(child);
  assert.ok(pid !== undefined);
  return pid;
}

function assertLocked(fn: () => unknown, holderPid: number | null): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof LockedError, `expected LockedError, got ${String(error)}`);
    assert.equal(error.code, 'E_LOCKED');
    assert.equal(error.holderPid, holderPid);
    if (holderPid !== null) assert.match(error.message, new RegExp(`pid ${holderPid}\\b`));
    return true;
  });
}

function strayFiles(): string[] {
  return fs.readdirSync(dir).filter((name) => name !== LOCK_FILE_NAME);
}

describe('acquireLock', () => {
  it('creates the lock file with pid, startedAt, hostname and procStart, and release removes it', () => {
    const before = Date.now();
    const lock = acquireRoundLockIn(dir);
    const after = Date.now();
    const content = JSON.parse(fs.readFileSync(lock.path, 'utf8'));
    assert.equal(lock.path, path.join(dir, LOCK_FILE_NAME));
    assert.equal(content.pid, process.pid);
    assert.equal(content.hostname, os.hostname());
    assert.equal(content.procStart, readProcStart(process.pid));
    const startedAt = Date.parse(content.startedAt);
    assert.ok(startedAt >= before && startedAt <= after, `startedAt ${content.startedAt}`);
    lock.release();
    assert.equal(fs.existsSync(lock.path), false);
    assert.deepEqual(strayFiles(), []);
  });

  it('refuses with LockedError naming the pid of a live holder process', async () => {
    const { child, reader } = spawnHolder();
    await reader.next((line) => line.startsWith('ACQUIRED'));
    assertLocked(() => acquireRoundLockIn(dir), child.pid ?? -1);
    child.stdin.end();
    assert.deepEqual(await exited(child), { code: 0, signal: null });
    assert.equal(fs.existsSync(path.join(dir, LOCK_FILE_NAME)), false, 'holder released on exit');
  });

  it('frees the lock when the holder ends through process.exit() without calling release()', async () => {
    const child = spawnFixture('lock-holder.ts', [dir, 'exit-now']);
    children.push(child);
    const reader = lineReader(child);
    assert.deepEqual(await exited(child), { code: 0, signal: null });
    await new Promise((resolve) => setImmediate(resolve));
    assert.ok(reader.lines.includes(`ACQUIRED ${child.pid}`), reader.stderr());
    assert.deepEqual(fs.readdirSync(dir), []);
  });

  it('recovers the lock of a holder killed with SIGKILL', async () => {
    const { child, reader } = spawnHolder();
    await reader.next((line) => line.startsWith('ACQUIRED'));
    child.kill('SIGKILL');
    await exited(child);
    assert.equal(JSON.parse(fs.readFileSync(path.join(dir, LOCK_FILE_NAME), 'utf8')).pid, child.pid);
    const lock = acquireRoundLockIn(dir);
    assert.equal(JSON.parse(fs.readFileSync(lock.path, 'utf8')).pid, process.pid);
    lock.release();
    assert.deepEqual(strayFiles(), []);
  });

  it('recovers a garbled lock file once it is older than the write grace period', () => {
    writeLock('{"pid": 12');
    const lock = acquireRoundLockIn(dir, { now: later(10_000) });
    assert.equal(JSON.parse(fs.readFileSync(lock.path, 'utf8')).pid, process.pid);
    lock.release();
  });

  it('treats a garbled lock file written just now as held (it may still be being written)', () => {
    writeLock('');
    assertLocked(() => acquireRoundLockIn(dir), null);
  });

  it('recovers a lock whose pid is alive but was reused by another process (procStart differs)', () => {
    writeLock(lockBy(process.pid, { procStart: '1' }));
    const lock = acquireRoundLockIn(dir);
    assert.equal(JSON.parse(fs.readFileSync(lock.path, 'utf8')).procStart, readProcStart(process.pid));
    lock.release();
  });

  it('keeps a lock whose pid is alive with the same procStart', () => {
    writeLock(lockBy(process.pid));
    assertLocked(() => acquireRoundLockIn(dir), process.pid);
  });

  it('recovers a lock written before a reboot (other boot id, same host name)', () => {
    writeLock(lockBy(process.pid, { bootId: '00000000-0000-0000-0000-000000000000' }));
    const lock = acquireRoundLockIn(dir);
    lock.release();
  });

  it('keeps a fresh lock from another machine, whose pid cannot be checked here', () => {
    writeLock(lockBy(1, { hostname: 'other-host', bootId: 'other-boot', procStart: '5' }));
    assertLocked(() => acquireRoundLockIn(dir), 1);
  });

  it('takes over a lock older than staleAfterMs even when its holder is alive (hung round)', () => {
    const first = acquireRoundLockIn(dir);
    const threeHoursLater = () => Date.now() + 3 * 60 * 60 * 1000;
    assertLocked(() => acquireRoundLockIn(dir), process.pid);
    const second = acquireRoundLockIn(dir, { now: threeHoursLater });
    const content = fs.readFileSync(second.path, 'utf8');
    first.release();
    assert.equal(
      fs.readFileSync(second.path, 'utf8'),
      content,
      'the old holder must not remove the new lock',
    );
    second.release();
    assert.equal(fs.existsSync(second.path), false);
  });

  it('honours a shorter staleAfterMs', () => {
    writeLock(lockBy(process.pid));
    assertLocked(() => acquireRoundLockIn(dir, { now: later(5_000) }), process.pid);
    const lock = acquireRoundLockIn(dir, { staleAfterMs: 1_000, now: later(5_000) });
    lock.release();
  });

  it('release twice is harmless and does not remove a lock acquired in between', () => {
    const lock = acquireRoundLockIn(dir);
    lock.release();
    const next = acquireRoundLockIn(dir);
    lock.release();
    assert.equal(JSON.parse(fs.readFileSync(next.path, 'utf8')).pid, process.pid);
    assertLocked(() => acquireRoundLockIn(dir), process.pid);
    next.release();
    next.release();
    assert.equal(fs.existsSync(next.path), false);
  });

  it('release does not remove a lock that now belongs to someone else', () => {
    const lock = acquireRoundLockIn(dir);
    const foreign = JSON.stringify(lockBy(1, { startedAt: new Date().toISOString() }));
    fs.writeFileSync(lock.path, foreign);
    lock.release();
    assert.equal(fs.readFileSync(lock.path, 'utf8'), foreign);
  });

  it('reports a directory it cannot write as E_LOG_DIR', () => {
    // As root every directory is writable: the holder runs as nobody in a root-owned directory.
    fs.chmodSync(dir, 0o755);
    const result = spawnSync(
      process.execPath,
      ['--import', 'tsx', path.resolve(__dirname, '../../fixtures/files/lock-holder.ts'), dir],
      {
        uid: NOBODY,
        gid: NOBODY,
        input: '',
        encoding: 'utf8',
        timeout: 20_000,
        cwd: path.resolve(__dirname, '../../..'),
      },
    );
    assert.match(
      result.stdout,
      /^ERROR round lock .*\.cc-monitor\.lock cannot be created \(EACCES/m,
      result.stderr,
    );
    assert.deepEqual(fs.readdirSync(dir), []);
  });

  // Racers judge age with a 2 s stale age; the planted lock is 2.5 s old when they start, the
  // winner's lock milliseconds old when the others look at it, unless the machine is so busy that
  // the race itself lasts longer than the stale age (then a late racer rightly takes the winner's
  // lock over as stale). So the race's own duration decides what its outcome proves.
  const RACE_STALE_MS = 2_000;
  const RACERS = 8;
  for (const [name, stale, waitMs] of [
    ['a dead pid', async () => lockBy(await deadPid(), { procStart: null }), 0],
    ['a live pid but a ctime older than the stale age', async () => lockBy(1), RACE_STALE_MS + 500],
  ] as const) {
    it(`lets exactly one of ${RACERS} racing processes take over a stale lock with ${name}`, async () => {
      /** One race in a directory of its own: the result lines, what the lock file named, what was left. */
      const race = async () => {
        const raceDir = fs.mkdtempSync(path.join(dir, 'race-'));
        const planted = await stale();
        fs.writeFileSync(path.join(raceDir, LOCK_FILE_NAME), JSON.stringify(planted));
        const plantedAt = Date.now();
        const racers = Array.from({ length: RACERS }, () => spawnHolder(true, RACE_STALE_MS, raceDir));
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, plantedAt + waitMs - Date.now())));
        await Promise.all(racers.map((r) => r.reader.next((line) => line === 'READY')));
        const goAt = Date.now();
        for (const r of racers) r.child.stdin.write('go\n');
        const results = await Promise.all(
          racers.map((r) => r.reader.next((line) => /^(ACQUIRED|LOCKED|ERROR)/.test(line))),
        );
        // The last answer's arrival: no racer decided later than this.
        const raceMs = Date.now() - goAt;
        const lockPid = JSON.parse(fs.readFileSync(path.join(raceDir, LOCK_FILE_NAME), 'utf8')).pid;
        for (const r of racers) r.child.stdin.end();
        await Promise.all(racers.map((r) => exited(r.child)));
        const left = fs.readdirSync(raceDir);

        // What no load explains fails at once.
        const report = `${results.join('\n')}\n(race lasted ${raceMs} ms)`;
        const winners = results
          .filter((line) => line.startsWith('ACQUIRED'))
          .map((l) => Number(l.split(' ')[1]));
        assert.ok(winners.length >= 1, `no racer took the stale lock over:\n${report}`);
        if (raceMs < RACE_STALE_MS) {
          // No lock could have aged past the racers' stale age: a second winner is a broken lock.
          assert.equal(winners.length, 1, `two racers hold the lock:\n${report}`);
        }
        // A loser waits for a takeover in progress however long its holder is off the CPU, then
        // names the winner: never the stale lock's holder, whatever the load.
        for (const line of results.filter((l) => !l.startsWith('ACQUIRED'))) {
          const named = /^LOCKED (\d+)$/.exec(line)?.[1];
          assert.ok(
            named !== undefined && winners.includes(Number(named)),
            `a racer neither took the lock nor named its winner (stale holder ${planted.pid}):\n${report}`,
          );
        }
        return { raceMs, winners, lockPid, left };
      };

      const { winners, lockPid, left } = await measureUntil(
        `${RACERS} racers on a stale lock`,
        race,
        ({ raceMs, winners }) =>
          // Only when the race outlasted the stale age (asserted in race()).
          winners.length === 1
            ? null
            : `${winners.length} winners: the race lasted ${raceMs} ms, longer than the ${RACE_STALE_MS} ms stale age`,
      );

      const [winnerPid] = winners;
      assert.equal(lockPid, winnerPid, 'the lock names the one winner');
      assert.deepEqual(left, [], 'no lock, temp, break or stale files left behind');
    });
  }
});

describe('acquireLock: a takeover of a stale lock in progress', () => {
  const BREAK = `${LOCK_FILE_NAME}.break`;

  /** A stale lock (dead holder) and a break lock held by `breakerPid`: another process is taking over. */
  async function takeoverUnderWay(breakerPid: number): Promise<number> {
    const stalePid = await deadPid();
    writeLock(lockBy(stalePid, { procStart: null }));
    fs.writeFileSync(path.join(dir, BREAK), JSON.stringify(lockBy(breakerPid)));
    return stalePid;
  }

  it('waits for a takeover held off the CPU, then names its new holder, never the dead stale holder', async () => {
    // Prepare: this test is the process taking over, stopped mid-way with the break lock held for
    // longer than any count of attempts lasts (the racer's break-lock stale age is far longer).
    const stalePid = await takeoverUnderWay(process.pid);
    const { child, reader } = spawnHolder(true, undefined, dir, { takeoverStaleAfterMs: 10 * 60_000 });
    await reader.next((line) => line === 'READY');

    // Act: the racer meets the takeover; the takeover completes a while later.
    child.stdin.write('go\n');
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const answeredDuringTakeover = reader.lines.filter((line) => line !== 'READY');
    const fresh = path.join(dir, 'fresh.tmp');
    fs.writeFileSync(fresh, JSON.stringify(lockBy(process.pid)));
    fs.renameSync(fresh, path.join(dir, LOCK_FILE_NAME));
    fs.unlinkSync(path.join(dir, BREAK));
    const answer = await reader.next((line) => /^(ACQUIRED|LOCKED|ERROR)/.test(line));

    // Assess
    assert.deepEqual(
      answeredDuringTakeover,
      [],
      `answered while the takeover was under way (stale pid ${stalePid})`,
    );
    assert.equal(answer, `LOCKED ${process.pid}`, `the new holder, not the stale pid ${stalePid}`);
    assert.deepEqual(strayFiles(), []);
  });

  it('takes the break lock over once it is older than its stale age (a hung takeover), then the stale lock', async () => {
    // Prepare: the break lock's holder lives (this process), so only its age makes it stale.
    await takeoverUnderWay(process.pid);
    const breakCreatedAt = fs.statSync(path.join(dir, BREAK)).ctimeMs;
    const takeoverStaleAfterMs = 300;

    // Act
    const lock = acquireRoundLockIn(dir, { takeoverStaleAfterMs });
    const acquiredAt = Date.now();

    // Assess: taken, and not before the break lock had reached its stale age.
    assert.equal(JSON.parse(fs.readFileSync(lock.path, 'utf8')).pid, process.pid);
    assert.ok(
      acquiredAt - breakCreatedAt >= takeoverStaleAfterMs - 1,
      `taken ${acquiredAt - breakCreatedAt} ms after the break lock was created`,
    );
    lock.release();
    assert.deepEqual(fs.readdirSync(dir), []);
  });

  it('takes over at once the break lock of a process that died while taking over', async () => {
    // A wait for the break lock's age would last the 10 minutes given here.
    await takeoverUnderWay(await deadPid());
    const lock = acquireRoundLockIn(dir, { takeoverStaleAfterMs: 10 * 60_000 });
    assert.equal(JSON.parse(fs.readFileSync(lock.path, 'utf8')).pid, process.pid);
    lock.release();
    assert.deepEqual(fs.readdirSync(dir), []);
  });

  it('reports busy naming the process taking over when takeovers outlast the wait', async () => {
    // Prepare: a `now` that never moves keeps the live break lock young for good, while the
    // wait is bounded by a clock of its own: twice the break lock's stale age.
    await takeoverUnderWay(process.pid);
    const frozen = Date.now();
    const takeoverStaleAfterMs = 250;
    const started = performance.now();

    // Act / Assess
    assert.throws(
      () => acquireRoundLockIn(dir, { takeoverStaleAfterMs, now: () => frozen }),
      (error: unknown) => {
        assert.ok(error instanceof LockedError, String(error));
        assert.equal(error.holderPid, process.pid);
        assert.match(
          error.message,
          new RegExp(`another round \\(pid ${process.pid}\\) is still taking over the stale round lock`),
        );
        return true;
      },
    );
    const waitedMs = performance.now() - started;
    assert.ok(waitedMs >= 2 * takeoverStaleAfterMs, `gave up after ${waitedMs} ms`);
    assert.ok(fs.existsSync(path.join(dir, BREAK)), 'a live takeover is left alone');
  });
});

describe('acquireLock: what else can sit at the lock path', () => {
  it('refuses a FIFO at once, without opening it (open would wait for a writer)', () => {
    plantFifo(path.join(dir, LOCK_FILE_NAME));
    // No time bound: an open that waited for a writer would block this process for good, which the
    // runner's --test-timeout catches; the refusal says it did not open the FIFO.
    assert.throws(
      () => acquireRoundLockIn(dir),
      (error: unknown) => {
        assert.ok(error instanceof EnvironmentError, String(error));
        assert.equal(error.code, 'E_LOG_DIR');
        assert.match(
          error.message,
          /\.cc-monitor\.lock is a FIFO \(named pipe\), not a lock file; refusing to open it/,
        );
        return true;
      },
    );
    assert.ok(fs.lstatSync(path.join(dir, LOCK_FILE_NAME)).isFIFO(), 'left for a person to look at');
  });

  it('refuses a link to /dev/zero without following it (reading it would never end)', () => {
    plantSymlink('/dev/zero', path.join(dir, LOCK_FILE_NAME));
    assert.throws(() => acquireRoundLockIn(dir), {
      code: 'E_LOG_DIR',
      message: /\.cc-monitor\.lock is a symbolic link, not a lock file; refusing to follow it/,
    });
  });

  it('reads no more than MAX_LOCK_BYTES of an oversized lock: garbled, busy during the grace, then taken over', () => {
    writeLock(`{"pid":1,"pad":"${'x'.repeat(4 * 1024 * 1024)}"}`);
    assertLocked(() => acquireRoundLockIn(dir), null);
    const lock = acquireRoundLockIn(dir, { now: later(10_000) });
    assert.ok(fs.statSync(lock.path).size < MAX_LOCK_BYTES);
    lock.release();
  });

  it('judges a forged lock (pid 1, this boot, startedAt 2099) by its ctime: busy now, taken over once stale', () => {
    writeLock(forgedLock());
    assertLocked(() => acquireRoundLockIn(dir), 1);
    const lock = acquireRoundLockIn(dir, { now: later(LOCK_STALE_AFTER_MS + 1_000) });
    assert.equal(JSON.parse(fs.readFileSync(lock.path, 'utf8')).pid, process.pid);
    lock.release();
  });
});

describe('acquireRoundLock: where the round lock lives', () => {
  it('as root, in a root-only directory, named after the log directory’s device and inode', () => {
    const dirs = hostileDirs('cc-roundlock-');
    const runDir = path.join(dirs.rootDir, 'run');
    try {
      const logs = ownedDir(path.join(dirs.home, 'Connexa-Logs'));
      // What the owner of the log directory plants there no longer matters.
      plantFifo(path.join(logs, LOCK_FILE_NAME));
      const logDir = prepareLogDir(logs);
      const viaLink = prepareLogDir(plantSymlink(logs, path.join(dirs.home, 'other-name')));
      try {
        const st = fs.statSync(logs);
        const lock = acquireRoundLock(logDir, { rootLockDir: runDir });
        assert.equal(lock.path, path.join(runDir, rootLockName(st.dev, st.ino)));
        assert.equal(fs.statSync(runDir).mode & 0o777, 0o700);
        assert.equal(JSON.parse(fs.readFileSync(lock.path, 'utf8')).pid, process.pid);
        assert.throws(
          () => acquireRoundLock(viaLink, { rootLockDir: runDir }),
          LockedError,
          'same directory, same lock',
        );
        lock.release();
        assert.deepEqual(fs.readdirSync(runDir), []);
        assert.ok(fs.lstatSync(path.join(logs, LOCK_FILE_NAME)).isFIFO(), 'untouched');
      } finally {
        logDir.close();
        viaLink.close();
      }
    } finally {
      dirs.cleanup();
    }
  });

  it('refuses a root lock directory that is not root’s alone', () => {
    const dirs = hostileDirs('cc-roundlock-');
    try {
      const logDir = prepareLogDir(path.join(dirs.rootDir, 'logs'));
      try {
        const open = path.join(dirs.rootDir, 'run-open');
        fs.mkdirSync(open, { mode: 0o777 });
        fs.chmodSync(open, 0o777);
        assert.throws(() => acquireRoundLock(logDir, { rootLockDir: open }), {
          code: 'E_LOG_DIR',
          message:
            /round lock directory .*run-open belongs to uid 0 with mode 0777: a root agent keeps its locks only where no other user can write/,
        });
        const theirs = ownedDir(path.join(dirs.rootDir, 'run-theirs'), NOBODY, 0o700);
        assert.throws(() => acquireRoundLock(logDir, { rootLockDir: theirs }), { code: 'E_LOG_DIR' });
        const link = plantSymlink(path.join(dirs.rootDir, 'run-real'), path.join(dirs.home, 'run-link'));
        assert.throws(() => acquireRoundLock(logDir, { rootLockDir: link }), {
          code: 'E_LOG_DIR',
          message: /is reached through .*run-link, a symbolic link uid 65534 owns/,
        });
        assert.deepEqual(fs.readdirSync(open), []);
      } finally {
        logDir.close();
      }
    } finally {
      dirs.cleanup();
    }
  });
});
