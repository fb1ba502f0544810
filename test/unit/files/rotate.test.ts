import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { pruneMtrFiles, rotateIfNeeded } from '../../../agent/files/rotate.ts';

let dir = '';
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cc-rotate-'));
});
afterEach(() => {
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
    const file = write('report.json', '12345');
    assert.deepEqual(rotateIfNeeded(file, { maxBytes: 5, keep: 3 }), []);
    assert.deepEqual(fs.readdirSync(dir), ['report.json']);
  });

  it('does nothing when the file does not exist yet', () => {
    assert.deepEqual(rotateIfNeeded(path.join(dir, 'missing.json'), { maxBytes: 0, keep: 3 }), []);
    assert.deepEqual(fs.readdirSync(dir), []);
  });

  it('shifts file -> .1 -> .2 -> .3 and drops the oldest when the file exceeds maxBytes', () => {
    const file = write('report.json', 'current!');
    write('report.json.1', 'one');
    write('report.json.2', 'two');
    write('report.json.3', 'three');
    const acted = rotateIfNeeded(file, { maxBytes: 4, keep: 3 });
    assert.deepEqual(acted, [`${file}.3`, `${file}.2`, `${file}.1`, file]);
    assert.deepEqual(fs.readdirSync(dir).sort(), ['report.json.1', 'report.json.2', 'report.json.3']);
    assert.equal(read('report.json.1'), 'current!');
    assert.equal(read('report.json.2'), 'one');
    assert.equal(read('report.json.3'), 'two');
  });

  it('fills gaps in the numbered files without inventing any', () => {
    const file = write('report.json', 'current!');
    write('report.json.2', 'two');
    assert.deepEqual(rotateIfNeeded(file, { maxBytes: 1, keep: 3 }), [`${file}.2`, file]);
    assert.equal(read('report.json.1'), 'current!');
    assert.equal(read('report.json.3'), 'two');
    assert.equal(fs.existsSync(`${file}.2`), false);
  });

  it('with keep 0 drops the oversized file itself', () => {
    const file = write('report.json', 'current!');
    assert.deepEqual(rotateIfNeeded(file, { maxBytes: 1, keep: 0 }), [file]);
    assert.deepEqual(fs.readdirSync(dir), []);
  });

  it('rejects a negative or fractional keep', () => {
    const file = write('report.json', 'x');
    assert.throws(() => rotateIfNeeded(file, { maxBytes: 0, keep: -1 }), { code: 'E_INVALID_INPUT' });
    assert.throws(() => rotateIfNeeded(file, { maxBytes: 0, keep: 1.5 }), { code: 'E_INVALID_INPUT' });
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
    const deleted = pruneMtrFiles(dir, { maxFiles: 3 });
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
    const deleted = pruneMtrFiles(dir, { maxFiles: 2 });
    assert.deepEqual(deleted, [
      path.join(dir, 'MTR-RESOURCE-100.txt'),
      path.join(dir, 'MTR-RESOURCE-99.txt'),
    ]);
    assert.deepEqual(fs.readdirSync(dir).sort(), ['MTR-GATEWAY-100.txt', 'MTR-RESOURCE-0101.txt']);
  });

  it('deletes nothing when there are no more than maxFiles', () => {
    write('MTR-RESOURCE-1.txt', 'a');
    write('MTR-GATEWAY-1.txt', 'b');
    assert.deepEqual(pruneMtrFiles(dir, { maxFiles: 2 }), []);
    assert.equal(fs.readdirSync(dir).length, 2);
  });
});
