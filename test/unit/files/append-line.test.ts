import assert from 'node:assert/strict';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { appendLine } from '../../../agent/files/append-line.ts';
import { type LogDir, prepareLogDir } from '../../../agent/files/log-dir.ts';
import { EnvironmentError } from '../../../common/errors.ts';
import { exited, killAll, lineReader, spawnFixture } from '../../fixtures/files/children.ts';
import {
  type HostileDirs,
  hostileDirs,
  NOBODY,
  ownedDir,
  plantFifo,
  plantSymlink,
  rootOnlyFile,
  snapshot,
} from '../../helpers/hostile-dir.ts';

const NAME = 'LATENCY-LOSS-CONNEXA-REPORT.json';
const children: ChildProcessWithoutNullStreams[] = [];
let dir = '';
let file = '';
let logDir: LogDir;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cc-append-'));
  file = path.join(dir, NAME);
  logDir = prepareLogDir(dir);
});
afterEach(async () => {
  logDir.close();
  await killAll(children.splice(0));
  fs.rmSync(dir, { recursive: true, force: true });
});

function linesOf(text: string): string[] {
  assert.ok(text.endsWith('\n'), 'file ends with a complete line');
  return text.slice(0, -1).split('\n');
}

describe('appendLine', () => {
  it('creates the file with mode 0644 and appends each record as one line', () => {
    appendLine(logDir, NAME, '{"a":1}');
    appendLine(logDir, NAME, '{"b":2}');
    assert.equal(fs.readFileSync(file, 'utf8'), '{"a":1}\n{"b":2}\n');
    assert.equal(fs.statSync(file).mode & 0o777, 0o644 & ~process.umask());
  });

  it('completes a torn tail left by an earlier crash so the new record stays parseable', () => {
    fs.writeFileSync(file, '{"a":1}\n{"b":');
    fs.utimesSync(file, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
    appendLine(logDir, NAME, '{"c":3}');
    assert.deepEqual(linesOf(fs.readFileSync(file, 'utf8')), ['{"a":1}', '{"b":', '{"c":3}']);
  });

  it('completes a torn tail written a moment ago, once the file has stayed unchanged', () => {
    fs.writeFileSync(file, '{"a":1}\n{"b":');
    // No time bound: appendLine's wait has its own limit, and a hang is the runner's to catch.
    appendLine(logDir, NAME, '{"c":3}');
    assert.deepEqual(linesOf(fs.readFileSync(file, 'utf8')), ['{"a":1}', '{"b":', '{"c":3}']);
  });

  it('does not add a blank line when the file already ends with a newline or is empty', () => {
    fs.writeFileSync(file, '');
    appendLine(logDir, NAME, '{"a":1}');
    appendLine(logDir, NAME, '{"b":2}');
    assert.equal(fs.readFileSync(file, 'utf8'), '{"a":1}\n{"b":2}\n');
  });

  it('refuses a record containing a line break instead of writing two broken lines', () => {
    assert.throws(() => appendLine(logDir, NAME, '{"a":\n1}'), { code: 'E_INTERNAL' });
    assert.equal(fs.existsSync(file), false);
  });

  it('composes a record against the file it lands in: its identity, and its size where the record starts', () => {
    // Prepare: a line, then a torn tail, which the append closes with a newline before the record.
    fs.writeFileSync(file, '{"a":1}\n{"b":');
    fs.utimesSync(file, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
    const { dev, ino } = fs.statSync(file);
    const seen: unknown[] = [];
    // Act
    appendLine(logDir, NAME, (at) => {
      seen.push(at);
      return `{"c":${at.size}}`;
    });
    // Assess: the record starts at the size it was given.
    const text = fs.readFileSync(file, 'utf8');
    assert.deepEqual(seen, [{ dev, ino, size: 14 }]);
    assert.equal(text.slice(14), '{"c":14}\n');
    // A composed record with a line break is refused too, the file left as it was.
    assert.throws(() => appendLine(logDir, NAME, () => '{"d":\n4}'), { code: 'E_INTERNAL' });
    assert.equal(fs.readFileSync(file, 'utf8'), text);
  });

  it('keeps every line whole when 4 processes append 2,000 lines each at once', async () => {
    const writers = ['w0', 'w1', 'w2', 'w3'].map((w) =>
      spawnFixture('append-writer.ts', [file, w, '2000', '9000']),
    );
    children.push(...writers);
    const results = await Promise.all(writers.map((child) => exited(child)));
    assert.deepEqual(
      results,
      Array.from({ length: 4 }, () => ({ code: 0, signal: null })),
    );
    const seen = new Map<string, number>();
    for (const line of linesOf(fs.readFileSync(file, 'utf8'))) {
      const record = JSON.parse(line) as { w: string; i: number; pad: string };
      assert.equal(record.pad.length, (record.i * 7919) % 9001, `record ${record.w}/${record.i} is intact`);
      const key = `${record.w}/${record.i}`;
      seen.set(key, (seen.get(key) ?? 0) + 1);
    }
    assert.equal(seen.size, 8000);
    assert.ok(
      [...seen.values()].every((n) => n === 1),
      'every line exactly once',
    );
  });

  it('leaves only parseable lines when an appending process is killed with SIGKILL', async () => {
    const child = spawnFixture('append-writer.ts', [file, 'victim', 'forever', '300']);
    children.push(child);
    await lineReader(child).next((line) => line === 'STARTED');
    // Killed once it has written 50 lines more, however busy the machine is (not after a fixed time).
    while (linesOf(fs.readFileSync(file, 'utf8')).length < 150) await new Promise((r) => setTimeout(r, 10));
    child.kill('SIGKILL');
    assert.equal((await exited(child)).signal, 'SIGKILL');
    appendLine(logDir, NAME, '{"after":"kill"}');
    const lines = linesOf(fs.readFileSync(file, 'utf8'));
    assert.ok(lines.length > 150, `the writer was killed mid-stream (${lines.length} lines)`);
    for (const line of lines)
      assert.doesNotThrow(() => JSON.parse(line), `unparseable line: ${line.slice(0, 80)}`);
    assert.deepEqual(JSON.parse(lines[lines.length - 1] ?? ''), { after: 'kill' });
  });
});

function assertRefused(fn: () => unknown, found: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof EnvironmentError, String(error));
    assert.equal(error.code, 'E_LOG_DIR');
    assert.match(error.message, found);
    return true;
  });
}

describe('appendLine in a directory another user controls (the agent is root)', () => {
  let dirs: HostileDirs;
  let userDir: LogDir;
  let logs = '';
  beforeEach(() => {
    dirs = hostileDirs('cc-append-hostile-');
    logs = ownedDir(path.join(dirs.home, 'Connexa-Logs'));
    userDir = prepareLogDir(logs);
  });
  afterEach(() => {
    userDir.close();
    dirs.cleanup();
  });

  it('appends as the directory owner: a new report belongs to that user', () => {
    appendLine(userDir, NAME, '{"a":1}');
    const st = fs.statSync(path.join(logs, NAME));
    assert.equal(st.uid, NOBODY);
    assert.equal(fs.readFileSync(path.join(logs, NAME), 'utf8'), '{"a":1}\n');
  });

  it('refuses a report that is a link to a root-only file, which stays unchanged', () => {
    const secret = rootOnlyFile(path.join(dirs.rootDir, 'sudoers'), 'root ALL=(ALL) ALL\n');
    plantSymlink(secret, path.join(logs, NAME));
    assertRefused(
      () => appendLine(userDir, NAME, '{"a":1}'),
      new RegExp(`^${logs}/${NAME} is a symbolic link; refusing to follow it`),
    );
    assert.equal(fs.readFileSync(secret, 'utf8'), 'root ALL=(ALL) ALL\n');
  });

  it('refuses a dangling link as the report without creating its target', () => {
    const target = path.join(dirs.rootDir, 'created-by-root');
    plantSymlink(target, path.join(logs, NAME));
    assertRefused(() => appendLine(userDir, NAME, '{"a":1}'), /is a symbolic link; refusing to follow it/);
    assert.equal(fs.existsSync(target), false);
  });

  it('refuses a FIFO as the report at once instead of waiting for a reader', () => {
    plantFifo(path.join(logs, NAME));
    // No time bound: an open that waited for a reader would block this process for good, which
    // the runner's --test-timeout catches; the refusal names the FIFO it did not open.
    assertRefused(
      () => appendLine(userDir, NAME, '{"a":1}'),
      /is a FIFO \(named pipe\); refusing to append to it/,
    );
  });

  it('refuses a report hard-linked to another file, and one owned by another user', () => {
    const other = path.join(logs, 'other');
    fs.writeFileSync(other, 'other\n');
    fs.chownSync(other, NOBODY, NOBODY);
    fs.linkSync(other, path.join(logs, NAME));
    assertRefused(() => appendLine(userDir, NAME, '{"a":1}'), /is a file with 2 hard links/);
    assert.equal(fs.readFileSync(other, 'utf8'), 'other\n');
    fs.unlinkSync(path.join(logs, NAME));
    fs.writeFileSync(path.join(logs, NAME), 'root wrote this\n', { mode: 0o666 });
    fs.chmodSync(path.join(logs, NAME), 0o666);
    assertRefused(
      () => appendLine(userDir, NAME, '{"a":1}'),
      new RegExp(`is owned by uid 0, not by uid ${NOBODY} that the agent writes as`),
    );
    assert.equal(fs.readFileSync(path.join(logs, NAME), 'utf8'), 'root wrote this\n');
  });

  it('writes into the directory it checked even when the path now leads elsewhere', () => {
    const before = snapshot(dirs.rootDir);
    fs.renameSync(logs, path.join(dirs.home, 'renamed'));
    plantSymlink(dirs.rootDir, logs);
    appendLine(userDir, NAME, '{"a":1}');
    assert.deepEqual(snapshot(dirs.rootDir), before);
    assert.equal(fs.readFileSync(path.join(dirs.home, 'renamed', NAME), 'utf8'), '{"a":1}\n');
  });
});
