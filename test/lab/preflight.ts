/**
 * Whether this machine can build a lab: root, `ip netns`, and the tools the lab
 * runs. Tests skip with the returned reason instead of failing on a laptop.
 */
import { spawnSync } from 'node:child_process';

const TOOLS: Array<[string, string[]]> = [
  ['openvpn', ['--version']],
  ['openssl', ['version']],
  ['mtr', ['--version']],
  ['ping', ['-V']],
  ['python3', ['--version']],
  ['iptables-restore', ['--version']],
  ['sysctl', ['--version']],
];

let cached: string | null | undefined;

/** A reason to skip lab tests, or null when the lab can run here. */
export function labSkipReason(): string | null {
  if (cached !== undefined) return cached;
  cached = findReason();
  return cached;
}

function findReason(): string | null {
  if (process.platform !== 'linux') return `the network lab needs Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0)
    return 'the network lab needs root (network namespaces, TUN devices, iptables)';
  const netns = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  if (netns.error !== undefined || netns.status !== 0) {
    return `\`ip netns\` is unavailable: ${netns.error?.message ?? netns.stderr.trim()}`;
  }
  for (const [tool, args] of TOOLS) {
    const probe = spawnSync(tool, args, { encoding: 'utf8' });
    if (probe.error !== undefined) return `${tool} is not installed (${probe.error.message})`;
  }
  return null;
}
