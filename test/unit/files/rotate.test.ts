import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { type LogDir, prepareLogDir } from '../../../agent/files/log-dir.ts';
import { pruneMtrFiles, rotateIfNeeded } from '../../../agent/files/rotate.ts';
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

const notRoot = process.getuid?.() === 0 ? false : 'needs root: only root changes a group it is not in';
let dir = '';
let logDir: LogDir;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cc-rotate-'));
  logDir = prepareLogDir(dir);
});
afterEach(() => {
  logDir.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const read = (name: string) => fs.readFileSync(path.join(dir, name), 'utf8');
const write = (name: string, content: string, mtimeSec?: number) => {
  const file = path.join(dir, name);
  fs.writeFileSync(file, content);
  if (mtimeSec !== undefined) fs.utimesSync(file, mtimeSec, mtimeSec);
  return file;
};

describe('rotateIfNeeded', () => {
  it('leaves a file at or below maxBytes alone', () => {
    write('report.json', '12345');
    assert.deepEqual(rotateIfNeeded(logDir, 'report.json', { maxBytes: 5, keep: 3 }), []);
    assert.deepEqual(fs.readdirSync(dir), ['report.json']);
  });

  it('does nothing when the file does not exist yet', () => {
    assert.deepEqual(rotateIfNeeded(logDir, 'missing.json', { maxBytes: 0, keep: 3 }), []);
    assert.deepEqual(fs.readdirSync(dir), []);
  });

  it('shifts file -> .1 -> .2 -> .3 and drops the oldest when the file exceeds maxBytes', () => {
    const file = write('report.json', 'current!');
    write('report.json.1', 'one');
    write('report.json.2', 'two');
    write('report.json.3', 'three');
    const acted = rotateIfNeeded(logDir, 'report.json', { maxBytes: 4, keep: 3 });
    assert.deepEqual(acted, [`${file}.3`, `${file}.2`, `${file}.1`, file]);
    assert.deepEqual(fs.readdirSync(dir).sort(), [
      'report.json',
      'report.json.1',
      'report.json.2',
      'report.json.3',
    ]);
    assert.equal(read('report.json'), '', 'the file starts again empty');
    assert.equal(read('report.json.1'), 'current!');
    assert.equal(read('report.json.2'), 'one');
    assert.equal(read('report.json.3'), 'two');
  });

  it('fills gaps in the numbered files without inventing any', () => {
    const file = write('report.json', 'current!');
    write('report.json.2', 'two');
    assert.deepEqual(rotateIfNeeded(logDir, 'report.json', { maxBytes: 1, keep: 3 }), [`${file}.2`, file]);
    assert.equal(read('report.json.1'), 'current!');
    assert.equal(read('report.json.3'), 'two');
    assert.equal(fs.existsSync(`${file}.2`), false);
  });

  it('with keep 0 drops the oversized file itself', () => {
    const file = write('report.json', 'current!');
    assert.deepEqual(rotateIfNeeded(logDir, 'report.json', { maxBytes: 1, keep: 0 }), [file]);
    assert.deepEqual(fs.readdirSync(dir), ['report.json']);
    assert.equal(read('report.json'), '');
  });

  it('starts the file again with the permission bits of the one rotated away, set-id bits left out', () => {
    const file = write('report.json', 'current!');
    fs.chmodSync(file, 0o600);
    rotateIfNeeded(logDir, 'report.json', { maxBytes: 1, keep: 2 });
    assert.equal(fs.statSync(file).mode & 0o7777, 0o600, 'a private report stays private');
    assert.equal(fs.statSync(`${file}.1`).mode & 0o7777, 0o600);
    write('report.json', 'again!!!');
    fs.chmodSync(file, 0o2640);
    rotateIfNeeded(logDir, 'report.json', { maxBytes: 1, keep: 0 });
    assert.equal(fs.statSync(file).mode & 0o7777, 0o640);
  });

  it('keeps the group of the rotated file when root writes as itself', { skip: notRoot }, () => {
    const file = write('report.json', 'current!');
    fs.chownSync(file, 0, 4); // adm on Debian: a log its readers' group may read
    fs.chmodSync(file, 0o640);
    rotateIfNeeded(logDir, 'report.json', { maxBytes: 1, keep: 1 });
    assert.deepEqual([fs.statSync(file).uid, fs.statSync(file).gid], [0, 4]);
    assert.equal(fs.statSync(file).mode & 0o7777, 0o640);
  });

  it('rejects a negative or fractional keep', () => {
    write('report.json', 'x');
    assert.throws(() => rotateIfNeeded(logDir, 'report.json', { maxBytes: 0, keep: -1 }), {
      code: 'E_INVALID_INPUT',
    });
    assert.throws(() => rotateIfNeeded(logDir, 'report.json', { maxBytes: 0, keep: 1.5 }), {
      code: 'E_INVALID_INPUT',
    });
  });
});

describe('pruneMtrFiles', () => {
  it('keeps the newest maxFiles MTR files by id and deletes the rest, ignoring other files', () => {
    write('MTR-RESOURCE-20240101000003.txt', 'r3', 1000);
    write('MTR-GATEWAY-20240101000003.txt', 'g3', 1000);
    write('MTR-RESOURCE-20240101000002.txt', 'r2', 3000); // newer mtime must not beat a newer id
    write('MTR-RESOURCE-20240101000001.txt', 'r1', 2000);
    write('MTR-GATEWAY-20240101000001.txt', 'g1', 2000);
    write('LATENCY-LOSS-CONNEXA-REPORT.json', '{}');
    write('MTR-RESOURCE-notanid.txt', 'x');
    write('MTR-RESOURCE-20230101000000.txt.bak', 'x');
    write('mtr-resource-20200101000000.txt', 'x');
    fs.mkdirSync(path.join(dir, 'MTR-RESOURCE-20000101000000.txt'));
    const deleted = pruneMtrFiles(logDir, { maxFiles: 3 });
    assert.deepEqual(deleted.sort(), [
      path.join(dir, 'MTR-GATEWAY-20240101000001.txt'),
      path.join(dir, 'MTR-RESOURCE-20240101000001.txt'),
    ]);
    assert.deepEqual(fs.readdirSync(dir).sort(), [
      'LATENCY-LOSS-CONNEXA-REPORT.json',
      'MTR-GATEWAY-20240101000003.txt',
      'MTR-RESOURCE-20000101000000.txt',
      'MTR-RESOURCE-20230101000000.txt.bak',
      'MTR-RESOURCE-20240101000002.txt',
      'MTR-RESOURCE-20240101000003.txt',
      'MTR-RESOURCE-notanid.txt',
      'mtr-resource-20200101000000.txt',
    ]);
  });

  it('orders ids numerically, not as text, and breaks id ties by mtime', () => {
    write('MTR-RESOURCE-99.txt', 'short id', 5000);
    write('MTR-RESOURCE-100.txt', 'longer id', 1000);
    write('MTR-RESOURCE-0101.txt', 'leading zero', 1000);
    write('MTR-GATEWAY-100.txt', 'same id, newer', 2000);
    const deleted = pruneMtrFiles(logDir, { maxFiles: 2 });
    assert.deepEqual(deleted, [
      path.join(dir, 'MTR-RESOURCE-100.txt'),
      path.join(dir, 'MTR-RESOURCE-99.txt'),
    ]);
    assert.deepEqual(fs.readdirSync(dir).sort(), ['MTR-GATEWAY-100.txt', 'MTR-RESOURCE-0101.txt']);
  });

  it('deletes nothing when there are no more than maxFiles', () => {
    write('MTR-RESOURCE-1.txt', 'a');
    write('MTR-GATEWAY-1.txt', 'b');
    assert.deepEqual(pruneMtrFiles(logDir, { maxFiles: 2 }), []);
    assert.equal(fs.readdirSync(dir).length, 2);
  });
});

describe('rotation and pruning never follow links or leave the directory', () => {
  let dirs: HostileDirs;
  let logs = '';
  let userDir: LogDir;
  beforeEach(() => {
    dirs = hostileDirs('cc-rotate-hostile-');
    logs = ownedDir(path.join(dirs.home, 'Connexa-Logs'));
    userDir = prepareLogDir(logs);
  });
  afterEach(() => {
    userDir.close();
    dirs.cleanup();
  });

  const own = (name: string, content: string) => {
    const file = path.join(logs, name);
    fs.writeFileSync(file, content);
    fs.chownSync(file, NOBODY, NOBODY);
    return file;
  };

  it('moves a planted report.N link by its name and never touches what it points to', () => {
    const secret = rootOnlyFile(path.join(dirs.rootDir, 'secret'), 'root only\n');
    const before = snapshot(dirs.rootDir);
    own('report.json', 'x'.repeat(100));
    plantSymlink(secret, path.join(logs, 'report.json.1'));
    plantSymlink(path.join(dirs.rootDir, 'new-file'), path.join(logs, 'report.json.3'));
    const acted = rotateIfNeeded(userDir, 'report.json', { maxBytes: 10, keep: 3 });
    assert.deepEqual(acted, [
      path.join(logs, 'report.json.3'),
      path.join(logs, 'report.json.1'),
      path.join(logs, 'report.json'),
    ]);
    assert.equal(fs.readlinkSync(path.join(logs, 'report.json.2')), secret, 'the link itself moved');
    assert.equal(fs.readFileSync(path.join(logs, 'report.json.1'), 'utf8'), 'x'.repeat(100));
    assert.deepEqual(snapshot(dirs.rootDir), before, 'nothing outside changed or appeared');
  });

  it("starts the file again as the acting user's, with the rotated file's mode", () => {
    const file = own('report.json', 'x'.repeat(100));
    fs.chmodSync(file, 0o600);
    rotateIfNeeded(userDir, 'report.json', { maxBytes: 10, keep: 1 });
    const started = fs.statSync(file);
    assert.deepEqual([started.uid, started.size, started.mode & 0o7777], [NOBODY, 0, 0o600]);
  });

  it('does not rotate a report that is a link, FIFO or anything but a regular file', () => {
    const big = path.join(dirs.rootDir, 'big');
    fs.writeFileSync(big, 'x'.repeat(10_000));
    plantSymlink(big, path.join(logs, 'report.json'));
    assert.deepEqual(rotateIfNeeded(userDir, 'report.json', { maxBytes: 10, keep: 0 }), []);
    fs.unlinkSync(path.join(logs, 'report.json'));
    plantFifo(path.join(logs, 'report.json'));
    assert.deepEqual(rotateIfNeeded(userDir, 'report.json', { maxBytes: 0, keep: 2 }), []);
    assert.equal(fs.readFileSync(big, 'utf8').length, 10_000);
  });

  it('prunes only regular MTR files: links and FIFOs with MTR names are left alone, their targets too', () => {
    const secret = rootOnlyFile(path.join(dirs.rootDir, 'secret'), 'root only\n');
    plantSymlink(secret, path.join(logs, 'MTR-RESOURCE-1.txt'));
    plantFifo(path.join(logs, 'MTR-GATEWAY-1.txt'));
    own('MTR-RESOURCE-2.txt', 'old');
    own('MTR-RESOURCE-3.txt', 'new');
    const deleted = pruneMtrFiles(userDir, { maxFiles: 1 });
    assert.deepEqual(deleted, [path.join(logs, 'MTR-RESOURCE-2.txt')]);
    assert.deepEqual(fs.readdirSync(logs).sort(), [
      'MTR-GATEWAY-1.txt',
      'MTR-RESOURCE-1.txt',
      'MTR-RESOURCE-3.txt',
    ]);
    assert.equal(fs.readFileSync(secret, 'utf8'), 'root only\n');
  });

  it('refuses to list a flooded directory instead of holding every name in memory', () => {
    for (let i = 0; i < 12; i++) own(`MTR-RESOURCE-${i}.txt`, 'x');
    assert.throws(
      () => pruneMtrFiles(userDir, { maxFiles: 1, maxListed: 10 }),
      (error: unknown) => {
        assert.equal((error as { code?: string }).code, 'E_LOG_DIR');
        assert.match(String(error), /holds more than 10 entries; MTR files are not pruned/);
        return true;
      },
    );
    assert.equal(fs.readdirSync(logs).length, 12, 'nothing deleted on a partial listing');
  });
});
