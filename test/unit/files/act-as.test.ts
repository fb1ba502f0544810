import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { actAs, currentPrincipal, NO_GROUP } from '../../../agent/files/act-as.ts';
import { NOBODY, rootOnlyFile } from '../../helpers/hostile-dir.ts';

const AS_NOBODY = { uid: NOBODY, gid: NO_GROUP, why: 'test' };

let dir = '';
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cc-actas-'));
  fs.chmodSync(dir, 0o755);
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** The kernel's view (process.getgroups() always adds the egid). */
function kernelGroups(): string {
  const line = fs
    .readFileSync('/proc/self/status', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Groups:'));
  return (line ?? '').slice('Groups:'.length).trim();
}

function identity() {
  return { euid: process.geteuid?.(), egid: process.getegid?.(), groups: kernelGroups() };
}

describe('actAs', () => {
  it('runs the work with the given euid and egid and no supplementary groups, then restores all three', () => {
    const saved = identity();
    assert.equal(saved.euid, 0, 'the suite runs as root');
    const inside = actAs(AS_NOBODY, () => ({ ...identity(), acting: currentPrincipal() }));
    assert.deepEqual(inside, { euid: NOBODY, egid: NO_GROUP, groups: '', acting: AS_NOBODY });
    assert.deepEqual(identity(), saved);
    assert.equal(currentPrincipal(), null);
  });

  it('lets the kernel refuse what that user may not do: appending to a root-only file', () => {
    const file = rootOnlyFile(path.join(dir, 'secret'), 'root only\n');
    assert.throws(() => actAs(AS_NOBODY, () => fs.appendFileSync(file, 'x')), { code: 'EACCES' });
    assert.equal(fs.readFileSync(file, 'utf8'), 'root only\n');
  });

  it('restores root even when the work throws', () => {
    assert.throws(
      () =>
        actAs(AS_NOBODY, () => {
          throw new Error('boom');
        }),
      /boom/,
    );
    assert.deepEqual(identity().euid, 0);
    assert.deepEqual(identity().egid, 0);
    fs.writeFileSync(path.join(dir, 'still-root'), 'x');
    assert.equal(fs.statSync(path.join(dir, 'still-root')).uid, 0);
  });

  it('runs nested work for the same user, refuses another one, and null means the agent itself', () => {
    assert.equal(
      actAs(AS_NOBODY, () => actAs(AS_NOBODY, () => process.geteuid?.())),
      NOBODY,
    );
    assert.throws(() => actAs(AS_NOBODY, () => actAs({ uid: 1, gid: 1, why: 'other' }, () => 0)), {
      code: 'E_INTERNAL',
    });
    assert.equal(process.geteuid?.(), 0);
    assert.equal(
      actAs(null, () => process.geteuid?.()),
      0,
    );
  });
});
