/**
 * The agent's esbuild options (scripts/agent-build-options.ts) as every build
 * uses them: the bundle must mean what the sources mean under tsx, where each
 * module is an ES module and so strict code. The options mark our own modules
 * free of import-time side effects through a resolve plugin: only agent/ and
 * common/, whose modules only declare at import, never a module imported for
 * its effect. A module a plugin resolves is compiled without the project's
 * tsconfig.json unless the options name it, and without its `strict` the
 * CommonJS bundle loses "use strict" (sloppy code: a write to a frozen object
 * silently dropped instead of a TypeError).
 * Entry points are given relative to the project, as scripts/build-agent.mjs
 * gives them (with an absolute one esbuild found the tsconfig.json anyway).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { build } from 'esbuild';
import { agentBuildOptions } from '../../../scripts/agent-build-options.ts';

const ROOT = join(__dirname, '..', '..', '..');
const scratch = mkdtempSync(join(tmpdir(), 'ccm-agent-build-'));

describe("the agent bundle's build options", () => {
  after(() => rmSync(scratch, { recursive: true, force: true }));

  for (const full of [true, false]) {
    const label = full ? 'the full build' : 'the fleet build';

    it(`keep a module outside agent/ and common/ that is imported for its effect alone in ${label}`, async () => {
      // Prepare: only our own agent/ and common/ are known to do nothing at import; a
      // relative import elsewhere (a bundled dependency's own files) keeps its effects.
      const outfile = join(scratch, `side-effect-${full}.js`);
      // Act
      await build({
        ...agentBuildOptions({
          entryPoint: 'test/fixtures/agent-build/side-effect-entry.ts',
          outfile,
          version: '0.0.0-test',
          full,
        }),
        absWorkingDir: ROOT,
        logLevel: 'silent',
      });
      // Assess
      const run = spawnSync(process.execPath, [outfile], { encoding: 'utf8', timeout: 30_000 });
      assert.equal(run.status, 0, run.stderr);
      assert.equal(run.stdout, 'registers.ts');
    });

    it(`make ${label} of the agent a strict bundle, as its ES module sources are`, async () => {
      // Act
      const result = await build({
        ...agentBuildOptions({
          entryPoint: 'agent/main.ts',
          outfile: join(scratch, `agent-${full}.js`),
          version: '0.0.0-test',
          full,
        }),
        absWorkingDir: ROOT,
        write: false,
      });
      // Assess
      const text = result.outputFiles[0]?.text ?? '';
      assert.ok(text.startsWith('#!/usr/bin/env node\n"use strict";'), text.slice(0, 80));
    });
  }
});
