/**
 * The esbuild options of the agent bundle, for every build of it (npm run
 * build, and benches that build a variant): one CommonJS file, Node built-ins
 * only, syntax lowered for Node 12.22 (stock nodejs on Ubuntu 22.04).
 * `full: false` is the fleet build, which the SSM document embeds: the agent
 * leaves out what no fleet host runs (agent/main.ts `__AGENT_FULL__`).
 */
import { resolve, sep } from 'node:path';
import type { BuildOptions, Plugin } from 'esbuild';

/**
 * Named, not left to esbuild to find: a module that a plugin resolves (as
 * ownModulesArePure does every relative import) is otherwise compiled without
 * it when the entry point is given relative to the project, as
 * scripts/build-agent.mjs gives it (esbuild 0.28), and without its `strict`
 * the CommonJS bundle lost "use strict": the agent ran as sloppy code (a write
 * to a frozen object silently dropped, not a TypeError) unlike its ES module
 * sources under tsx.
 */
const TSCONFIG = resolve(__dirname, '..', 'tsconfig.json');

/** The directories whose modules ownModulesArePure marks: ours, and none of a dependency's. */
const PURE_DIRS = ['agent', 'common'].map((dir) => resolve(__dirname, '..', dir) + sep);

/**
 * Marks the project's own modules (relative imports resolving into agent/ or
 * common/, never into node_modules) free of import-time side effects, as package.json `"sideEffects": false` would for a package, so a
 * module none of whose exports the bundle uses is left out whole, constants
 * and all. Without it the fleet build kept the module-level constants of the
 * report, install and --config modules it never calls (about 190 characters
 * of the SSM document). True of agent/ and common/: apart from agent/main.ts,
 * the entry, no module does anything at import but declare (a module-level
 * check that throws, such as an alphabet's length, guards its own exports).
 */
const ownModulesArePure: Plugin = {
  name: 'own-modules-are-pure',
  setup(build) {
    build.onResolve({ filter: /^\.\.?\// }, async (args) => {
      if (args.pluginData === 'own-modules-are-pure') return undefined;
      const resolved = await build.resolve(args.path, {
        kind: args.kind,
        importer: args.importer,
        resolveDir: args.resolveDir,
        pluginData: 'own-modules-are-pure',
      });
      if (resolved.errors.length > 0) return undefined;
      const ours =
        PURE_DIRS.some((dir) => resolved.path.startsWith(dir)) &&
        !resolved.path.includes(`${sep}node_modules${sep}`);
      // Anything else (a bundled dependency's own relative imports, test fixtures) keeps
      // esbuild's judgement: a polyfill or a registration imported for its effect stays.
      return ours ? { path: resolved.path, sideEffects: false } : undefined;
    });
  },
};

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
    tsconfig: TSCONFIG,
    plugins: [ownModulesArePure],
    logLevel: 'warning',
  };
}
