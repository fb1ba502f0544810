/**
 * The tun devices from a sysfs-like directory: which entries count, what is
 * read of them, and that nothing there (a FIFO, a link to /dev/zero, a huge
 * listing) can block or flood the read. The live /sys is read by the lab
 * scenarios (test/integration/lab/tunnel.test.ts).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readTunDevices } from '../../../agent/tunnel/read-tun-devices.ts';

let root = '';
before(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'cc-sys-class-net-'));
});
after(() => fs.rmSync(root, { recursive: true, force: true }));

function device(dir: string, name: string, attributes: Record<string, string>): void {
  fs.mkdirSync(path.join(dir, name));
  for (const [file, text] of Object.entries(attributes)) fs.writeFileSync(path.join(dir, name, file), text);
}

describe('readTunDevices', () => {
  it('lists tun/tap devices by tun_flags or by name, sorted, with operstate and IFF_UP; other interfaces are left out', () => {
    // Prepare
    const dir = fs.mkdtempSync(path.join(root, 'mixed-'));
    device(dir, 'eth0', { operstate: 'up\n', flags: '0x1003\n' });
    device(dir, 'lo', { operstate: 'unknown\n', flags: '0x9\n' });
    device(dir, 'ovpn0', { operstate: 'unknown\n', flags: '0x1091\n', tun_flags: '0x1001\n' });
    device(dir, 'tun0', { operstate: 'down\n', flags: '0x1090\n' });
    device(dir, 'tap1', { operstate: 'lowerlayerdown\n', flags: '0x1003\n', tun_flags: '0x1002\n' });
    // Act
    const devices = readTunDevices(dir);
    // Assess
    assert.deepEqual(devices, [
      { name: 'ovpn0', operstate: 'unknown', adminUp: true },
      { name: 'tap1', operstate: 'lowerlayerdown', adminUp: true },
      { name: 'tun0', operstate: 'down', adminUp: false },
    ]);
  });

  it('reads a FIFO, a link to /dev/zero and garbage as `?` without blocking, and a missing directory as no device', () => {
    const dir = fs.mkdtempSync(path.join(root, 'hostile-'));
    device(dir, 'tun0', { flags: 'zz' });
    const made = spawnSync('mkfifo', [path.join(dir, 'tun0', 'operstate')]);
    assert.equal(made.status, 0);
    device(dir, 'tun1', { flags: '0x1' });
    fs.symlinkSync('/dev/zero', path.join(dir, 'tun1', 'operstate'));
    device(dir, 'tun2', { operstate: `${'u'.repeat(5000)}\n`, flags: '0x1' });
    device(dir, 'tun3', { operstate: 'UP; rm -rf /', flags: '0x1' });
    assert.deepEqual(readTunDevices(dir), [
      { name: 'tun0', operstate: '?', adminUp: false },
      { name: 'tun1', operstate: '?', adminUp: true },
      { name: 'tun2', operstate: '?', adminUp: true },
      { name: 'tun3', operstate: '?', adminUp: true },
    ]);
    assert.deepEqual(readTunDevices(path.join(dir, 'no-such-dir')), []);
  });

  it('looks at a bounded number of devices and skips names no interface can have', () => {
    const dir = fs.mkdtempSync(path.join(root, 'many-'));
    for (let i = 0; i < 40; i++) device(dir, `tun${i}`, { operstate: 'up', flags: '0x1' });
    device(dir, 'tun-with-a-name-longer-than-ifnamsiz', { operstate: 'up', flags: '0x1' });
    const devices = readTunDevices(dir);
    assert.equal(devices.length, 16);
    assert.ok(devices.every((d) => d.name.length <= 15));
  });
});
