import assert from 'node:assert/strict';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, afterEach, beforeEach, describe, it } from 'node:test';
import { acquireRoundLock, LOCK_FILE_NAME, readProcStart } from '../../../agent/files/lock.ts';
import { LockedError } from '../../../common/errors.ts';
import { exited, killAll, lineReader, spawnFixture } from '../../fixtures/files/children.ts';

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

function spawnHolder(waitGo = false) {
  const child = spawnFixture('lock-holder.ts', waitGo ? [dir, 'wait-go'] : [dir]);
  children.push(child);
  return { child, reader: lineReader(child) };
}

function bootId(): string {
  return fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
}

function writeLock(content: Record<string, unknown> | string, ageMs = 0): string {
  const file = path.join(dir, LOCK_FILE_NAME);
  fs.writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  if (ageMs > 0) {
    const when = new Date(Date.now() - ageMs);
    fs.utimesSync(file, when, when);
  }
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

describe('acquireRoundLock', () => {
  it('creates the lock file with pid, startedAt, hostname and procStart, and release removes it', () => {
    const before = Date.now();
    const lock = acquireRoundLock(dir);
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
    assertLocked(() => acquireRoundLock(dir), child.pid ?? -1);
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
    const lock = acquireRoundLock(dir);
    assert.equal(JSON.parse(fs.readFileSync(lock.path, 'utf8')).pid, process.pid);
    lock.release();
    assert.deepEqual(strayFiles(), []);
  });

  it('recovers a garbled lock file once it is older than the write grace period', () => {
    writeLock('{"pid": 12', 10_000);
    const lock = acquireRoundLock(dir);
    assert.equal(JSON.parse(fs.readFileSync(lock.path, 'utf8')).pid, process.pid);
    lock.release();
  });

  it('treats a garbled lock file written just now as held (it may still be being written)', () => {
    writeLock('');
    assertLocked(() => acquireRoundLock(dir), null);
  });

  it('recovers a lock whose pid is alive but was reused by another process (procStart differs)', () => {
    writeLock(lockBy(process.pid, { procStart: '1' }));
    const lock = acquireRoundLock(dir);
    assert.equal(JSON.parse(fs.readFileSync(lock.path, 'utf8')).procStart, readProcStart(process.pid));
    lock.release();
  });

  it('keeps a lock whose pid is alive with the same procStart', () => {
    writeLock(lockBy(process.pid));
    assertLocked(() => acquireRoundLock(dir), process.pid);
  });

  it('recovers a lock written before a reboot (other boot id, same host name)', () => {
    writeLock(lockBy(process.pid, { bootId: '00000000-0000-0000-0000-000000000000' }));
    const lock = acquireRoundLock(dir);
    lock.release();
  });

  it('keeps a fresh lock from another machine, whose pid cannot be checked here', () => {
    writeLock(lockBy(1, { hostname: 'other-host', bootId: 'other-boot', procStart: '5' }));
    assertLocked(() => acquireRoundLock(dir), 1);
  });

  it('takes over a lock older than staleAfterMs even when its holder is alive (hung round)', () => {
    const first = acquireRoundLock(dir);
    const threeHoursLater = () => Date.now() + 3 * 60 * 60 * 1000;
    assertLocked(() => acquireRoundLock(dir), process.pid);
    const second = acquireRoundLock(dir, { now: threeHoursLater });
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
    writeLock(lockBy(process.pid, { startedAt: new Date(Date.now() - 5_000).toISOString() }));
    assertLocked(() => acquireRoundLock(dir), process.pid);
    const lock = acquireRoundLock(dir, { staleAfterMs: 1_000 });
    lock.release();
  });

  it('release twice is harmless and does not remove a lock acquired in between', () => {
    const lock = acquireRoundLock(dir);
    lock.release();
    const next = acquireRoundLock(dir);
    lock.release();
    assert.equal(JSON.parse(fs.readFileSync(next.path, 'utf8')).pid, process.pid);
    assertLocked(() => acquireRoundLock(dir), process.pid);
    next.release();
    next.release();
    assert.equal(fs.existsSync(next.path), false);
  });

  it('release does not remove a lock that now belongs to someone else', () => {
    const lock = acquireRoundLock(dir);
    const foreign = JSON.stringify(lockBy(1, { startedAt: new Date().toISOString() }));
    fs.writeFileSync(lock.path, foreign);
    lock.release();
    assert.equal(fs.readFileSync(lock.path, 'utf8'), foreign);
  });

  it('reports an unusable directory as E_LOG_DIR', () => {
    const file = path.join(dir, 'not-a-dir');
    fs.writeFileSync(file, '');
    assert.throws(() => acquireRoundLock(file), { code: 'E_LOG_DIR' });
  });

  for (const [name, stale] of [
    ['a dead pid', async () => lockBy(await deadPid(), { procStart: null })],
    [
      'an expired startedAt',
      async () => lockBy(1, { startedAt: new Date(Date.now() - 3 * 3600_000).toISOString() }),
    ],
  ] as const) {
    it(`lets exactly one of 8 racing processes take over a stale lock with ${name}`, async () => {
      writeLock(await stale());
      const racers = Array.from({ length: 8 }, () => spawnHolder(true));
      await Promise.all(racers.map((r) => r.reader.next((line) => line === 'READY')));
      for (const r of racers) r.child.stdin.write('go\n');
      const results = await Promise.all(
        racers.map((r) => r.reader.next((line) => /^(ACQUIRED|LOCKED|ERROR)/.test(line))),
      );
      const winners = results.filter((line) => line.startsWith('ACQUIRED'));
      assert.equal(winners.length, 1, results.join('\n'));
      const winnerPid = Number(winners[0]?.split(' ')[1]);
      assert.deepEqual(
        results.filter((line) => !line.startsWith('ACQUIRED')),
        Array.from({ length: 7 }, () => `LOCKED ${winnerPid}`),
      );
      assert.equal(JSON.parse(fs.readFileSync(path.join(dir, LOCK_FILE_NAME), 'utf8')).pid, winnerPid);
      for (const r of racers) r.child.stdin.end();
      await Promise.all(racers.map((r) => exited(r.child)));
      assert.deepEqual(fs.readdirSync(dir), [], 'no lock, temp, break or stale files left behind');
    });
  }
});
