/**
 * Demo (root): builds the network lab, runs the agent on a clean path, injects
 * latency on the tunnel's underlay and loss at one resource, runs a round again,
 * prints the agent's table and the files it wrote, and tears the lab down.
 *
 *   npm run build && node --import tsx scripts/demo.ts
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createLab, type Lab } from '../test/lab/lab.ts';
import { labSkipReason } from '../test/lab/preflight.ts';

const AGENT = path.resolve(__dirname, '..', 'dist', 'agent.js');

function say(text: string): void {
  process.stdout.write(`${text}\n`);
}

async function round(lab: Lab, logDir: string, title: string): Promise<void> {
  say(`\n=== ${title} ===`);
  // biome-ignore format: one flag and its value per line
  const args = [
    AGENT, 'check',
    '--resources', lab.addr.resources.join(','),
    '--count', '10',
    '--interval', '0.2',
    '--latency-threshold', '75',
    '--hops', '1',
    '--log-dir', logDir,
    '--openvpn-management', lab.management,
    '--openvpn-log', lab.openvpnLogPath,
  ];
  say(`$ ${lab.command('host', 'node', args).join(' ')}`);
  const result = await lab.exec('host', process.execPath, args, { timeoutMs: 120_000 });
  process.stdout.write(result.stdout);
  if (result.stderr.trim() !== '') process.stdout.write(result.stderr);
  say(`(exit ${result.exitCode})`);
}

function showFiles(logDir: string): void {
  say(`\n=== files in ${logDir} ===`);
  for (const name of fs.readdirSync(logDir).sort()) {
    const file = path.join(logDir, name);
    if (!fs.statSync(file).isFile()) continue;
    say(`\n--- ${name} ---`);
    process.stdout.write(fs.readFileSync(file, 'utf8'));
  }
}

async function main(): Promise<number> {
  const skip = labSkipReason();
  if (skip !== null) {
    process.stderr.write(`demo cannot run: ${skip}\n`);
    return 3;
  }
  if (!fs.existsSync(AGENT)) {
    process.stderr.write(`demo needs ${AGENT}: run \`npm run build\` first\n`);
    return 3;
  }
  const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ccm-demo-'));
  say('building the lab: host --(underlay)-- under -- gw (OpenVPN server) -- r1 -- r2 -- res1..res3');
  const lab = await createLab({ resources: 3 });
  try {
    say(`gateway (OpenVPN server underlay address): ${lab.addr.gwUnderlay}`);
    say(`resources: ${lab.addr.resources.join(', ')}; agent runs in namespace ${lab.hostNamespace}`);
    await round(lab, logDir, 'round 1: clean path');
    say('\ninjecting 120 ms round trip on the underlay (under <-> gw) and 40 % loss at res3');
    await lab.setLatency('under-gw', 120);
    await lab.setLoss('res3', 40);
    await round(lab, logDir, 'round 2: trouble at the gateway hop, loss at res3');
    showFiles(logDir);
  } finally {
    await lab.destroy();
    fs.rmSync(logDir, { recursive: true, force: true });
    say('\nlab torn down');
  }
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
