/**
 * The tun/tap devices of this network namespace, from sysfs: the fallback
 * when no OpenVPN source tells the tunnel's state. A device counts when the
 * tun driver made it (it has `tun_flags`) or its name says so (`tun0`, `tap1`:
 * OpenVPN's data channel offload device has no `tun_flags`). Bounded: at most
 * MAX_ENTRIES directory entries and MAX_DEVICES devices are looked at, each
 * attribute read is at most ATTRIBUTE_BYTES, and nothing blocks.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';

export interface TunDevice {
  name: string;
  /** `/sys/class/net/<name>/operstate` (RFC 2863: up, down, unknown, dormant, lowerlayerdown, ...), or `?`. */
  operstate: string;
  /** IFF_UP in `flags`: the administrator set it up. */
  adminUp: boolean;
}

export const SYS_CLASS_NET = '/sys/class/net';
const MAX_ENTRIES = 4096;
const MAX_DEVICES = 16;
const ATTRIBUTE_BYTES = 64;
/** IFNAMSIZ is 16 with the terminating NUL. */
const INTERFACE_NAME = /^[A-Za-z0-9_.:@-]{1,15}$/;

function readAttribute(path: string): string | null {
  let fd: number | undefined;
  try {
    fd = fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    const buffer = Buffer.alloc(ATTRIBUTE_BYTES);
    const n = fs.readSync(fd, buffer, 0, ATTRIBUTE_BYTES, null);
    return buffer.toString('latin1', 0, n).trim();
  } catch {
    return null;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** The tun/tap devices under `root`, sorted by name; [] when it cannot be listed. */
export function readTunDevices(root = SYS_CLASS_NET): TunDevice[] {
  const names: string[] = [];
  let dir: fs.Dir;
  try {
    dir = fs.opendirSync(root);
  } catch {
    return [];
  }
  try {
    for (let i = 0; i < MAX_ENTRIES; i++) {
      const entry = dir.readSync();
      if (entry === null) break;
      const name = entry.name;
      if (!INTERFACE_NAME.test(name)) continue;
      if (/^(tun|tap)/.test(name) || fs.existsSync(join(root, name, 'tun_flags'))) names.push(name);
      if (names.length >= MAX_DEVICES) break;
    }
  } catch {
    // A listing that fails half way: the devices found so far.
  } finally {
    dir.closeSync();
  }
  return names.sort().map((name) => {
    const operstate = readAttribute(join(root, name, 'operstate')) ?? '';
    const flags = Number.parseInt(readAttribute(join(root, name, 'flags')) ?? '', 16);
    return {
      name,
      operstate: /^[a-z]{1,20}$/.test(operstate) ? operstate : '?',
      adminUp: Number.isFinite(flags) && (flags & 1) === 1,
    };
  });
}
