import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { type LogDir, prepareLogDir } from '../../../agent/files/log-dir.ts';
import { writeMtrFiles } from '../../../agent/files/mtr-files.ts';
import { replaceFile, writeFileAtomic } from '../../../agent/files/write-atomic.ts';
import {
  type HostileDirs,
  hostileDirs,
  NOBODY,
  ownedDir,
  plantSymlink,
  rootOnlyFile,
} from '../../helpers/hostile-dir.ts';

let dir = '';
let logDir: LogDir;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cc-write-'));
  logDir = prepareLogDir(dir);
});
afterEach(() => {
  logDir.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('writeFileAtomic', () => {
  it('replaces the content of an existing file and leaves no temp file', () => {
    const file = path.join(dir, 'MTR-RESOURCE-1.txt');
    fs.writeFileSync(file, 'old content that is longer than the new one');
    writeFileAtomic(logDir, 'MTR-RESOURCE-1.txt', 'new ✓\n');
    assert.equal(fs.readFileSync(file, 'utf8'), 'new ✓\n');
    assert.deepEqual(fs.readdirSync(dir), ['MTR-RESOURCE-1.txt']);
  });

  it('keeps the old directory and removes the temp file when the rename fails, with E_LOG_DIR', () => {
    const target = path.join(dir, 'occupied');
    fs.mkdirSync(target);
    fs.writeFileSync(path.join(target, 'inside'), 'x');
    assert.throws(
      () => writeFileAtomic(logDir, 'occupied', 'content'),
      (error: unknown) => {
        assert.equal((error as { code?: string }).code, 'E_LOG_DIR');
        assert.match(
          String(error),
          new RegExp(`log directory ${dir}: writing occupied failed \\((EISDIR|ENOTEMPTY|EEXIST)`),
        );
        return true;
      },
    );
    assert.deepEqual(fs.readdirSync(dir), ['occupied']);
    assert.deepEqual(fs.readdirSync(target), ['inside']);
  });

  it('replaces a link planted at the target name instead of writing through it', () => {
    const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'cc-write-outside-'));
    try {
      const secret = rootOnlyFile(path.join(outside, 'secret'), 'root only\n');
      fs.symlinkSync(secret, path.join(dir, 'MTR-GATEWAY-1.txt'));
      writeFileAtomic(logDir, 'MTR-GATEWAY-1.txt', 'G\n');
      assert.equal(fs.lstatSync(path.join(dir, 'MTR-GATEWAY-1.txt')).isFile(), true);
      assert.equal(fs.readFileSync(path.join(dir, 'MTR-GATEWAY-1.txt'), 'utf8'), 'G\n');
      assert.equal(fs.readFileSync(secret, 'utf8'), 'root only\n');
    } finally {
      fs.rmSync(outside, { recursive: true, force: true });
    }
  });
});

describe('the permissions of a replaced file', () => {
  const mode = (file: string) => fs.statSync(file).mode & 0o7777;
  const onDir = { entry: (n: string) => path.join(dir, n), sync: () => undefined };

  it('are kept: a file made private stays private; set-id bits are left out; a new file gets 0644', () => {
    const file = path.join(dir, '.cc-monitor-tunnel.json');
    const umask = process.umask(0o022);
    try {
      writeFileAtomic(logDir, '.cc-monitor-tunnel.json', 'new\n');
      assert.equal(mode(file), 0o644, 'a new file');
      fs.chmodSync(file, 0o600);
      writeFileAtomic(logDir, '.cc-monitor-tunnel.json', 'replaced\n');
      assert.equal(mode(file), 0o600);
      assert.equal(fs.readFileSync(file, 'utf8'), 'replaced\n');
      fs.chmodSync(file, 0o4751);
      writeFileAtomic(logDir, '.cc-monitor-tunnel.json', 'again\n');
      assert.equal(mode(file), 0o751);
    } finally {
      process.umask(umask);
    }
  });

  it("never take a mode from a link's target, and an explicit mode wins (install's units)", () => {
    const target = path.join(dir, 'target');
    fs.writeFileSync(target, 't', { mode: 0o600 });
    fs.chmodSync(target, 0o600);
    fs.symlinkSync(target, path.join(dir, 'unit'));
    const umask = process.umask(0o022);
    try {
      replaceFile(onDir, 'unit', 'u\n');
      assert.equal(mode(path.join(dir, 'unit')), 0o644, 'the link is replaced by a new file');
      fs.chmodSync(path.join(dir, 'unit'), 0o600);
      replaceFile(onDir, 'unit', 'u2\n', { mode: 0o644 });
      assert.equal(mode(path.join(dir, 'unit')), 0o644);
    } finally {
      process.umask(umask);
    }
  });

  it('keep the owner and group too with keepOwner when root writes; without it, the group only', {
    skip: process.getuid?.() === 0 ? false : 'needs root: only root gives a file to another user',
  }, () => {
    const file = path.join(dir, 'report.html');
    fs.writeFileSync(file, 'old');
    fs.chownSync(file, NOBODY, 4);
    fs.chmodSync(file, 0o640);
    replaceFile(onDir, 'report.html', 'new', { keepOwner: true });
    assert.deepEqual([fs.statSync(file).uid, fs.statSync(file).gid, mode(file)], [NOBODY, 4, 0o640]);
    replaceFile(onDir, 'report.html', 'newer');
    assert.deepEqual([fs.statSync(file).uid, fs.statSync(file).gid, mode(file)], [0, 4, 0o640]);
  });
});

describe('writeMtrFiles', () => {
  it('writes both MTR files under the id and returns their kinds and absolute paths', () => {
    const written = writeMtrFiles({
      dir: logDir,
      mtrId: '20240105030405',
      resourceText: 'R\n',
      gatewayText: 'G\n',
    });
    assert.deepEqual(written, [
      { kind: 'mtr-resource', path: path.join(dir, 'MTR-RESOURCE-20240105030405.txt') },
      { kind: 'mtr-gateway', path: path.join(dir, 'MTR-GATEWAY-20240105030405.txt') },
    ]);
    assert.equal(fs.readFileSync(path.join(dir, 'MTR-RESOURCE-20240105030405.txt'), 'utf8'), 'R\n');
    assert.equal(fs.readFileSync(path.join(dir, 'MTR-GATEWAY-20240105030405.txt'), 'utf8'), 'G\n');
  });

  it('skips a file whose text is null (no gateway found, or 100% loss)', () => {
    const written = writeMtrFiles({
      dir: logDir,
      mtrId: '20240105030405',
      resourceText: null,
      gatewayText: 'G\n',
    });
    assert.deepEqual(
      written.map((w) => w.kind),
      ['mtr-gateway'],
    );
    assert.deepEqual(fs.readdirSync(dir), ['MTR-GATEWAY-20240105030405.txt']);
  });

  it('rejects an id that is not all digits, so a file name cannot leave the directory', () => {
    for (const mtrId of ['../../etc/x', '2024-01-05', '', '0x12']) {
      assert.throws(() => writeMtrFiles({ dir: logDir, mtrId, resourceText: 'R', gatewayText: null }), {
        code: 'E_INVALID_INPUT',
      });
    }
    assert.deepEqual(fs.readdirSync(dir), []);
  });
});

describe('writeMtrFiles in a directory another user owns (the agent is root)', () => {
  let dirs: HostileDirs;
  beforeEach(() => {
    dirs = hostileDirs('cc-write-hostile-');
  });
  afterEach(() => dirs.cleanup());

  it('writes as that user, and replaces a link planted at an MTR file name without writing through it', () => {
    const logs = ownedDir(path.join(dirs.home, 'Connexa-Logs'));
    const userDir = prepareLogDir(logs);
    try {
      writeMtrFiles({ dir: userDir, mtrId: '1', resourceText: 'R\n', gatewayText: null });
      assert.equal(fs.statSync(path.join(logs, 'MTR-RESOURCE-1.txt')).uid, NOBODY);
      const rootsDir = path.join(logs, 'sub');
      fs.mkdirSync(rootsDir, { mode: 0o755 });
      plantSymlink(rootsDir, path.join(logs, 'MTR-GATEWAY-2.txt'));
      writeMtrFiles({ dir: userDir, mtrId: '2', resourceText: null, gatewayText: 'G\n' });
      assert.equal(fs.readFileSync(path.join(logs, 'MTR-GATEWAY-2.txt'), 'utf8'), 'G\n');
      assert.deepEqual(fs.readdirSync(rootsDir), [], 'nothing written through the link');
    } finally {
      userDir.close();
    }
  });

  it("keeps a replaced file's mode as the acting user, who stays its owner", () => {
    const logs = ownedDir(path.join(dirs.home, 'Connexa-Logs'));
    const userDir = prepareLogDir(logs);
    try {
      const file = path.join(logs, 'MTR-RESOURCE-3.txt');
      fs.writeFileSync(file, 'old');
      fs.chownSync(file, NOBODY, NOBODY);
      fs.chmodSync(file, 0o600);
      writeMtrFiles({ dir: userDir, mtrId: '3', resourceText: 'R\n', gatewayText: null });
      const stat = fs.statSync(file);
      assert.deepEqual([stat.uid, stat.mode & 0o7777], [NOBODY, 0o600]);
      assert.equal(fs.readFileSync(file, 'utf8'), 'R\n');
    } finally {
      userDir.close();
    }
  });
});
