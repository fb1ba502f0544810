import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { findEntry, MAX_SYMLINKS, openDirectory, PathWalkError } from '../../../agent/files/dir-handle.ts';
import {
  type HostileDirs,
  hostileDirs,
  NOBODY,
  ownedDir,
  plantFifo,
  plantSymlink,
} from '../../helpers/hostile-dir.ts';

let dirs: HostileDirs;
beforeEach(() => {
  dirs = hostileDirs('cc-dirhandle-');
});
afterEach(() => dirs.cleanup());

function assertWalkError(fn: () => unknown, code: string, detail: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof PathWalkError, String(error));
    assert.equal(error.code, code);
    assert.match(error.message, detail);
    return true;
  });
}

describe('openDirectory', () => {
  it('follows a root-owned link without counting it as anyone’s choice, and reports the real path', () => {
    const real = fs.mkdirSync(path.join(dirs.rootDir, 'real'), { recursive: true }) ?? '';
    const link = path.join(dirs.rootDir, 'link');
    fs.symlinkSync('real', link);
    const handle = openDirectory(link);
    try {
      assert.equal(handle.path, link);
      assert.equal(handle.realPath, real);
      assert.equal(handle.chosenBy, null);
      assert.equal(handle.stat.ino, fs.statSync(real).ino);
    } finally {
      handle.close();
    }
  });

  it('remembers the owner of a non-root link on the way, even behind a root-owned link', () => {
    const target = path.join(dirs.rootDir, 'target');
    fs.mkdirSync(target);
    const userLink = plantSymlink(target, path.join(dirs.home, 'user-link'));
    const rootLink = path.join(dirs.rootDir, 'root-link');
    fs.symlinkSync(userLink, rootLink);
    const handle = openDirectory(rootLink);
    try {
      assert.deepEqual(handle.chosenBy, { uid: NOBODY, gid: NOBODY, link: userLink });
      assert.equal(handle.realPath, target);
    } finally {
      handle.close();
    }
  });

  it('resolves ".." in a link target physically, from where the link really is', () => {
    fs.mkdirSync(path.join(dirs.rootDir, 'a', 'b'), { recursive: true });
    fs.mkdirSync(path.join(dirs.rootDir, 'c'));
    fs.symlinkSync(path.join(dirs.rootDir, 'a', 'b'), path.join(dirs.rootDir, 'b-link'));
    fs.symlinkSync('../../c', path.join(dirs.rootDir, 'a', 'b', 'up'));
    const handle = openDirectory(path.join(dirs.rootDir, 'b-link', 'up'));
    try {
      assert.equal(handle.realPath, path.join(dirs.rootDir, 'c'));
    } finally {
      handle.close();
    }
  });

  it('keeps addressing the directory it opened after the path is renamed and replaced by a link', () => {
    const logs = ownedDir(path.join(dirs.home, 'logs'));
    const handle = openDirectory(logs);
    try {
      fs.renameSync(logs, path.join(dirs.home, 'moved'));
      plantSymlink(dirs.rootDir, logs);
      fs.writeFileSync(handle.entry('written'), 'x');
      assert.deepEqual(fs.readdirSync(path.join(dirs.home, 'moved')), ['written']);
      assert.deepEqual(fs.readdirSync(dirs.rootDir), []);
      assert.equal(handle.display('written'), path.join(logs, 'written'));
    } finally {
      handle.close();
    }
  });

  it('fails at once on a FIFO where a directory should be, without waiting for a writer', () => {
    const fifo = plantFifo(path.join(dirs.home, 'fifo'));
    assertWalkError(() => openDirectory(fifo), 'ENOTDIR', /fifo is a FIFO \(named pipe\), not a directory$/);
    assertWalkError(() => openDirectory(path.join(fifo, 'below')), 'ENOTDIR', /is a FIFO/);
  });

  it('stops a loop of links after MAX_SYMLINKS', () => {
    plantSymlink('b', path.join(dirs.home, 'a'));
    plantSymlink('a', path.join(dirs.home, 'b'));
    assertWalkError(
      () => openDirectory(path.join(dirs.home, 'a')),
      'ELOOP',
      new RegExp(`more than ${MAX_SYMLINKS} symbolic links`),
    );
  });

  it('creates missing directories as the caller says, and fails on a missing one otherwise', () => {
    const missing = path.join(dirs.home, 'x', 'y');
    assertWalkError(() => openDirectory(missing), 'ENOENT', /x does not exist$/);
    const handle = openDirectory(missing, {
      create: { mode: 0o750, as: (parent) => ({ uid: parent.uid, gid: parent.gid, why: 'parent owner' }) },
    });
    handle.close();
    for (const made of [path.join(dirs.home, 'x'), missing]) {
      const st = fs.statSync(made);
      assert.equal(st.uid, NOBODY, made);
      assert.equal(st.mode & 0o777, 0o750 & ~process.umask());
    }
  });

  it('takes only single file names and refuses any use after close', () => {
    const handle = openDirectory(dirs.rootDir);
    for (const name of ['', '.', '..', 'a/b', 'a\0b']) {
      assert.throws(() => handle.entry(name), { code: 'E_INTERNAL' }, JSON.stringify(name));
    }
    const again = handle.reopen();
    handle.close();
    handle.close();
    assert.throws(() => handle.entry('x'), { code: 'E_INTERNAL' });
    fs.writeFileSync(again.entry('via-reopened'), 'x');
    again.close();
    assert.deepEqual(fs.readdirSync(dirs.rootDir), ['via-reopened']);
  });
});

describe('findEntry', () => {
  it('follows links to the last component and returns its lstat unopened, or null when missing', () => {
    const file = path.join(dirs.rootDir, 'config.json');
    fs.writeFileSync(file, '{}');
    const link = plantSymlink(file, path.join(dirs.home, 'config.json'));
    const found = findEntry(link);
    try {
      assert.equal(found.name, 'config.json');
      assert.equal(found.parent.realPath, dirs.rootDir);
      assert.equal(found.parent.chosenBy?.uid, NOBODY);
      assert.equal(found.stat?.ino, fs.statSync(file).ino);
    } finally {
      found.parent.close();
    }
    const missing = findEntry(path.join(dirs.rootDir, 'missing.json'));
    assert.equal(missing.stat, null);
    missing.parent.close();
    assertWalkError(() => findEntry('/'), 'EISDIR', /is a directory/);
  });
});
