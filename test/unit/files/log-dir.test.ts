import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { prepareLogDir } from '../../../agent/files/log-dir.ts';
import { EnvironmentError } from '../../../common/errors.ts';

let dir = '';
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cc-logdir-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function assertLogDirError(fn: () => unknown, errno: string, dirShown: string): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof EnvironmentError, String(error));
    assert.equal(error.code, 'E_LOG_DIR');
    assert.equal(error.path, dirShown);
    assert.ok(error.message.includes(dirShown), error.message);
    assert.ok(error.message.includes(errno), error.message);
    assert.match(error.message, /--log-dir/);
    return true;
  });
}

describe('prepareLogDir', () => {
  it('creates missing parents with mode 0755, returns the absolute path and leaves no probe file', () => {
    const target = path.join(dir, 'a', 'Connexa-Logs');
    const relative = path.relative(process.cwd(), target);
    assert.equal(prepareLogDir(relative), target);
    assert.equal(fs.statSync(target).mode & 0o777, 0o755 & ~process.umask());
    assert.deepEqual(fs.readdirSync(target), []);
  });

  it('accepts an existing directory and leaves its files alone', () => {
    fs.writeFileSync(path.join(dir, 'LATENCY-LOSS-CONNEXA-REPORT.json'), '{}\n');
    assert.equal(prepareLogDir(dir), dir);
    assert.deepEqual(fs.readdirSync(dir), ['LATENCY-LOSS-CONNEXA-REPORT.json']);
  });

  it('reports a path through a regular file as E_LOG_DIR naming the directory and errno', () => {
    fs.writeFileSync(path.join(dir, 'file'), '');
    const target = path.join(dir, 'file', 'logs');
    assertLogDirError(() => prepareLogDir(target), 'ENOTDIR', target);
  });

  it('reports a regular file in place of the directory as E_LOG_DIR', () => {
    const target = path.join(dir, 'logs');
    fs.writeFileSync(target, '');
    assertLogDirError(() => prepareLogDir(target), 'EEXIST', target);
  });

  it('reports a directory the agent user may not write as E_LOG_DIR with EACCES', (t) => {
    if (process.getuid?.() !== 0) {
      t.skip('needs root to run the probe as another user');
      return;
    }
    // As root every directory is writable, so the check runs in a child process as "nobody".
    fs.chmodSync(dir, 0o755);
    const target = path.join(dir, 'locked');
    fs.mkdirSync(target, { mode: 0o755 });
    const result = spawnSync(
      process.execPath,
      ['--import', 'tsx', path.resolve(__dirname, '../../fixtures/files/prepare-log-dir.ts'), target],
      {
        uid: 65534,
        gid: 65534,
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
