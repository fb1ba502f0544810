/**
 * The environment of every child process: built from an allow-list, never
 * inherited whole, so nothing set on the host changes what is measured.
 *
 * What the tools read from the environment (checked in the sources of
 * mtr 0.92-0.96 and openvpn3-linux), and why none of it may pass:
 * - `MTR_OPTIONS` (ui/mtr.c): parsed as options before the arguments, so
 *   `-o LS` drops the latency columns (a healthy path becomes "unreachable")
 *   and `-T`/`-u` swap the probe protocol behind a result labelled `icmp`.
 * - `MTR_PACKET` (ui/cmdpipe.c): the program mtr runs as its raw-socket helper,
 *   as root.
 * - `DISPLAY` (ui/gtk.c): GTK builds (Debian's `mtr`) pick the GTK interface.
 * - `POSIXLY_CORRECT` (glibc getopt): changes option parsing.
 * - `TERM`, `COLORTERM`, `NO_COLOR` (openvpn3 src/common/utils.cpp): colour codes.
 * - `DBUS_SYSTEM_BUS_ADDRESS` (GLib, used by openvpn3): which bus is asked
 *   about the tunnel; the agent wants the host's real one.
 * - `LD_PRELOAD`, `LD_LIBRARY_PATH`, `MALLOC_*`, `GCONV_PATH`, ...: the
 *   dynamic loader and libc; a child must run the code that is installed.
 * - locale variables (`LANG`, `LC_*`, `LANGUAGE`): the output is parsed; a
 *   `de_DE` locale prints `0,5`. The children always get `LC_ALL=C`, `LANG=C`.
 *
 * What a child does get:
 * - `PATH`: the absolute directories of the inherited PATH, in order (so a
 *   directory the operator, or a test's stand-in, puts first still wins),
 *   then the system directories missing from it. cron's PATH is
 *   `/usr/bin:/bin`, while mtr and mtr-packet live in `/usr/sbin` on RHEL-like
 *   hosts and in `/usr/local/sbin` when built from source; mtr finds
 *   mtr-packet through the same PATH. Relative entries (`.`, an empty entry)
 *   are dropped: they name the current directory, and a root process must not
 *   run a program planted there.
 * - `LC_ALL=C`, `LANG=C`.
 * - Whatever the caller names explicitly (`set`), e.g. the `SSM_*` parameters
 *   of the local transport. There is no way to pass "the rest of the host's
 *   environment": a caller must list every variable.
 *
 * `HOME`, `TZ`, `TMPDIR`, `USER` are not passed: mtr reads none of them;
 * openvpn3's own code reads only the colour variables above, and `TZ` would
 * change only the timestamps it prints, which the agent does not parse (GLib
 * takes the home directory from the passwd entry when `HOME` is unset).
 */
import { InvalidInputError } from '../../common/errors.ts';

/** Searched after the inherited PATH: where Debian, RHEL and source builds install mtr and openvpn3. */
export const SYSTEM_PATH_DIRS: readonly string[] = [
  '/usr/local/sbin',
  '/usr/local/bin',
  '/usr/sbin',
  '/usr/bin',
  '/sbin',
  '/bin',
];

/** The locale of every child: its output is parsed, in the C locale's number and message format. */
export const CHILD_LOCALE: Readonly<Record<'LC_ALL' | 'LANG', string>> = { LC_ALL: 'C', LANG: 'C' };

/** A POSIX environment variable name, as execve consumers parse them. */
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The PATH of a child: the inherited absolute entries, de-duplicated, then the missing system directories. */
export function childSearchPath(inherited: string | undefined): string {
  const dirs: string[] = [];
  for (const entry of (inherited ?? '').split(':')) {
    if (entry.startsWith('/') && !dirs.includes(entry)) dirs.push(entry);
  }
  for (const dir of SYSTEM_PATH_DIRS) {
    if (!dirs.includes(dir)) dirs.push(dir);
  }
  return dirs.join(':');
}

/**
 * The complete environment of a child process.
 *
 * @param host the agent's own environment; only its PATH is read.
 * @param set variables the caller wants the child to have, by name; they win
 *   over the base (a caller may give its own PATH or locale). Throws
 *   InvalidInputError for a name that is not `[A-Za-z_][A-Za-z0-9_]*` or a
 *   value containing a NUL character.
 */
export function childEnvironment(
  host: Readonly<Record<string, string | undefined>>,
  set: Readonly<Record<string, string>> = {},
): Record<string, string> {
  const env: Record<string, string> = { PATH: childSearchPath(host.PATH), ...CHILD_LOCALE };
  for (const [name, value] of Object.entries(set)) {
    if (!NAME.test(name)) {
      throw new InvalidInputError('child environment variable name', name, 'letters, digits and _');
    }
    if (typeof value !== 'string' || value.includes('\0')) {
      throw new InvalidInputError(`child environment variable ${name}`, value, 'a string without NUL');
    }
    env[name] = value;
  }
  return env;
}
