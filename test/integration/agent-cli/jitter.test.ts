/**
 * Jitter through the built bundle (issue 10): a stand-in `mtr` first on PATH
 * prints an mtr 0.95 report whose destination averages 25 ms (under the
 * latency threshold) with a mean jitter (Javg) of 20 ms, as a user's path
 * through a congested tunnel would. Run as a user runs it: `agent check
 * --jitter-threshold`, under the current Node and Node 12.22. Every address
 * is loopback.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { HISTORY_FILE } from '../../../agent/history/history-store.ts';
import { TUNNEL_STATE_FILE } from '../../../agent/tunnel/tunnel-memory.ts';
import { parseResultDocument, type ResultDocument } from '../../../common/result-schema.ts';
import { assertCollectorAcceptsText } from '../../helpers/collector-accepts.ts';
import { AGENT, NODE12, ROOT, runAgent, shQuote, standInBin, tempDir } from '../../helpers/run-agent.ts';

const JITTERY = join(ROOT, 'test', 'fixtures', 'agent-cli', 'mtr095-standin-jittery-destination.json');
const REPORT_FILE = 'LATENCY-LOSS-CONNEXA-REPORT.json';
const NODE12_SKIP = existsSync(NODE12) ? false : `Node 12 binary not installed at ${NODE12}`;

/** Prints the report for 127.0.0.1 only, and records the arguments it was given. */
function standIn(dir: string): { env: Record<string, string>; argsFile: string } {
  const argsFile = join(dir, 'mtr-args.txt');
  const bin = standInBin(dir, {
    mtr: `#!/bin/sh
if [ "$1" = "--version" ]; then echo "mtr 0.95"; exit 0; fi
printf '%s\\n' "$*" >> ${shQuote(argsFile)}
eval "last=\\\${$#}"
if [ "$last" != "127.0.0.1" ]; then echo "stand-in mtr: unexpected target $last" >&2; exit 1; fi
cat ${shQuote(JITTERY)}
`,
  });
  return { env: { PATH: `${bin}:${process.env.PATH ?? ''}` }, argsFile };
}

function check(dir: string, extra: string[], node?: string): { doc: ResultDocument; logDir: string } {
  const logDir = join(dir, 'logs');
  const { env, argsFile } = standIn(dir);
  const run = runAgent(
    [
      'check',
      '--json',
      '--resources',
      '127.0.0.1',
      '--gateway-ip',
      '127.0.0.1',
      '--log-dir',
      logDir,
      '--count',
      '3',
      '--interval',
      '0.2',
      ...extra,
    ],
    { env, node },
  );
  assert.equal(run.status, 0, run.stderr);
  assertCollectorAcceptsText(run.stdout);
  // mtr was asked for its mean jitter on both paths (resource and gateway).
  const calls = readFileSync(argsFile, 'utf8').trim().split('\n');
  assert.deepEqual(calls, ['-n --json -o LSNABWVM -4 -c 3 -i 0.2 -G 2 -- 127.0.0.1', calls[0]]);
  return { doc: parseResultDocument(run.stdout), logDir };
}

function seedLine(logDir: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(logDir, REPORT_FILE), 'utf8').trim()) as Record<string, unknown>;
}

function assertJitterFlagged(doc: ResultDocument, logDir: string): void {
  const [resource] = doc.resources;
  assert.equal(resource?.jitterMs, 20);
  assert.equal(resource?.hops?.[0]?.jitterMs, 20);
  assert.equal(resource?.verdict, 'jitter');
  assert.equal(resource?.latencyFlag, false, 'its average, 25 ms, is under 75 ms');
  assert.deepEqual(resource?.trouble, { kind: 'jitter', hop: 1, host: '127.0.0.1', side: 'resource' });
  assert.equal(doc.settings?.jitterThresholdMs, 10);
  assert.deepEqual([doc.summary.flagged, doc.summary.jitterFlag, doc.summary.worstJitterMs], [1, true, 20]);
  // The old script's line: same keys, LATENCY_FLAG "1" so the old metric filter fires.
  const seed = seedLine(logDir);
  assert.deepEqual(seed, doc.seed);
  assert.deepEqual(
    [seed.LATENCY_FLAG, seed['LATENCY_(ms)'], seed.LOSS_FLAG, seed['MTR-ID_(YYYYMMDDHHMMSS)']],
    ['1', '25.0', '0', doc.mtrId],
  );
  assert.match(doc.mtrId, /^\d{14}$/);
  // Its evidence in the old layout: hop lines with Avg and Loss% only.
  assert.equal(
    readFileSync(join(logDir, `MTR-RESOURCE-${doc.mtrId}.txt`), 'utf8'),
    `RESOURCE MTR: ${doc.mtrId} (Hop, Avg, Loss%)\n  1.|-- 127.0.0.1${' '.repeat(16)}  25.0  0.0%\n`,
  );
}

describe('agent bundle: jitter', () => {
  let dir: ReturnType<typeof tempDir>;
  before(() => {
    assert.ok(existsSync(AGENT), 'dist/agent.js must be built first (npm run build)');
    dir = tempDir('agent-jitter-');
  });
  after(() => dir.cleanup());

  it('reports jitter per resource and per hop, and flags nothing without --jitter-threshold', () => {
    const { doc, logDir } = check(join(dir.path, 'off'), []);
    const [resource] = doc.resources;
    assert.equal(resource?.jitterMs, 20);
    assert.equal(resource?.verdict, 'ok');
    assert.equal(doc.settings?.jitterThresholdMs, 0);
    assert.equal(doc.summary.worstJitterMs, 20);
    assert.equal(seedLine(logDir).LATENCY_FLAG, '0');
    // The old script's report (nothing flagged: no MTR file), beside the agent's own tunnel state and round history.
    assert.deepEqual(readdirSync(logDir).sort(), [TUNNEL_STATE_FILE, REPORT_FILE, HISTORY_FILE].sort());
  });

  it('flags a destination whose jitter is above --jitter-threshold, with the old files', () => {
    const { doc, logDir } = check(join(dir.path, 'on'), ['--jitter-threshold', '10']);
    assertJitterFlagged(doc, logDir);
  });

  it('does not flag jitter under the threshold', () => {
    const { doc } = check(join(dir.path, 'under'), ['--jitter-threshold', '20']);
    assert.equal(doc.resources[0]?.verdict, 'ok', '20 ms is not above 20 ms');
  });

  it('flags it under Node 12.22 too', { skip: NODE12_SKIP }, () => {
    const { doc, logDir } = check(join(dir.path, 'node12'), ['--jitter-threshold', '10'], NODE12);
    assertJitterFlagged(doc, logDir);
  });

  it('lists --jitter-threshold in --help, and refuses a bad value with exit 2 naming it', () => {
    const help = runAgent(['--help']);
    assert.match(help.stdout, /--jitter-threshold <ms> +flag mean jitter/);
    const bad = runAgent(['check', '--json', '--resources', '127.0.0.1', '--jitter-threshold', '5ms']);
    assert.equal(bad.status, 2);
    assert.match(
      parseResultDocument(bad.stdout).error?.message ?? '',
      /--jitter-threshold "5ms" is not allowed/,
    );
  });
});
