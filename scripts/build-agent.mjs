// Bundles the agent into dist/agent.js: one CommonJS file, Node built-ins only,
// syntax lowered for Node 12.22 (stock nodejs on Ubuntu 22.04).
import { readFileSync, statSync } from 'node:fs';
import { build } from 'esbuild';
import { encodeAgent } from '../ssm/document.ts';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const outfile = 'dist/agent.js';
await build({
  entryPoints: ['agent/main.ts'],
  outfile,
  bundle: true,
  platform: 'node',
  target: 'node12.22',
  format: 'cjs',
  minify: true,
  legalComments: 'none',
  banner: { js: '#!/usr/bin/env node' },
  define: { __AGENT_VERSION__: JSON.stringify(pkg.version) },
  logLevel: 'warning',
});
const raw = statSync(outfile).size;
// What the SSM document embeds (its 64 KB holds this and the resource lists).
const packed = encodeAgent(readFileSync(outfile)).packedBase64.length;
if (process.env.BUILD_QUIET !== '1') {
  console.error(`built ${outfile}: ${raw} bytes raw, ${packed} bytes Brotli+base64 in the SSM document`);
}
