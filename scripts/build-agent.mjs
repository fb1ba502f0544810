// Bundles the agent into dist/agent.js: one CommonJS file, Node built-ins only,
// syntax lowered for Node 12.22 (stock nodejs on Ubuntu 22.04).
import { readFileSync, statSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

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
const packed = Buffer.from(gzipSync(readFileSync(outfile), { level: 9 }).toString('base64')).length;
if (process.env.BUILD_QUIET !== '1') {
  console.error(`built ${outfile}: ${raw} bytes raw, ${packed} bytes gzip+base64`);
}
