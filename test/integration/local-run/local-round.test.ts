/**
 * `npm start`'s local round, run as a user runs it (a real process): the
 * Lambda's dispatch and collection code, the SSM document's script running the
 * built agent with real mtr against loopback, and the files standing in for
 * CloudWatch Logs and metrics.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FLEET_METRICS, LEGACY_FILTER_PATTERN, LEGACY_METRIC } from '../../../common/metric-names.ts';
import { SEED_KEYS } from '../../../common/result-schema.ts';
import { localInstanceId } from '../../../functions/local/local-inventory.ts';
import { filterPatternMatches } from '../../helpers/filter-pattern.ts';

const ROOT = resolve(__dirname, '..', '..', '..');
const AGENT = join(ROOT, 'dist', 'agent.js');
const LOG_GROUP = 'CloudConnexa-Monitor-Logs';
const ONLINE = localInstanceId(hostname(), 0);
const BLIND = localInstanceId(hostname(), 0, 'blind');
const INTERVAL = process.getuid?.() === 0 ? '0.2' : '1';

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

interface StreamLine {
  timestamp: number;
  message: string;
}

function localRound(args: string[], env: Record<string, string> = {}): Run {
  const result = spawnSync(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'scripts', 'local-round.ts'), ...args],
    {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, ...env },
      timeout: 120_000,
    },
  );
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function streamLines(out: string, instanceId: string): StreamLine[] {
  return readFileSync(join(out, LOG_GROUP, `${instanceId}.log`), 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as StreamLine);
}

function records(lines: StreamLine[], kind: string): Record<string, unknown>[] {
  return lines
    .filter((l) => l.message.startsWith('{"record":'))
    .map((l) => JSON.parse(l.message) as Record<string, unknown>)
    .filter((r) => r.record === kind);
}

function seedLines(lines: StreamLine[]): Record<string, unknown>[] {
  return lines
    .filter((l) => l.message.startsWith('{"HOSTNAME":'))
    .map((l) => JSON.parse(l.message) as Record<string, unknown>);
}

/**
 * Whether the deployed metric filter (LEGACY_FILTER_PATTERN, which the template test pins in
 * the packaged template) counts a log message, by CloudWatch Logs' JSON pattern semantics
 * (test/helpers/filter-pattern.ts).
 */
function legacyFilterMatches(message: string): boolean {
  return filterPatternMatches(LEGACY_FILTER_PATTERN, message);
}

interface Emf {
  _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[] };
  [key: string]: unknown;
}

function emfLines(out: string): Emf[] {
  return readFileSync(join(out, 'metrics.emf.jsonl'), 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Emf);
}

/** Sum of a fleet metric (dimensions [Stage]) over EMF lines, as CloudWatch's Sum statistic would give. */
function fleetSum(lines: Emf[], name: string): number | null {
  let sum: number | null = null;
  for (const line of lines) {
    const spec = line._aws.CloudWatchMetrics[0];
    if (spec === undefined || JSON.stringify(spec.Dimensions) !== '[["Stage"]]') continue;
    if (!spec.Metrics.some((m) => m.Name === name)) continue;
    const value = line[name];
    const values = Array.isArray(value) ? value : [value];
    sum = (sum ?? 0) + values.reduce((a: number, v) => a + Number(v), 0);
  }
  return sum;
}

function roundIdOf(run: Run): string {
  const match = /^Round (\S+) /m.exec(run.stdout);
  assert.ok(match?.[1], `the summary names the round:\n${run.stdout}`);
  return match[1];
}

/** An mtr that reports every target 250 ms away: a flagged round that needs no real slow path. */
const SLOW_MTR = `#!/bin/sh
if [ "$1" = "--version" ]; then echo "mtr 0.95"; exit 0; fi
for last in "$@"; do :; done
printf '{"report":{"mtr":{"src":"stand-in","dst":"%s","tos":0,"tests":2,"psize":"64","bitpattern":"0x00"},"hubs":[{"count":1,"host":"%s","Loss%%":0.0,"Snt":2,"Last":250.1,"Avg":250.0,"Best":249.9,"Wrst":250.1,"StDev":0.1}]}}\\n' "$last" "$last"
`;

describe('local round (npm start) against loopback', () => {
  let scratch: string;
  before(() => {
    scratch = mkdtempSync(join(tmpdir(), 'ccm-local-round-'));
    if (!existsSync(AGENT)) {
      const build = spawnSync(
        process.execPath,
        ['--import', 'tsx', join(ROOT, 'scripts', 'build-agent.mjs')],
        {
          cwd: ROOT,
          encoding: 'utf8',
        },
      );
      assert.equal(build.status, 0, build.stderr);
    }
  });
  after(() => rmSync(scratch, { recursive: true, force: true }));

  describe('two clean rounds into the same output dir', () => {
    let out: string;
    let first: Run;
    let second: Run;
    let afterFirst: string;
    before(() => {
      out = join(scratch, 'clean');
      // biome-ignore format: one flag and its value per line
      const args = [
        '--out', out,
        '--log-dir', join(scratch, 'clean-Connexa-Logs'),
        '--resources', '127.0.0.1,::1',
        '--count', '2',
        '--interval', INTERVAL,
        '--blind', '1',
      ];
      first = localRound(args);
      afterFirst = readFileSync(join(out, LOG_GROUP, `${ONLINE}.log`), 'utf8');
      second = localRound(args);
    });

    it('a round exits 0 and prints the host counts and the agent table', () => {
      assert.equal(first.status, 0, first.stderr);
      assert.match(
        first.stdout,
        /hosts: 1 dispatched, 1 checked, 0 flagged, 0 failed, 1 blind, 0 misconfigured/,
      );
      assert.match(first.stdout, new RegExp(`--- ${ONLINE}: checked ---`));
      assert.match(first.stdout, /TARGET +ADDRESS +METHOD +LATENCY +LOSS +VERDICT/);
      assert.match(first.stdout, /^127\.0\.0\.1 .* OK/m);
      assert.match(first.stdout, new RegExp(`log stream .*${LOG_GROUP}/${ONLINE}\\.log`));
      assert.match(first.stdout, /metrics \(EMF\) .*metrics\.emf\.jsonl/);
    });

    it('the seed line keeps the old keys in order with string flags the old metric filter reads', () => {
      const lines = streamLines(out, ONLINE);
      const seeds = lines.filter((l) => l.message.startsWith('{"HOSTNAME":'));
      assert.equal(seeds.length, 2, 'one seed line per round');
      for (const seed of seeds) {
        const parsed = JSON.parse(seed.message) as Record<string, unknown>;
        assert.deepEqual(Object.keys(parsed), [...SEED_KEYS]);
        assert.ok(parsed.LATENCY_FLAG === '0' || parsed.LATENCY_FLAG === '1');
        assert.ok(parsed.LOSS_FLAG === '0' || parsed.LOSS_FLAG === '1');
        assert.equal(
          legacyFilterMatches(seed.message),
          false,
          `a clean round does not count as ${LEGACY_METRIC}`,
        );
      }
    });

    it('each round writes its result document record once, after its seed line', () => {
      const lines = streamLines(out, ONLINE);
      const results = records(lines, 'result');
      assert.deepEqual(
        results.map((r) => r.roundId),
        [roundIdOf(first), roundIdOf(second)],
      );
      for (const result of results) {
        assert.equal(result.outcome, 'completed');
        assert.equal(result.recordId, `${String(result.commandId)}/${ONLINE}`);
        assert.equal(result.instanceId, ONLINE);
      }
      const kinds = lines.map((l) => (l.message.startsWith('{"HOSTNAME":') ? 'seed' : 'record'));
      assert.deepEqual(kinds, ['seed', 'record', 'seed', 'record']);
    });

    it('a second run appends its own records and leaves the first run bytes as they were', () => {
      assert.equal(second.status, 0, second.stderr);
      const now = readFileSync(join(out, LOG_GROUP, `${ONLINE}.log`), 'utf8');
      assert.ok(now.startsWith(afterFirst), 'the first run is a prefix of the stream');
      const ids = records(streamLines(out, ONLINE), 'result').map((r) => r.recordId);
      assert.equal(new Set(ids).size, ids.length, 'no recordId twice');
      assert.notEqual(roundIdOf(first), roundIdOf(second));
    });

    it('a blind instance gets a blind record in its own stream each round', () => {
      const blind = records(streamLines(out, BLIND), 'blind');
      assert.deepEqual(
        blind.map((r) => [r.roundId, r.status]),
        [
          [roundIdOf(first), 'Unreachable'],
          [roundIdOf(second), 'Unreachable'],
        ],
      );
    });

    it('the metrics file holds EMF with the fleet metrics of both rounds under the stage dimension', () => {
      const lines = emfLines(out);
      for (const line of lines) {
        assert.equal(line._aws.CloudWatchMetrics[0]?.Namespace, 'CloudConnexa');
        assert.equal(line.Stage, 'local');
      }
      assert.equal(fleetSum(lines, FLEET_METRICS.hostsChecked), 2);
      assert.equal(fleetSum(lines, FLEET_METRICS.hostsFlagged), 0);
      assert.equal(fleetSum(lines, FLEET_METRICS.hostsBlind), 2);
      assert.equal(fleetSum(lines, FLEET_METRICS.hostsMisconfigured), 0);
      assert.equal(fleetSum(lines, FLEET_METRICS.hostsFailed), null, 'no failure data point');
      const worst = fleetSum(lines, FLEET_METRICS.worstLatencyMs);
      assert.ok(worst !== null && worst > 0 && worst < 75, `loopback latency ${worst}`);
      const perHost = lines.filter((l) => l.InstanceId === ONLINE);
      assert.equal(perHost.length, 2, 'granularity host: one per-host line per round');
    });
  });

  it('a flagged round writes the MTR text report between the seed line and the result, and counts it', () => {
    // Loopback always answers ICMP within a fraction of a millisecond, so no
    // real loopback target is reliably slow: an mtr stand-in found first on
    // PATH (as the SSM document finds mtr) reports 250 ms for every target.
    const bin = join(scratch, 'slow-mtr-bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'mtr'), SLOW_MTR);
    chmodSync(join(bin, 'mtr'), 0o755);
    const out = join(scratch, 'flagged');
    const logDir = join(scratch, 'flagged-Connexa-Logs');

    // biome-ignore format: one flag and its value per line
    const run = localRound([
      '--out', out,
      '--log-dir', logDir,
      '--resources', '127.0.0.1',
      '--count', '2',
      '--interval', INTERVAL,
      '--latency-threshold', '75',
    ], { PATH: `${bin}${delimiter}${process.env.PATH ?? ''}` });

    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /hosts: 1 dispatched, 1 checked, 1 flagged, 0 failed, 0 blind/);
    assert.match(run.stdout, /^127\.0\.0\.1 .*250\.0 ms .*LATENCY/m);
    const lines = streamLines(out, ONLINE);
    assert.equal(lines.length, 3, lines.map((l) => l.message.slice(0, 60)).join('\n'));
    const [seedLine, mtrLine, resultLine] = lines.map((l) => l.message);
    assert.ok(seedLine !== undefined && mtrLine !== undefined && resultLine !== undefined);
    assert.equal(legacyFilterMatches(seedLine), true);
    const seed = seedLines(lines)[0];
    const mtrId = String(seed?.['MTR-ID_(YYYYMMDDHHMMSS)']);
    assert.match(mtrId, /^\d{14}$/);
    assert.match(
      mtrLine,
      new RegExp(
        `^RESOURCE MTR: ${mtrId} \\(Hop, Avg, Loss%\\)\n +1\\.\\|-- 127\\.0\\.0\\.1 +250\\.0 +0\\.0%\n$`,
      ),
    );
    const result = JSON.parse(resultLine) as {
      record: string;
      mtrId: string;
      files: { kind: string; path: string }[];
    };
    assert.equal(result.record, 'result');
    assert.equal(result.mtrId, mtrId);
    const mtrFile = result.files.find((f) => f.kind === 'mtr-resource');
    assert.ok(mtrFile !== undefined, 'the agent wrote an MTR-RESOURCE file');
    assert.equal(mtrLine, readFileSync(mtrFile.path, 'utf8'), 'the record is the text of the old MTR file');
    const emf = emfLines(out);
    assert.equal(fleetSum(emf, FLEET_METRICS.hostsFlagged), 1);
    assert.equal(fleetSum(emf, FLEET_METRICS.worstLatencyMs), 250);
  });
});
