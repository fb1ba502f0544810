/**
 * What systemd runs as root must be root's alone, up to `/`: real files and
 * directories with real owners (chown needs root, as install itself does).
 */
import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdirSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { requireRootOnly } from '../../../agent/install/root-only.ts';
import { MonitorError } from '../../../common/errors.ts';
import { tempDir } from '../../helpers/run-agent.ts';

const ROOT_SKIP = process.getuid?.() === 0 ? false : 'needs root: files owned by another user';

const refused = (fn: () => unknown, message: RegExp) =>
  assert.throws(
    fn,
    (error: unknown) =>
      error instanceof MonitorError && error.code === 'E_INSTALL' && message.test(error.message),
  );

describe('requireRootOnly', { skip: ROOT_SKIP }, () => {
  let dir: ReturnType<typeof tempDir>;
  let base: string;
  before(() => {
    dir = tempDir('root-only-');
    base = realpathSync(dir.path); // under /tmp: sticky and writable by all, which keeps root's entries root's
  });
  after(() => dir.cleanup());

  const file = (path: string) => {
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, 'x', { mode: 0o755 });
    return path;
  };

  it('accepts root files in root directories, under a sticky /tmp, and names the real path', () => {
    const node = file(join(base, 'ok', 'bin', 'node'));
    assert.equal(requireRootOnly(node, 'node'), node);
    assert.equal(requireRootOnly('/usr/bin/env', 'env'), realpathSync('/usr/bin/env'));
    const link = join(base, 'ok', 'node-link');
    symlinkSync(node, link);
    assert.equal(requireRootOnly(link, 'node'), node, 'the unit names the real file, not the link');
  });

  it('refuses a directory on the way that another user owns', () => {
    const home = join(base, 'home');
    const node = file(join(home, '.nvm', 'bin', 'node'));
    chownSync(home, 1000, 1000);
    refused(() => requireRootOnly(node, 'node'), new RegExp(`node ${node}: ${home} belongs to uid 1000`));
  });

  it('refuses a directory on the way that others may write, unless sticky', () => {
    const open = join(base, 'open');
    const node = file(join(open, 'bin', 'node'));
    chmodSync(open, 0o777);
    refused(() => requireRootOnly(node, 'node'), /open is writable by others \(mode 0777\)/);
    chmodSync(open, 0o1777);
    assert.equal(requireRootOnly(node, 'node'), node);
  });

  it('refuses the file or directory itself when others may write it, sticky or not', () => {
    const units = join(base, 'units');
    mkdirSync(units);
    chmodSync(units, 0o1777);
    refused(() => requireRootOnly(units, '--unit-dir'), /units is writable by others \(mode 1777\)/);
    const node = file(join(base, 'group', 'node'));
    chmodSync(node, 0o775);
    chownSync(node, 0, 1000);
    refused(() => requireRootOnly(node, 'node'), /node is writable by others \(mode 0775\)/);
  });

  it('refuses a file another user owns, and a path that is not there', () => {
    const node = file(join(base, 'theirs', 'node'));
    chownSync(node, 1000, 0);
    refused(() => requireRootOnly(node, 'node'), /belongs to uid 1000/);
    refused(() => requireRootOnly(join(base, 'missing'), 'node'), /cannot be found \(ENOENT\)/);
  });
});
