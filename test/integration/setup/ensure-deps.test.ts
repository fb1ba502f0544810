/**
 * The README's two commands start with scripts/ensure-deps.sh (`npm start` in
 * mode run, `npm test` in mode test). On a machine that already has everything,
 * both modes must succeed without installing anything: a non-zero status here
 * is `npm start` or `npm test` failing before it starts.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ROOT } from '../../helpers/run-agent.ts';

const SCRIPT = join(ROOT, 'scripts', 'ensure-deps.sh');

describe('scripts/ensure-deps.sh on a machine that has everything', () => {
  for (const mode of ['run', 'test']) {
    it(`mode ${mode} exits 0 and installs nothing`, () => {
      // Prepare: `npm test` ran mode test before this file, so every tool and package is present.
      // Act
      const run = spawnSync('bash', [SCRIPT, mode], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
      // Assess
      assert.equal(run.status, 0, `ensure-deps.sh ${mode} exited ${run.status}: ${run.stderr}`);
      assert.doesNotMatch(`${run.stdout}${run.stderr}`, /installing|npm ci|added \d+ packages/i);
    });
  }
});
