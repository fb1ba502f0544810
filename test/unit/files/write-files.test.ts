import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { writeMtrFiles } from '../../../agent/files/mtr-files.ts';
import { writeFileAtomic } from '../../../agent/files/write-atomic.ts';

let dir = '';
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cc-write-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('writeFileAtomic', () => {
  it('replaces the content of an existing file and leaves no temp file', () => {
    const file = path.join(dir, 'MTR-RESOURCE-1.txt');
    fs.writeFileSync(file, 'old content that is longer than the new one');
    writeFileAtomic(file, 'new ✓\n');
    assert.equal(fs.readFileSync(file, 'utf8'), 'new ✓\n');
    assert.deepEqual(fs.readdirSync(dir), ['MTR-RESOURCE-1.txt']);
  });

  it('keeps the old file and removes the temp file when the rename fails', () => {
    const target = path.join(dir, 'occupied');
    fs.mkdirSync(target);
    fs.writeFileSync(path.join(target, 'inside'), 'x');
    assert.throws(() => writeFileAtomic(target, 'content'), { code: /^(EISDIR|ENOTEMPTY|EEXIST)$/ });
    assert.deepEqual(fs.readdirSync(dir), ['occupied']);
    assert.deepEqual(fs.readdirSync(target), ['inside']);
  });

  it('fails with ENOENT when the directory does not exist, creating nothing', () => {
    assert.throws(() => writeFileAtomic(path.join(dir, 'missing', 'file.txt'), 'x'), { code: 'ENOENT' });
    assert.deepEqual(fs.readdirSync(dir), []);
  });
});

describe('writeMtrFiles', () => {
  it('writes both MTR files under the id and returns their kinds and absolute paths', () => {
    const relative = path.relative(process.cwd(), dir);
    const written = writeMtrFiles({
      dir: relative,
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
    const written = writeMtrFiles({ dir, mtrId: '20240105030405', resourceText: null, gatewayText: 'G\n' });
    assert.deepEqual(
      written.map((w) => w.kind),
      ['mtr-gateway'],
    );
    assert.deepEqual(fs.readdirSync(dir), ['MTR-GATEWAY-20240105030405.txt']);
  });

  it('rejects an id that is not all digits, so a file name cannot leave the directory', () => {
    for (const mtrId of ['../../etc/x', '2024-01-05', '', '0x12']) {
      assert.throws(() => writeMtrFiles({ dir, mtrId, resourceText: 'R', gatewayText: null }), {
        code: 'E_INVALID_INPUT',
      });
    }
    assert.deepEqual(fs.readdirSync(dir), []);
  });
});
