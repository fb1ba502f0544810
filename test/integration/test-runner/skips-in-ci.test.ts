/**
 * `scripts/run-tests.mjs` fails a CI run in which a required test skipped: a
 * lab, root, OpenVPN, openssl, real-mtr or Node 12.22 test that skips has not
 * shown what it promises. Run on tiny test files in test/fixtures/test-runner/.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ROOT } from '../../helpers/run-agent.ts';

const RUNNER = join(ROOT, 'scripts', 'run-tests.mjs');
const FIXTURES = join(ROOT, 'test', 'fixtures', 'test-runner');

function runTests(
  fixtures: string[],
  ci: string | null,
  flags: string[] = [],
): { status: number | null; output: string } {
  const env: Record<string, string | undefined> = { ...process.env, CI: ci ?? undefined };
  // This file runs under node --test, which tells its children to report to it; the runner's own
  // `node --test` must report to the runner instead.
  delete env.NODE_TEST_CONTEXT;
  if (ci === null) delete env.CI;
  const result = spawnSync(
    process.execPath,
    [RUNNER, ...flags, ...fixtures.map((name) => join(FIXTURES, `${name}.fixture.ts`))],
    { cwd: ROOT, encoding: 'utf8', env, timeout: 120_000 },
  );
  return { status: result.status, output: `${result.stdout}\n${result.stderr}` };
}

describe('skipped tests in CI (scripts/run-tests.mjs)', () => {
  it('fails the run when a suite skips in CI, naming the file, the suite and the reason', () => {
    const run = runTests(['required-skip'], 'true');

    assert.equal(run.status, 1, run.output);
    assert.match(
      run.output,
      /1 required test\(s\) skipped or todo; these fail the run in CI/,
      'the failure says why',
    );
    assert.match(
      run.output,
      /skip test\/fixtures\/test-runner\/required-skip\.fixture\.ts: needs the network lab \(the network lab needs root\)/,
    );
  });

  it('fails the run when a test calls t.skip() in CI, with any truthy CI value', () => {
    const run = runTests(['required-t-skip'], '1');

    assert.equal(run.status, 1, run.output);
    assert.match(run.output, /checks the Node 12\.22 bundle \(Node 12 binary not installed\)/);
  });

  it('fails the run on a todo test in CI', () => {
    const run = runTests(['todo'], 'true');

    assert.equal(run.status, 1, run.output);
    assert.match(run.output, /todo .*todo\.fixture\.ts: rotates the report \(not written yet\)/);
  });

  it('passes in CI when the only skip is marked optional, and lists it', () => {
    const run = runTests(['optional-skip', 'passing'], 'true');

    assert.equal(run.status, 0, run.output);
    assert.match(
      run.output,
      /1 optional test\(s\) skipped:\n.*probes ::1 \(optional: this machine has no IPv6/,
    );
    assert.doesNotMatch(run.output, /required test\(s\)/);
  });

  it('passes outside CI with a required skip, but warns that CI would fail', () => {
    const run = runTests(['required-skip'], null);

    assert.equal(run.status, 0, run.output);
    assert.match(run.output, /1 required test\(s\) skipped or todo; these would fail the run in CI/);
  });

  it('treats CI=false as outside CI', () => {
    const run = runTests(['required-t-skip'], 'false');

    assert.equal(run.status, 0, run.output);
  });

  it('does not count tests left out by --test-name-pattern as skipped', () => {
    const run = runTests(['required-t-skip', 'passing'], 'true', ['--test-name-pattern=^runs$']);

    assert.equal(run.status, 0, run.output);
    assert.doesNotMatch(run.output, /skipped or todo/);
  });

  it('passes in CI when nothing skips, and still fails on a failing test outside CI', () => {
    const clean = runTests(['passing'], 'true');
    const failing = runTests(['failing', 'passing'], null);

    assert.equal(clean.status, 0, clean.output);
    assert.doesNotMatch(clean.output, /skipped or todo/);
    assert.equal(failing.status, 1, failing.output);
  });
});
