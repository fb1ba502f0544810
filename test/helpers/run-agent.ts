/** Runs the built agent bundle the way a user or the SSM document does. */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(__dirname, '..', '..');
export const AGENT = join(ROOT, 'dist', 'agent.js');
export const NODE12 = join(ROOT, 'test', 'node12', 'node_modules', '.bin', 'node');

export interface AgentRun {
  status: number | null;
  stdout: string;
  stderr: string;
  durationMs: number;
}

export function runAgent(
  args: string[],
  options: { env?: Record<string, string | undefined>; node?: string; timeoutMs?: number; cwd?: string } = {},
): AgentRun {
  const started = Date.now();
  const result = spawnSync(options.node ?? process.execPath, [AGENT, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...options.env },
    timeout: options.timeoutMs ?? 120_000,
    cwd: options.cwd ?? ROOT,
  });
  return {
    status: result.status,
    stdout: result.stdout,
    stderr: result.stderr,
    durationMs: Date.now() - started,
  };
}

/**
 * runAgent blocks this process (spawnSync), so a server living here could not
 * answer a request; runs that need one use this instead.
 */
export function runAgentAsync(
  args: string[],
  options: { env?: Record<string, string>; node?: string; timeoutMs?: number; cwd?: string } = {},
): Promise<AgentRun> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(options.node ?? process.execPath, [AGENT, ...args], {
      env: { ...process.env, ...options.env },
      cwd: options.cwd ?? ROOT,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr, durationMs: Date.now() - started });
    });
  });
}

export function tempDir(prefix: string): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

/** A directory holding executable stand-ins (e.g. a fake `mtr`), to put first on PATH. */
export function standInBin(dir: string, files: Record<string, string>): string {
  const bin = join(dir, 'bin');
  if (!existsSync(bin)) mkdirSync(bin, { recursive: true });
  for (const [name, body] of Object.entries(files)) {
    const path = join(bin, name);
    writeFileSync(path, body);
    chmodSync(path, 0o755);
  }
  return bin;
}

/** A word for a stand-in's sh text: single-quoted, so a path is never shell syntax. */
export function shQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}
