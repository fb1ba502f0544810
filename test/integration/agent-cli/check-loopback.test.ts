/**
 * The built bundle, run as a user runs it, with real mtr against loopback.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { HISTORY_FILE } from '../../../agent/history/history-store.ts';
import { TUNNEL_STATE_FILE } from '../../../agent/tunnel/tunnel-memory.ts';
import { parseResultDocument, RESULT_MAX_CHARS, SEED_KEYS } from '../../../common/result-schema.ts';
import { halfwayMs } from '../../helpers/deadline.ts';
import { AGENT, NODE12, runAgent, tempDir } from '../../helpers/run-agent.ts';

const FAST = ['--count', '3', '--interval', '0.2'];

describe('agent check against loopback with real mtr', () => {
  let dir: ReturnType<typeof tempDir>;
  before(() => {
    assert.ok(existsSync(AGENT), 'dist/agent.js must be built first (npm run build)');
    dir = tempDir('agent-cli-');
  });
  after(() => dir.cleanup());

  it('a clean round prints one versioned JSON document, appends one seed line and writes no MTR file', () => {
    const logDir = join(dir.path, 'clean');
    const run = runAgent([
      'check',
      '--json',
      '--resources',
      '127.0.0.1',
      '--log-dir',
      logDir,
      '--gateway-ip',
      '127.0.0.2',
      ...FAST,
    ]);

    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout.trim().split('\n').length, 1, 'stdout is exactly one line of JSON');
    const doc = parseResultDocument(run.stdout);
    assert.equal(doc.outcome, 'completed');
    assert.equal(doc.resources.length, 1);
    const [resource] = doc.resources;
    assert.equal(resource?.method, 'icmp');
    assert.equal(resource?.verdict, 'ok');
    assert.equal(resource?.lossPct, 0);
    // The latency is the destination's average in mtr's report, in ms (how close that is to the truth
    // is the benchmark's business); a figure in seconds would fall below the microsecond.
    assert.equal(resource?.latencyMs, resource?.hops?.at(-1)?.avgMs);
    assert.ok((resource?.latencyMs ?? 0) >= 0.001, `latency ${resource?.latencyMs} ms`);
    assert.equal(doc.mtrId, '0');
    assert.equal(doc.gateway?.ip, '127.0.0.2');
    assert.equal(doc.gateway?.source, 'option');
    assert.deepEqual(
      readdirSync(logDir).sort(),
      [TUNNEL_STATE_FILE, 'LATENCY-LOSS-CONNEXA-REPORT.json', HISTORY_FILE].sort(),
    );
    const line = JSON.parse(readFileSync(join(logDir, 'LATENCY-LOSS-CONNEXA-REPORT.json'), 'utf8'));
    assert.deepEqual(Object.keys(line), [...SEED_KEYS]);
    assert.equal(line.LATENCY_FLAG, '0');
    assert.equal(line.LOSS_FLAG, '0');
    assert.equal(line['MTR-ID_(YYYYMMDDHHMMSS)'], '0');
    assert.deepEqual(line['RESOURCE(S)'], ['127.0.0.1']);
    assert.deepEqual(line, doc.seed);
  });

  it('a latency threshold at loopback level flags exactly the paths above it, and MTR files in the old layout go with the flags', () => {
    const logDir = join(dir.path, 'flagged');
    const run = runAgent([
      'check',
      '--json',
      '--resources',
      '127.0.0.1,localhost',
      '--latency-threshold',
      '0.1',
      '--log-dir',
      logDir,
      '--gateway-ip',
      '127.0.0.3',
      '--count',
      '3',
      '--interval',
      '0.2',
    ]);
    assert.equal(run.status, 0, run.stderr);
    const doc = parseResultDocument(run.stdout);
    // Loopback averages a few hundredths of a millisecond, so a 0.1 ms threshold trips on some rounds
    // only: each outcome is checked in full (the flagged layout with fixed figures is in
    // stand-in-paths.test.ts, whose stand-in mtr reports 250 ms).
    for (const r of doc.resources) {
      assert.equal(r.latencyFlag, (r.latencyMs ?? 0) > 0.1, `${r.target}: ${r.latencyMs} ms against 0.1 ms`);
    }
    const flagged = doc.resources.filter((r) => r.latencyFlag);
    if (flagged.length === 0) {
      assert.equal(doc.mtrId, '0');
      assert.deepEqual(
        doc.files.map((f) => f.kind),
        ['report', 'history'],
      );
      assert.deepEqual(
        readdirSync(logDir).sort(),
        [TUNNEL_STATE_FILE, 'LATENCY-LOSS-CONNEXA-REPORT.json', HISTORY_FILE].sort(),
      );
      return;
    }
    assert.match(doc.mtrId, /^\d{14}$/);
    const resourceFile = join(logDir, `MTR-RESOURCE-${doc.mtrId}.txt`);
    const gatewayFile = join(logDir, `MTR-GATEWAY-${doc.mtrId}.txt`);
    const text = readFileSync(resourceFile, 'utf8');
    if (flagged.length === 1) {
      assert.match(
        text,
        new RegExp(`^RESOURCE MTR: ${doc.mtrId} \\(Hop, Avg, Loss%\\)\\n  1\\.\\|-- 127\\.0\\.0\\.1 `),
      );
    } else {
      assert.match(text, new RegExp(`^RESOURCE MTR: ${doc.mtrId} 127\\.0\\.0\\.1 \\(Hop, Avg, Loss%\\)\\n`));
      assert.match(text, new RegExp(`\\n\\nRESOURCE MTR: ${doc.mtrId} localhost \\(Hop, Avg, Loss%\\)\\n`));
    }
    assert.doesNotMatch(text, /^Start:|HOST:/m);
    assert.match(
      readFileSync(gatewayFile, 'utf8'),
      new RegExp(`^GATEWAY MTR: ${doc.mtrId} \\(Hop, Avg, Loss%\\)\\n`),
    );
    assert.deepEqual(
      doc.files.map((f) => f.kind),
      ['report', 'mtr-resource', 'mtr-gateway', 'history'],
    );
  });

  it('a zero loss threshold does not flag a path without loss (IPv6 loopback)', () => {
    const logDir = join(dir.path, 'zero-threshold');
    const run = runAgent([
      'check',
      '--json',
      '--resources',
      '::1',
      '--loss-threshold',
      '0',
      '--log-dir',
      logDir,
      ...FAST,
    ]);
    assert.equal(run.status, 0, run.stderr);
    const doc = parseResultDocument(run.stdout);
    assert.equal(doc.resources[0]?.lossFlag, false);
    assert.equal(doc.resources[0]?.address, '::1');
  });

  it('ten loopback resources are probed concurrently: the round takes about one mtr run, not ten', () => {
    const logDir = join(dir.path, 'ten');
    const targets = Array.from({ length: 10 }, (_, i) => `127.0.0.${i + 1}`).join(',');
    const run = runAgent([
      'check',
      '--json',
      '--resources',
      targets,
      '--log-dir',
      logDir,
      '--gateway-ip',
      '127.0.1.1',
      ...FAST,
    ]);
    assert.equal(run.status, 0, run.stderr);
    const doc = parseResultDocument(run.stdout);
    assert.equal(doc.resources.length, 10);
    assert.ok(doc.resources.every((r) => r.verdict === 'ok'));
    // Concurrent probes take about as long as the longest path; probes in turn, their sum. Both come
    // from this round, so the machine's load weighs on both.
    const durations = doc.resources.map((r) => r.durationMs);
    const longest = Math.max(...durations);
    const sum = durations.reduce((a, b) => a + b, 0);
    assert.ok(
      doc.timings.probesMs < halfwayMs(longest, sum),
      `probes took ${doc.timings.probesMs} ms for paths of ${durations.join(', ')} ms`,
    );
    assert.ok(run.stdout.length < RESULT_MAX_CHARS);
  });

  it('without --json prints a table naming each target and its verdict', () => {
    const run = runAgent([
      'check',
      '--resources',
      '127.0.0.1',
      '--log-dir',
      join(dir.path, 'table'),
      ...FAST,
    ]);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /^TARGET\s+ADDRESS\s+METHOD\s+LATENCY\s+LOSS\s+VERDICT\s+TROUBLE STARTS AT$/m);
    assert.match(run.stdout, /^127\.0\.0\.1\s+icmp\s+\d+\.\d+ ms\s+0\.0 %\s+OK\s+-$/m);
    assert.match(run.stdout, /^wrote .*LATENCY-LOSS-CONNEXA-REPORT\.json$/m);
  });

  it('runs on Node.js 12.22, the stock nodejs of Ubuntu 22.04', () => {
    assert.ok(existsSync(NODE12), 'Node 12 runtime missing: npm ci --prefix test/node12');
    const logDir = join(dir.path, 'node12');
    const run = runAgent(['check', '--json', '--resources', '127.0.0.1,::1', '--log-dir', logDir, ...FAST], {
      node: NODE12,
    });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stderr, '');
    const doc = parseResultDocument(run.stdout);
    assert.deepEqual(
      doc.resources.map((r) => r.verdict),
      ['ok', 'ok'],
    );
    assert.ok(statSync(join(logDir, 'LATENCY-LOSS-CONNEXA-REPORT.json')).size > 0);
  });
});
