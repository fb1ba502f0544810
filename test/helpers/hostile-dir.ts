/**
 * Directories and plants for the tests where a non-root user (`nobody`, uid
 * 65534, standing in for `ubuntu`) owns the log directory's parent and the
 * agent runs as root. Everything lives under os.tmpdir().
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const NOBODY = 65534;

export interface HostileDirs {
  /** Owned by nobody, mode 0755: the stand-in for /home/ubuntu. */
  home: string;
  /** Owned by root, mode 0755: where root's own files live (the targets of plants). */
  rootDir: string;
  cleanup(): void;
}

export function hostileDirs(prefix: string): HostileDirs {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), `${prefix}home-`));
  fs.chmodSync(home, 0o755);
  fs.chownSync(home, NOBODY, NOBODY);
  const rootDir = fs.mkdtempSync(path.join(os.tmpdir(), `${prefix}root-`));
  fs.chmodSync(rootDir, 0o755);
  return {
    home,
    rootDir,
    cleanup() {
      fs.rmSync(home, { recursive: true, force: true });
      fs.rmSync(rootDir, { recursive: true, force: true });
    },
  };
}

/** A directory owned by `uid` (mode 0755). */
export function ownedDir(at: string, uid = NOBODY, mode = 0o755): string {
  fs.mkdirSync(at);
  fs.chmodSync(at, mode);
  fs.chownSync(at, uid, uid);
  return at;
}

/** A symbolic link at `at` to `target`, owned by `uid` (as that user would have made it). */
export function plantSymlink(target: string, at: string, uid = NOBODY): string {
  fs.symlinkSync(target, at);
  fs.lchownSync(at, uid, uid);
  return at;
}

/** A FIFO at `at`, owned by `uid`. Opening it for reading would block until a writer comes. */
export function plantFifo(at: string, uid = NOBODY): string {
  const made = spawnSync('mkfifo', ['-m', '0644', at], { encoding: 'utf8' });
  if (made.status !== 0) throw new Error(`mkfifo ${at}: ${made.stderr}`);
  fs.chownSync(at, uid, uid);
  return at;
}

/** A root-owned file with mode 0440, as /etc/sudoers is. */
export function rootOnlyFile(at: string, content: string): string {
  fs.writeFileSync(at, content);
  fs.chmodSync(at, 0o440);
  fs.chownSync(at, 0, 0);
  return at;
}

/** Every entry under `dir` with its type, owner, mode and (for files) content: to prove nothing changed. */
export function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (at: string) => {
    for (const name of fs.readdirSync(at).sort()) {
      const file = path.join(at, name);
      const st = fs.lstatSync(file);
      const key = path.relative(dir, file);
      if (st.isDirectory()) {
        out[key] = `dir ${st.uid} ${(st.mode & 0o7777).toString(8)}`;
        walk(file);
      } else if (st.isSymbolicLink()) {
        out[key] = `link -> ${fs.readlinkSync(file)}`;
      } else if (st.isFile()) {
        out[key] = `file ${st.uid} ${(st.mode & 0o7777).toString(8)} ${fs.readFileSync(file, 'utf8')}`;
      } else {
        out[key] = `special ${st.mode.toString(8)}`;
      }
    }
  };
  walk(dir);
  return out;
}

export function bootId(): string {
  return fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
}

/** The forged lock of the issue: pid 1 (always alive), this boot and host, started in 2099. */
export function forgedLock(): string {
  return JSON.stringify({
    pid: 1,
    startedAt: '2099-01-01T00:00:00.000Z',
    hostname: os.hostname(),
    procStart: null,
    bootId: bootId(),
  });
}
