/**
 * Runs the built agent on a host where no directory the agent searches for
 * its tools holds anything: a private mount namespace (root only) with an
 * empty tmpfs over each system directory of child-env.ts. The agent always
 * appends those directories to its children's PATH, so this is the only way
 * to show what it does when mtr is not installed at all.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, realpathSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { SYSTEM_PATH_DIRS } from '../../agent/process/child-env.ts';
import { AGENT, type AgentRun, ROOT, shQuote } from './run-agent.ts';

export const WITHOUT_SYSTEM_TOOLS_SKIP =
  process.getuid?.() === 0 ? false : 'hiding the system directories needs a mount namespace (root)';

/** The real path of a tool on this test process's own PATH. */
function onHostPath(name: string): string {
  for (const dir of [...(process.env.PATH ?? '').split(':'), ...SYSTEM_PATH_DIRS]) {
    const candidate = join(dir, name);
    if (dir.startsWith('/') && existsSync(candidate)) return realpathSync(candidate);
  }
  throw new Error(`${name} not found: it is needed to hide the system directories`);
}

/**
 * `scratch` must lie outside the system directories: node is bind-mounted
 * there before they are hidden. `env` is the agent's whole environment.
 */
export function runAgentWithoutSystemTools(
  args: string[],
  options: { scratch: string; env: Record<string, string>; timeoutMs?: number },
): AgentRun {
  // Absolute paths: the agent's PATH (options.env) may name none of these tools.
  const mountBinary = onHostPath('mount');
  const unshare = onHostPath('unshare');
  const sh = onHostPath('sh');
  const dirs = [...new Set(SYSTEM_PATH_DIRS.filter((d) => existsSync(d)).map((d) => realpathSync(d)))];
  // The directory holding `mount` is hidden last, or the later mounts could not run.
  dirs.sort((a, b) => Number(a === dirname(mountBinary)) - Number(b === dirname(mountBinary)));
  const node = join(options.scratch, 'node');
  writeFileSync(node, '');
  const script = [
    'set -e',
    `${shQuote(mountBinary)} --bind ${shQuote(process.execPath)} ${shQuote(node)}`,
    ...dirs.map((d) => `${shQuote(mountBinary)} -t tmpfs tmpfs ${shQuote(d)}`),
    `exec ${shQuote(node)} "$@"`,
  ].join('\n');
  const started = Date.now();
  const result = spawnSync(
    unshare,
    ['--mount', '--propagation', 'private', sh, '-c', script, 'sh', AGENT, ...args],
    {
      encoding: 'utf8',
      env: options.env,
      cwd: ROOT,
      timeout: options.timeoutMs ?? 120_000,
    },
  );
  return {
    status: result.status,
    stdout: result.stdout,
    stderr: result.stderr,
    durationMs: Date.now() - started,
  };
}
