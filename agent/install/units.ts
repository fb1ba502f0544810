/**
 * The systemd units `install` writes (pure: text in, text out). A timer runs
 * a oneshot service every N minutes, and the service runs the same `check`
 * as `watch` with the settings of one config file:
 *
 *   cloudconnexa-monitor.timer    OnCalendar every N minutes, Persistent, a fixed per-host random offset
 *   cloudconnexa-monitor.service  Type=oneshot: `<node> <lib-dir>/agent.js check --config <file>`, sandboxed
 *
 * Why each directive of the service (man systemd.exec, systemd.resource-control;
 * systemd 235 or later, see MIN_SYSTEMD_VERSION):
 * - It runs as root, as the fleet does: `openvpn3 sessions-list` and
 *   `openvpn3-admin journal` show a root-started tunnel only to root, the
 *   old script's files in the log dir are root's, and an --interval below
 *   1 s needs root. Root is then cut down to what a round uses:
 * - CapabilityBoundingSet: CAP_NET_RAW (mtr-packet's raw ICMP sockets),
 *   CAP_SETUID + CAP_SETGID (agent/files/act-as.ts: file work in a log dir a
 *   user controls runs as that user), CAP_DAC_READ_SEARCH (reaching the log
 *   dir through a home directory of mode 0750, reading an OpenVPN log).
 *   No CAP_DAC_OVERRIDE: where root itself writes (a root-owned log dir, the
 *   lock dir) it is the owner. No AmbientCapabilities: they serve non-root users.
 * - NoNewPrivileges: a root process keeps the capabilities of its bounding
 *   set across execve, so mtr-packet's file capability is not needed.
 * - ProtectSystem=strict + ReadWritePaths=<log dir>: everything else is read
 *   only. The log dir must exist when the service starts (install creates it,
 *   with the agent's own rules). ProtectHome=read-only, not yes: the default
 *   log dir is /home/ubuntu/Connexa-Logs, and ReadWritePaths reopens it.
 * - RuntimeDirectory=cloudconnexa-monitor, mode 0700, Preserve=yes: a root
 *   agent keeps its round lock in /run/cloudconnexa-monitor (agent/files/lock.ts,
 *   which accepts only a root-owned directory no one else can write: 0700 is
 *   that). Preserved, because removing it when the service stops would delete
 *   the lock of a round run meanwhile by SSM or by hand.
 * - PrivateTmp, PrivateDevices, PrivateMounts, ProtectKernel{Tunables,Modules,Logs},
 *   ProtectControlGroups, ProtectClock, ProtectHostname, RestrictNamespaces,
 *   RestrictRealtime, RestrictSUIDSGID, LockPersonality: a round uses none of it.
 * - RestrictAddressFamilies: AF_INET/AF_INET6 (probes), AF_UNIX (D-Bus for
 *   openvpn3, the management socket, nss), AF_NETLINK (getaddrinfo's
 *   AI_ADDRCONFIG, network interfaces).
 * - SystemCallFilter=@system-service with EPERM (not a kill): includes @setuid
 *   (act-as) and capset (mtr-packet drops its capabilities).
 *   Not MemoryDenyWriteExecute: V8's JIT needs writable executable memory.
 * - TimeoutStartSec: the configured round's worst case (common/round-budget.ts)
 *   plus a margin: a oneshot service has no timeout otherwise.
 * - MemoryMax=1G: 50 resources measured at about 570 MB resident over all
 *   processes (node, 51 mtr + mtr-packet pairs).
 */
import { roundWorstCaseMs } from '../../common/round-budget.ts';
import type { CheckOptions } from '../cli/resolve-options.ts';

export const UNIT_NAME = 'cloudconnexa-monitor';
export const SERVICE_FILE = `${UNIT_NAME}.service`;
export const TIMER_FILE = `${UNIT_NAME}.timer`;
export const DEFAULT_UNIT_DIR = '/etc/systemd/system';
export const DEFAULT_LIB_DIR = '/usr/local/lib/cloudconnexa-monitor';
export const AGENT_FILE = 'agent.js';
/** RuntimeDirectoryPreserve (235); older hosts run `watch` or cron instead. */
export const MIN_SYSTEMD_VERSION = 235;
/** The first line of every unit install writes; uninstall removes only files that start with it. */
export const UNIT_MARKER = '# Written by cloudconnexa-monitor install';

/**
 * Whether `text` is the agent bundle install copies to <lib-dir>/agent.js, so
 * that install may replace it and uninstall remove it: a script (the bundle
 * starts with esbuild's `#!` banner, scripts/agent-build-options.ts) holding
 * UNIT_MARKER, which only a build with the install code carries. The same
 * rule as the units: a file without the marker is someone else's.
 */
export function isAgentBundle(text: string): boolean {
  return text.startsWith('#!') && text.includes(UNIT_MARKER);
}
/**
 * Whole minutes that divide an hour and whole hours that divide a day: the
 * periods a calendar timer keeps exactly, as cron's `*\/N` does.
 */
export const TIMER_PERIODS_MIN: readonly number[] = [
  1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60, 120, 180, 240, 360, 480, 720, 1440,
];
const START_TIMEOUT_MARGIN_SEC = 60;
/** The random offset is at most a fifth of the period, and at most 5 minutes. */
const MAX_RANDOM_DELAY_SEC = 300;

export interface UnitSpec {
  /** Absolute paths. */
  node: string;
  agent: string;
  config: string;
  everyMinutes: number;
  check: Pick<CheckOptions, 'logDir' | 'settings' | 'resources'>;
}

/** `*-*-* *:00/5:00` for 5, `*-*-* 00/2:00:00` for 120 (a repetition of 24 hours is refused: daily is 00:00). */
export function onCalendar(everyMinutes: number): string {
  if (everyMinutes < 60) return `*-*-* *:00/${everyMinutes}:00`;
  return everyMinutes === 1440 ? '*-*-* 00:00:00' : `*-*-* 00/${everyMinutes / 60}:00:00`;
}

export function randomizedDelaySec(everyMinutes: number): number {
  return Math.min(everyMinutes * 12, MAX_RANDOM_DELAY_SEC);
}

export function startTimeoutSec(check: UnitSpec['check']): number {
  const worstMs = roundWorstCaseMs(check.settings, check.resources.length + 1);
  return Math.ceil(worstMs / 1000) + START_TIMEOUT_MARGIN_SEC;
}

/**
 * One word of a unit setting, double-quoted: `\` and `"` escaped, `%` (specifiers)
 * doubled, and in command lines `$` (variable expansion) doubled. Control
 * characters are refused by the caller: a newline would start a new directive.
 */
export function unitWord(value: string, commandLine = false): string {
  let quoted = value.replace(/[\\"]/g, '\\$&').replace(/%/g, '%%');
  if (commandLine) quoted = quoted.replace(/\$/g, '$$$$');
  return `"${quoted}"`;
}

export function serviceUnit(spec: UnitSpec): string {
  const exec = [spec.node, spec.agent].map((w) => unitWord(w, true)).join(' ');
  return `${UNIT_MARKER} (${JSON.stringify({ config: spec.config, logDir: spec.check.logDir })}).
# Run install again after editing the config; customise with systemctl edit.
[Unit]
Description=CloudConnexa resource monitor round
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
ExecStart=${exec} check --config ${unitWord(spec.config, true)}
TimeoutStartSec=${startTimeoutSec(spec.check)}
MemoryMax=1G
UMask=0022
ReadWritePaths=${unitWord(spec.check.logDir)}
RuntimeDirectory=${UNIT_NAME}
RuntimeDirectoryMode=0700
RuntimeDirectoryPreserve=yes
CapabilityBoundingSet=CAP_NET_RAW CAP_SETUID CAP_SETGID CAP_DAC_READ_SEARCH
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=read-only
PrivateTmp=yes
PrivateDevices=yes
PrivateMounts=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX AF_NETLINK
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallErrorNumber=EPERM
`;
}

export function timerUnit(spec: Pick<UnitSpec, 'everyMinutes'>): string {
  return `${UNIT_MARKER}.
[Unit]
Description=CloudConnexa resource monitor every ${spec.everyMinutes} min

[Timer]
OnCalendar=${onCalendar(spec.everyMinutes)}
RandomizedDelaySec=${randomizedDelaySec(spec.everyMinutes)}
FixedRandomDelay=yes
AccuracySec=1s
Persistent=yes

[Install]
WantedBy=timers.target
`;
}
