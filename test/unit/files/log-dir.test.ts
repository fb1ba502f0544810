import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { type LogDir, prepareLogDir } from '../../../agent/files/log-dir.ts';
import { EnvironmentError } from '../../../common/errors.ts';
import {
  type HostileDirs,
  hostileDirs,
  NOBODY,
  ownedDir,
  plantFifo,
  plantSymlink,
  snapshot,
} from '../../helpers/hostile-dir.ts';

let dirs: HostileDirs;
let dir = '';
const opened: LogDir[] = [];
beforeEach(() => {
  dirs = hostileDirs('cc-logdir-');
  dir = dirs.rootDir;
});
afterEach(() => {
  for (const logDir of opened.splice(0)) logDir.close();
  dirs.cleanup();
});

function prepare(target: string): LogDir {
  const logDir = prepareLogDir(target);
  opened.push(logDir);
  return logDir;
}

function assertLogDirError(fn: () => unknown, errno: string, dirShown: string, more?: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof EnvironmentError, String(error));
    assert.equal(error.code, 'E_LOG_DIR');
    assert.equal(error.path, dirShown);
    assert.ok(error.message.includes(dirShown), error.message);
    assert.ok(error.message.includes(errno), error.message);
    assert.match(error.message, /--log-dir/);
    if (more) assert.match(error.message, more);
    return true;
  });
}

describe('prepareLogDir', () => {
  it('creates missing parents with mode 0755, returns the absolute path and leaves no probe file', () => {
    const target = path.join(dir, 'a', 'Connexa-Logs');
    const relative = path.relative(process.cwd(), target);
    const logDir = prepare(relative);
    assert.equal(logDir.path, target);
    assert.equal(logDir.actingAs, null, 'root-owned, and only root can write it: root acts');
    assert.equal(fs.statSync(target).mode & 0o777, 0o755 & ~process.umask());
    assert.deepEqual(fs.readdirSync(target), []);
  });

  it('accepts an existing directory and leaves its files alone', () => {
    fs.writeFileSync(path.join(dir, 'LATENCY-LOSS-CONNEXA-REPORT.json'), '{}\n');
    assert.equal(prepare(dir).path, dir);
    assert.deepEqual(fs.readdirSync(dir), ['LATENCY-LOSS-CONNEXA-REPORT.json']);
  });

  it('reports a path through a regular file as E_LOG_DIR naming the directory and errno', () => {
    fs.writeFileSync(path.join(dir, 'file'), '');
    const target = path.join(dir, 'file', 'logs');
    assertLogDirError(() => prepare(target), 'ENOTDIR', target);
  });

  it('reports a regular file or a FIFO in place of the directory as E_LOG_DIR saying what it is', () => {
    const target = path.join(dir, 'logs');
    fs.writeFileSync(target, '');
    assertLogDirError(() => prepare(target), 'ENOTDIR', target, /is a regular file, not a directory/);
    const fifo = plantFifo(path.join(dirs.home, 'fifo'));
    assertLogDirError(() => prepare(fifo), 'ENOTDIR', fifo, /is a FIFO \(named pipe\), not a directory/);
  });

  it('reports a directory the agent user may not write as E_LOG_DIR with EACCES', () => {
    // As root every directory is writable, so the check runs in a child process as "nobody".
    const target = path.join(dir, 'locked');
    fs.mkdirSync(target, { mode: 0o755 });
    const result = spawnSync(
      process.execPath,
      ['--import', 'tsx', path.resolve(__dirname, '../../fixtures/files/prepare-log-dir.ts'), target],
      {
        uid: NOBODY,
        gid: NOBODY,
        cwd: path.resolve(__dirname, '../../..'),
        encoding: 'utf8',
        timeout: 20_000,
      },
    );
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`^E_LOG_DIR log directory ${target} is not writable \\(EACCES`));
    assert.deepEqual(fs.readdirSync(target), []);
  });
});

describe('prepareLogDir as root, when another user controls the directory', () => {
  it('acts as the owner of a directory a user owns: files it creates are theirs', () => {
    const logs = ownedDir(path.join(dirs.home, 'Connexa-Logs'));
    const logDir = prepare(logs);
    assert.deepEqual(logDir.actingAs, { uid: NOBODY, gid: NOBODY, why: `uid ${NOBODY} owns it` });
    assert.equal(logDir.actingUid, NOBODY);
    logDir.run('writing', () => fs.writeFileSync(logDir.entry('mine'), 'x'));
    assert.equal(fs.statSync(path.join(logs, 'mine')).uid, NOBODY);
    assert.equal(process.geteuid?.(), 0, 'root again afterwards');
  });

  it('creates a missing log directory in a user’s home as that user', () => {
    const logs = path.join(dirs.home, 'Connexa-Logs');
    const logDir = prepare(logs);
    assert.equal(fs.statSync(logs).uid, NOBODY);
    assert.equal(logDir.actingAs?.uid, NOBODY);
  });

  it('keeps acting as root in a root-owned log directory inside a user’s home (made by the old script)', () => {
    const logs = path.join(dirs.home, 'Connexa-Logs');
    fs.mkdirSync(logs, { mode: 0o755 });
    const logDir = prepare(logs);
    assert.equal(logDir.actingAs, null);
  });

  it('refuses to write as root through a user’s link to a root-owned directory, writing nothing there', () => {
    const before = snapshot(dirs.rootDir);
    const link = plantSymlink(dirs.rootDir, path.join(dirs.home, 'Connexa-Logs'));
    assertLogDirError(
      () => prepare(link),
      'EACCES',
      link,
      new RegExp(
        `\\(really ${dirs.rootDir}\\) is not writable .*as uid ${NOBODY} .*symbolic link ${link}, which uid ${NOBODY} owns`,
      ),
    );
    assert.deepEqual(snapshot(dirs.rootDir), before);
  });

  it('follows a root-owned link to a root-owned directory as root (an admin’s choice of disk)', () => {
    const disk = path.join(dirs.rootDir, 'disk');
    fs.mkdirSync(disk);
    const link = path.join(dirs.rootDir, 'Connexa-Logs');
    fs.symlinkSync(disk, link);
    const logDir = prepare(link);
    assert.equal(logDir.actingAs, null);
    assert.equal(logDir.realPath, disk);
  });

  it('refuses a root-owned directory that other users can write (logrotate’s insecure permissions)', () => {
    for (const mode of [0o777, 0o1777, 0o775]) {
      const logs = path.join(dir, `logs-${mode.toString(8)}`);
      fs.mkdirSync(logs);
      fs.chmodSync(logs, mode);
      if (mode === 0o775) fs.chownSync(logs, 0, NOBODY);
      assertLogDirError(() => prepare(logs), 'owned by root but writable by', logs, /chmod go-w/);
      assert.deepEqual(fs.readdirSync(logs), []);
    }
    const rootGroup = path.join(dir, 'root-group');
    fs.mkdirSync(rootGroup);
    fs.chmodSync(rootGroup, 0o775);
    assert.equal(prepare(rootGroup).actingAs, null, "group root's write permission is root's");
  });

  it('turns a failure inside run() into E_LOG_DIR naming the operation and the user acted as', () => {
    const logs = ownedDir(path.join(dirs.home, 'Connexa-Logs'));
    const logDir = prepare(logs);
    fs.writeFileSync(path.join(logs, 'roots'), 'x', { mode: 0o644 });
    assert.throws(
      () => logDir.run('appending to roots', () => fs.appendFileSync(logDir.entry('roots'), 'y')),
      (error: unknown) => {
        assert.ok(error instanceof EnvironmentError);
        assert.equal(error.code, 'E_LOG_DIR');
        assert.match(
          error.message,
          new RegExp(
            `^log directory ${logs}: appending to roots failed \\(EACCES: permission denied, open '${logs}/roots'\\) — the agent acts there as uid ${NOBODY}`,
          ),
        );
        return true;
      },
    );
    assert.equal(process.geteuid?.(), 0);
  });
});
