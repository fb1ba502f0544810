/**
 * The collector validates every document a host prints against the result
 * schema and turns one that fails into a failure record. So the agent itself
 * must never print a document the schema rejects: the built bundle, on Node
 * 20 and on Node 12.22, is run through its kinds of rounds (clean, flagged
 * with MTR files, an unmeasured resource, mtr failing to run, invalid
 * input) and each document must read back exactly as printed. Stand-in mtr
 * executables give the paths loopback cannot; every address is loopback.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EXIT_CODES } from '../../../common/result-contract.ts';
import { assertCollectorAcceptsText } from '../../helpers/collector-accepts.ts';
import { AGENT, NODE12, ROOT, runAgent, standInBin, tempDir } from '../../helpers/run-agent.ts';

const FAST = ['--count', '3', '--interval', '0.2'];
const SLOW_DESTINATION = join(ROOT, 'test', 'fixtures', 'agent-cli', 'mtr095-standin-destination-250ms.json');

/** Prints a fixed mtr 0.95 report for 127.0.0.1 (the 250 ms destination). */
const STAND_IN_SLOW = `#!/bin/sh
if [ "$1" = "--version" ]; then echo "mtr 0.95"; exit 0; fi
cat "${SLOW_DESTINATION}"
`;
/** mtr that runs, exits 0 and prints no report: the resource is unmeasured (mtr-output). */
const STAND_IN_GARBAGE = `#!/bin/sh
if [ "$1" = "--version" ]; then echo "mtr 0.95"; exit 0; fi
echo "HOST: vm                            Loss%   Snt"
`;
/** mtr that cannot run at all: the round ends with a failure document. */
const STAND_IN_BROKEN = `#!/bin/sh
echo "mtr: error while loading shared libraries: libncursesw.so.6" >&2
exit 127
`;

const RUNTIMES: [string, string | undefined][] = [
  ['Node.js 20', undefined],
  ['Node.js 12.22', NODE12],
];

describe('every document the agent prints is one the collector accepts as printed', () => {
  let dir: ReturnType<typeof tempDir>;
  let runs = 0;
  before(() => {
    assert.ok(existsSync(AGENT), 'dist/agent.js must be built first (npm run build)');
    assert.ok(existsSync(NODE12), 'Node 12 runtime missing: npm ci --prefix test/node12');
    dir = tempDir('agent-accepts-');
  });
  after(() => dir.cleanup());

  function check(args: string[], node: string | undefined, standIn?: string) {
    runs++;
    const caseDir = join(dir.path, `case-${runs}`);
    const env =
      standIn === undefined ? {} : { PATH: `${standInBin(caseDir, { mtr: standIn })}:${process.env.PATH}` };
    return runAgent(['check', '--json', '--log-dir', join(caseDir, 'logs'), ...args], { node, env });
  }

  for (const [runtime, node] of RUNTIMES) {
    it(`${runtime}: a clean round to 127.0.0.1, ::1 and localhost with real mtr`, () => {
      const run = check(
        ['--resources', '127.0.0.1,::1,localhost', '--gateway-ip', '127.0.0.2', ...FAST],
        node,
      );
      assert.equal(run.status, 0, run.stderr);
      const doc = assertCollectorAcceptsText(run.stdout);
      assert.deepEqual(
        doc.resources.map((r) => r.verdict),
        ['ok', 'ok', 'ok'],
      );
      assert.equal(doc.gateway?.ip, '127.0.0.2');
    });

    it(`${runtime}: a flagged round (250 ms destination) with its seed line and MTR files`, () => {
      const run = check(
        ['--resources', '127.0.0.1', '--gateway-ip', '127.0.0.1', ...FAST],
        node,
        STAND_IN_SLOW,
      );
      assert.equal(run.status, 0, run.stderr);
      const doc = assertCollectorAcceptsText(run.stdout);
      assert.equal(doc.resources[0]?.latencyFlag, true);
      assert.equal(doc.seed?.LATENCY_FLAG, '1');
      assert.deepEqual(
        doc.files.map((f) => f.kind),
        ['report', 'mtr-resource', 'mtr-gateway', 'history'],
      );
    });

    it(`${runtime}: a resource mtr printed nothing readable for is unmeasured, and flagged`, () => {
      const run = check(
        ['--resources', '127.0.0.1', '--gateway-ip', '127.0.0.2', ...FAST],
        node,
        STAND_IN_GARBAGE,
      );
      assert.equal(run.status, 0, run.stderr);
      const doc = assertCollectorAcceptsText(run.stdout);
      assert.deepEqual(
        [doc.resources[0]?.verdict, doc.resources[0]?.unmeasured?.reason, doc.seed?.LOSS_FLAG],
        ['unmeasured', 'mtr-output', '1'],
      );
      assert.ok(doc.warnings.length > 0);
    });

    it(`${runtime}: mtr that cannot run ends the round with a failure document`, () => {
      const run = check(['--resources', '127.0.0.1', ...FAST], node, STAND_IN_BROKEN);
      const doc = assertCollectorAcceptsText(run.stdout);
      assert.equal(doc.outcome, 'environment');
      assert.equal(run.status, EXIT_CODES[doc.outcome]);
      assert.equal(doc.error?.code, 'E_MTR_FAILED');
      assert.equal(doc.seed, null);
    });
  }

  it('invalid input gives outcome invalid-input in an accepted document', () => {
    const run = check(['--resources', '10.0.0.1;reboot', ...FAST], undefined);
    assert.equal(run.status, 2, run.stderr);
    const doc = assertCollectorAcceptsText(run.stdout);
    assert.equal(doc.outcome, 'invalid-input');
    assert.equal(doc.error?.code, 'E_INVALID_INPUT');
  });

  it('the bundle carries no validation library: the schema is the collector’s, the agent keeps its constants', () => {
    const bundle = readFileSync(AGENT, 'utf8');
    assert.doesNotMatch(bundle, /valibot|Invalid type: Expected/);
  });
});
