// Bundles the agent into dist/agent.js (options: scripts/agent-build-options.ts). The same
// without what no fleet host runs (install/uninstall, report, watch, --config, the table,
// the full --help) is dist/agent-fleet.js: what the SSM document embeds (its
// 64 KB holds the agent and the resource lists).
import { readFileSync, statSync } from 'node:fs';
import { build } from 'esbuild';
import { encodeAgent } from '../ssm/document.ts';
import { agentBuildOptions } from './agent-build-options.ts';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const builds = [
  { outfile: 'dist/agent.js', setup: true },
  { outfile: 'dist/agent-fleet.js', setup: false },
];
for (const { outfile, setup } of builds) {
  await build(agentBuildOptions({ entryPoint: 'agent/main.ts', outfile, version: pkg.version, full: setup }));
  const raw = statSync(outfile).size;
  const packed = encodeAgent(readFileSync(outfile)).packedBase90.length;
  if (process.env.BUILD_QUIET !== '1') {
    const embedded = setup ? '' : ' (embedded in the SSM document)';
    console.error(`built ${outfile}: ${raw} bytes raw, ${packed} bytes Brotli+base90${embedded}`);
  }
}
