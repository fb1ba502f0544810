/**
 * The esbuild options of the agent bundle, for every build of it (npm run
 * build, and benches that build a variant): one CommonJS file, Node built-ins
 * only, syntax lowered for Node 12.22 (stock nodejs on Ubuntu 22.04).
 * `full: false` is the fleet build, which the SSM document embeds: the agent
 * leaves out what no fleet host runs (agent/main.ts `__AGENT_FULL__`).
 */
import type { BuildOptions } from 'esbuild';

export function agentBuildOptions(o: {
  entryPoint: string;
  outfile: string;
  version: string;
  full: boolean;
}): BuildOptions {
  return {
    entryPoints: [o.entryPoint],
    outfile: o.outfile,
    bundle: true,
    platform: 'node',
    target: 'node12.22',
    format: 'cjs',
    minify: true,
    legalComments: 'none',
    banner: { js: '#!/usr/bin/env node' },
    define: { __AGENT_VERSION__: JSON.stringify(o.version), __AGENT_FULL__: String(o.full) },
    logLevel: 'warning',
  };
}
