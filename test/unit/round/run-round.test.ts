/**
 * runRound end to end with every edge swapped (RoundDeps): DNS, mtr, the
 * TCP/HTTP probes and gateway discovery are fakes; the log dir, the lock and
 * the files are real, in a temporary directory. Each round is asserted on its
 * summary (which feeds HostsFlagged, WorstLatencyMs and WorstLossPct and their
 * alarms), its seed line (which feeds the old metric filter) and its files.
 */
import assert from 'node:assert/strict';
import {
  appendFileSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { CheckOptions } from '../../../agent/cli/resolve-options.ts';
import {
  decodeRound,
  HISTORY_FILE,
  type HistoryRound,
  newPathMemory,
  type PathMemory,
  RECENT_ROUNDS,
} from '../../../agent/history/history-store.ts';
import type { MtrRunOptions } from '../../../agent/probes/run-mtr.ts';
import type { ProbeSamples } from '../../../agent/probes/tcp-probe.ts';
import { fitResult, serializeResult } from '../../../agent/round/fit-result.ts';
import type { ProgressEvent, RoundDeps } from '../../../agent/round/round-deps.ts';
import { REPORT_FILE, runRound } from '../../../agent/round/run-round.ts';
import { MonitorError, ProcessError } from '../../../common/errors.ts';
import { RESULT_LIMITS, RESULT_MAX_CHARS } from '../../../common/result-contract.ts';
import type { ResultDocument, RoundSettings } from '../../../common/result-schema.ts';
import { parseResourceList } from '../../../common/settings.ts';
import { assertCollectorAccepts, assertCollectorAcceptsText } from '../../helpers/collector-accepts.ts';
import { tempDir } from '../../helpers/run-agent.ts';

const MTR_FIXTURES = join(__dirname, '..', '..', 'fixtures', 'mtr');
const GATEWAY = '203.0.113.5';
const STARTED = new Date('2026-03-04T05:06:07Z');
const MTR_ID = '20260304050607';

const SETTINGS: RoundSettings = {
  count: 10,
  intervalSec: 1,
  latencyThresholdMs: 75,
  lossThresholdPct: 5,
  hops: 3,
  lossRule: 'persistent',
  tcpPort: 443,
  jitterThresholdMs: 0,
  concurrency: 51,
};

/** mtr 0.95 (jansson) JSON for `[host, loss %, avg ms]` per hop; host null prints `???`. */
function mtrJson(dst: string, spec: [string | null, number, number][]): string {
  const hubs = spec.map(([host, loss, avg], index) => {
    const silent = host === null || loss >= 100;
    return {
      count: index + 1,
      host: host ?? '???',
      'Loss%': host === null ? 100 : loss,
      Snt: 10,
      Last: silent ? 0 : avg,
      Avg: silent ? 0 : avg,
      Best: silent ? 0 : avg,
      Wrst: silent ? 0 : avg,
      StDev: 0,
    };
  });
  return JSON.stringify(
    { report: { mtr: { src: 'vm', dst, tos: 0, tests: 10, psize: '64', bitpattern: '0x00' }, hubs } },
    null,
    4,
  );
}

const TUNNEL: [string, number, number][] = [
  ['100.96.0.1', 0, 20],
  ['10.8.0.1', 0, 21],
];

type Answer = string | Error;

interface Fakes {
  /** Name -> address, or the error resolve throws. */
  dns?: Record<string, { address: string; family: 4 | 6 } | Error>;
  /** Address -> what mtr prints, or the error runMtr throws. */
  mtr: Record<string, Answer>;
  tcp?: Record<string, ProbeSamples | Error>;
  http?: Record<string, ProbeSamples | Error>;
  gatewayIp?: string | null;
}

function fakeDeps(fakes: Fakes): { deps: RoundDeps; events: ProgressEvent[]; mtrCalls: MtrRunOptions[] } {
  let clock = 1_000;
  const events: ProgressEvent[] = [];
  const mtrCalls: MtrRunOptions[] = [];
  const pick = <T>(table: Record<string, T | Error> | undefined, key: string, what: string): T => {
    const value = table?.[key];
    if (value === undefined) throw new Error(`test: no fake ${what} for ${key}`);
    if (value instanceof Error) throw value;
    return value;
  };
  const deps: RoundDeps = {
    agentVersion: '9.9.9-test',
    hostname: () => 'connector-1',
    now: () => STARTED,
    monotonicMs: () => {
      clock += 5;
      return clock;
    },
    resolve: async (host) => {
      const found = fakes.dns?.[host];
      if (found === undefined) return { address: host, family: host.includes(':') ? 6 : 4 };
      if (found instanceof Error) throw found;
      return found;
    },
    checkMtr: async () => ({ version: '0.95' }),
    runMtr: async (options) => {
      mtrCalls.push(options);
      return pick(fakes.mtr, options.address, 'mtr output');
    },
    tcpProbe: async (o) => pick(fakes.tcp, `${o.address}:${o.port}`, 'TCP probe'),
    httpProbe: async (o) => pick(fakes.http, o.url, 'HTTP probe'),
    discoverGateway: async () => {
      const ip = fakes.gatewayIp === undefined ? GATEWAY : fakes.gatewayIp;
      return { ip, source: ip === null ? null : 'option', warnings: [], errors: [] };
    },
    onProgress: (event) => events.push(event),
    killProbes: () => {},
  };
  return { deps, events, mtrCalls };
}

describe('runRound with fake edges', () => {
  let dir: ReturnType<typeof tempDir>;
  let rounds = 0;
  before(() => {
    dir = tempDir('run-round-');
  });
  after(() => dir.cleanup());

  async function round(
    resources: string,
    fakes: Fakes,
    settings: Partial<RoundSettings> = {},
  ): Promise<{ doc: ResultDocument; exitCode: number; logDir: string; seed: Record<string, unknown> }> {
    rounds++;
    const logDir = join(dir.path, `round-${rounds}`);
    const options: CheckOptions = {
      resources: parseResourceList(resources),
      settings: { ...SETTINGS, ...settings },
      logDir,
      gatewayIp: null,
      openvpnManagement: null,
      openvpnLog: null,
      rotation: { maxReportBytes: 1_000_000, keepReports: 2, maxMtrFiles: 50 },
      json: true,
    };
    const { deps } = fakeDeps(fakes);
    const { document, exitCode } = await runRound(options, deps);
    // Every round's document is one the collector accepts as printed.
    assertCollectorAccepts(document);
    const lines = readFileSync(join(logDir, REPORT_FILE), 'utf8').trim().split('\n');
    assert.equal(lines.length, 1, 'one seed line per round');
    const seed = JSON.parse(lines[0] ?? '') as Record<string, unknown>;
    // The line in the file is the document's seed, key for key.
    assert.deepEqual(seed, document.seed);
    return { doc: document, exitCode, logDir, seed };
  }

  const gatewayPath = mtrJson(GATEWAY, [...TUNNEL.slice(0, 1), [GATEWAY, 0, 22]]);

  it('a clean round: nothing flagged, worst figures of all resources, MTR id "0", only the report file', async () => {
    // Act
    const { doc, exitCode, logDir, seed } = await round('10.20.0.5,10.20.0.6', {
      mtr: {
        '10.20.0.5': mtrJson('10.20.0.5', [...TUNNEL, ['10.20.0.5', 0, 23.5]]),
        '10.20.0.6': mtrJson('10.20.0.6', [...TUNNEL, ['10.20.0.6', 2, 31.25]]),
        [GATEWAY]: gatewayPath,
      },
    });
    // Assess
    assert.equal(exitCode, 0);
    assert.equal(doc.outcome, 'completed');
    assert.deepEqual(doc.summary, {
      resources: 2,
      flagged: 0,
      latencyFlag: false,
      lossFlag: false,
      worstLatencyMs: 31.25,
      worstLossPct: 2,
      jitterFlag: false,
      worstJitterMs: null,
    });
    assert.deepEqual(
      doc.resources.map((r) => [r.target, r.verdict, r.method, r.latencyBasis]),
      [
        ['10.20.0.5', 'ok', 'icmp', 'icmp-echo'],
        ['10.20.0.6', 'ok', 'icmp', 'icmp-echo'],
      ],
    );
    assert.deepEqual(seed, {
      HOSTNAME: 'connector-1',
      'RESOURCE(S)': ['10.20.0.5', '10.20.0.6'],
      GATEWAY_IP: GATEWAY,
      LATENCY_FLAG: '0',
      'LATENCY_(ms)': '31.2',
      'LATENCY_THRESHOLD_(ms)': '75',
      LOSS_FLAG: '0',
      'HOP_LOSS_(%)': '2.0',
      'LOSS_THRESHOLD_(%)': '5',
      'MTR-ID_(YYYYMMDDHHMMSS)': '0',
    });
    assert.equal(doc.mtrId, '0');
    assert.deepEqual(readdirSync(logDir).sort(), [REPORT_FILE, HISTORY_FILE]);
    assert.equal(doc.gateway?.latencyMs, 22);
    assert.deepEqual(doc.warnings, []);
  });

  it('a flagged round: summary, seed line and MTR files name the slow resource', async () => {
    const { doc, logDir, seed } = await round('10.20.0.5,10.20.0.6', {
      mtr: {
        '10.20.0.5': mtrJson('10.20.0.5', [...TUNNEL, ['10.20.0.5', 0, 23]]),
        '10.20.0.6': mtrJson('10.20.0.6', [...TUNNEL, ['10.20.0.6', 0, 120]]),
        [GATEWAY]: gatewayPath,
      },
    });
    assert.deepEqual(doc.summary, {
      resources: 2,
      flagged: 1,
      latencyFlag: true,
      lossFlag: false,
      worstLatencyMs: 120,
      worstLossPct: 0,
      jitterFlag: false,
      worstJitterMs: null,
    });
    assert.deepEqual(
      [seed.LATENCY_FLAG, seed['LATENCY_(ms)'], seed.LOSS_FLAG, seed['MTR-ID_(YYYYMMDDHHMMSS)']],
      ['1', '120.0', '0', MTR_ID],
    );
    assert.equal(doc.mtrId, MTR_ID);
    assert.deepEqual(readdirSync(logDir).sort(), [
      REPORT_FILE,
      `MTR-GATEWAY-${MTR_ID}.txt`,
      `MTR-RESOURCE-${MTR_ID}.txt`,
      HISTORY_FILE,
    ]);
    const resourceFile = readFileSync(join(logDir, `MTR-RESOURCE-${MTR_ID}.txt`), 'utf8');
    assert.match(resourceFile, new RegExp(`^RESOURCE MTR: ${MTR_ID} \\(Hop, Avg, Loss%\\)\\n`));
    assert.match(resourceFile, /\n {2}3\.\|-- 10\.20\.0\.6 +120\.0 +0\.0%\n$/);
    assert.deepEqual(
      doc.files.map((f) => f.kind),
      ['report', 'mtr-resource', 'mtr-gateway', 'history'],
    );
  });

  it('a name that does not resolve (EAI_AGAIN) is unmeasured and flagged: LOSS_FLAG "1", worstLossPct 100', async () => {
    // Prepare: the issue's --resources db.corp.internal,127.0.0.2
    const dnsError = new MonitorError('E_RESOLVE', 'could not resolve "db.corp.internal": EAI_AGAIN');
    // Act
    const { doc, logDir, seed } = await round('db.corp.internal,127.0.0.2', {
      dns: { 'db.corp.internal': dnsError },
      mtr: { '127.0.0.2': mtrJson('127.0.0.2', [['127.0.0.2', 0, 0.05]]), [GATEWAY]: gatewayPath },
    });
    // Assess
    const [unresolved, measured] = doc.resources;
    assert.deepEqual(
      {
        verdict: unresolved?.verdict,
        unmeasured: unresolved?.unmeasured,
        address: unresolved?.address,
        lossPct: unresolved?.lossPct,
        lossFlag: unresolved?.lossFlag,
        latencyMs: unresolved?.latencyMs,
        hops: unresolved?.hops,
        errors: unresolved?.errors,
      },
      {
        verdict: 'unmeasured',
        unmeasured: { reason: 'dns', detail: 'could not resolve "db.corp.internal": EAI_AGAIN' },
        address: null,
        lossPct: 100,
        lossFlag: true,
        latencyMs: null,
        hops: null,
        errors: [{ code: 'E_RESOLVE', message: 'could not resolve "db.corp.internal": EAI_AGAIN' }],
      },
    );
    assert.equal(measured?.verdict, 'ok');
    assert.deepEqual(doc.summary, {
      resources: 2,
      flagged: 1,
      latencyFlag: false,
      lossFlag: true,
      worstLatencyMs: 0.05,
      worstLossPct: 100,
      jitterFlag: false,
      worstJitterMs: null,
    });
    assert.deepEqual(
      [seed.LOSS_FLAG, seed['HOP_LOSS_(%)'], seed.LATENCY_FLAG, seed['LATENCY_(ms)']],
      ['1', '100.0', '0', '0.0'],
    );
    assert.deepEqual(doc.warnings, [
      'db.corp.internal: not measured (dns), flagged: could not resolve "db.corp.internal": EAI_AGAIN',
    ]);
    // No path to show for it: the MTR-GATEWAY file only.
    assert.deepEqual(readdirSync(logDir).sort(), [REPORT_FILE, `MTR-GATEWAY-${MTR_ID}.txt`, HISTORY_FILE]);
  });

  it('mtr printing garbage leaves the resource unmeasured (mtr-output) and flagged', async () => {
    const { doc, seed } = await round('10.20.0.5', {
      mtr: { '10.20.0.5': 'HOST: vm   Loss%   Snt\n', [GATEWAY]: gatewayPath },
    });
    const [resource] = doc.resources;
    assert.equal(resource?.verdict, 'unmeasured');
    assert.equal(resource?.unmeasured?.reason, 'mtr-output');
    assert.match(resource?.unmeasured?.detail ?? '', /no JSON report/);
    assert.equal(resource?.address, '10.20.0.5');
    assert.deepEqual(
      [doc.summary.flagged, doc.summary.worstLossPct, doc.summary.worstLatencyMs],
      [1, 100, null],
    );
    assert.equal(seed.LOSS_FLAG, '1');
  });

  it('mtr failing or timing out on one path: unmeasured (mtr-failed, mtr-timeout), the round completes', async () => {
    const evidence = { command: ['mtr', '--json'], exitCode: 1, signal: null, stderr: 'boom' };
    const { doc, exitCode } = await round('10.20.0.5,10.20.0.6', {
      mtr: {
        '10.20.0.5': new ProcessError('E_MTR_FAILED', 'mtr exited with 1: boom', evidence),
        '10.20.0.6': new ProcessError('E_MTR_TIMEOUT', 'mtr did not finish within 27000 ms', {
          ...evidence,
          exitCode: null,
          signal: 'SIGKILL',
        }),
        [GATEWAY]: gatewayPath,
      },
    });
    assert.equal(exitCode, 0);
    assert.deepEqual(
      doc.resources.map((r) => [r.verdict, r.unmeasured?.reason, r.errors[0]?.stderr]),
      [
        ['unmeasured', 'mtr-failed', 'boom'],
        ['unmeasured', 'mtr-timeout', 'boom'],
      ],
    );
    assert.deepEqual([doc.summary.flagged, doc.summary.lossFlag, doc.summary.worstLossPct], [2, true, 100]);
  });

  it('mtr 0.92 dead path (invalid JSON) with a silent TCP port: unreachable and flagged, not an error', async () => {
    const dead = readFileSync(join(MTR_FIXTURES, 'mtr092-dead-path.json'), 'utf8');
    const { doc, seed } = await round('10.20.0.9', {
      mtr: { '10.20.0.9': dead, [GATEWAY]: gatewayPath },
      tcp: {
        '10.20.0.9:443': { method: 'tcp', rttsMs: [null, null], errors: ['timeout after 1500 ms (2 of 2)'] },
      },
    });
    const [resource] = doc.resources;
    assert.deepEqual(
      [resource?.verdict, resource?.lossFlag, resource?.lossPct, resource?.unmeasured, resource?.hops],
      ['unreachable', true, 100, null, []],
    );
    assert.deepEqual([doc.summary.flagged, doc.summary.worstLossPct], [1, 100]);
    assert.deepEqual([seed.LOSS_FLAG, seed['HOP_LOSS_(%)']], ['1', '100.0']);
  });

  it('fallbacks: TCP measures a silent destination; HTTP is judged by connect time, its request time reported', async () => {
    // Prepare: both destinations ignore ICMP behind two answering tunnel hops.
    const silent = (dst: string) => mtrJson(dst, [...TUNNEL, [null, 100, 0]]);
    // Act
    const { doc, logDir } = await round('10.20.0.7,https://wiki.corp.internal/', {
      dns: { 'wiki.corp.internal': { address: '10.20.0.8', family: 4 } },
      mtr: { '10.20.0.7': silent('10.20.0.7'), '10.20.0.8': silent('10.20.0.8'), [GATEWAY]: gatewayPath },
      tcp: { '10.20.0.7:443': { method: 'tcp', rttsMs: [30, 32, 34], errors: [] } },
      http: {
        'https://wiki.corp.internal/': {
          method: 'http',
          rttsMs: [25, 27],
          requestsMs: [180, 220],
          errors: [],
        },
      },
    });
    // Assess: a 200 ms HTTPS request over a 26 ms path is not latency above 75 ms.
    assert.deepEqual(
      doc.resources.map((r) => [r.target, r.verdict, r.method, r.latencyMs, r.latencyBasis, r.requestMs]),
      [
        ['10.20.0.7', 'ok', 'tcp', 32, 'tcp-connect', null],
        ['https://wiki.corp.internal/', 'ok', 'http', 26, 'tcp-connect', 200],
      ],
    );
    assert.deepEqual(doc.summary, {
      resources: 2,
      flagged: 0,
      latencyFlag: false,
      lossFlag: false,
      worstLatencyMs: 32,
      worstLossPct: 0,
      jitterFlag: false,
      worstJitterMs: 1.333,
    });
    assert.deepEqual(readdirSync(logDir).sort(), [REPORT_FILE, HISTORY_FILE]);
  });

  it('a fallback probe that cannot run leaves the resource unmeasured (probe-failed), its path kept', async () => {
    const { doc } = await round('10.20.0.7', {
      mtr: { '10.20.0.7': mtrJson('10.20.0.7', [...TUNNEL, [null, 100, 0]]), [GATEWAY]: gatewayPath },
      tcp: { '10.20.0.7:443': new Error('EMFILE: too many open files') },
    });
    const [resource] = doc.resources;
    assert.equal(resource?.verdict, 'unmeasured');
    assert.deepEqual(resource?.unmeasured, { reason: 'probe-failed', detail: 'EMFILE: too many open files' });
    assert.equal(resource?.hops?.length, 3);
    assert.equal(doc.outcome, 'completed');
    assert.deepEqual([doc.summary.flagged, doc.summary.worstLossPct], [1, 100]);
  });

  it('a mixed round counts every kind once: lossy, unreachable, unmeasured and ok', async () => {
    // Prepare
    const { doc, logDir, seed } = await round('10.20.0.1,10.20.0.2,10.20.0.3,db.corp.internal', {
      dns: {
        'db.corp.internal': new MonitorError('E_RESOLVE', 'could not resolve "db.corp.internal": ENOTFOUND'),
      },
      mtr: {
        '10.20.0.1': mtrJson('10.20.0.1', [...TUNNEL, ['10.20.0.1', 0, 40]]),
        '10.20.0.2': mtrJson('10.20.0.2', [...TUNNEL, ['10.20.0.2', 30, 45]]),
        '10.20.0.3': mtrJson('10.20.0.3', [...TUNNEL, [null, 100, 0]]),
        [GATEWAY]: gatewayPath,
      },
      tcp: { '10.20.0.3:443': { method: 'tcp', rttsMs: [null, null, null], errors: ['ETIMEDOUT (3 of 3)'] } },
    });
    // Assess
    assert.deepEqual(
      doc.resources.map((r) => [r.target, r.verdict, r.lossFlag, r.lossPct]),
      [
        ['10.20.0.1', 'ok', false, 0],
        ['10.20.0.2', 'loss', true, 30],
        ['10.20.0.3', 'unreachable', true, 100],
        ['db.corp.internal', 'unmeasured', true, 100],
      ],
    );
    assert.deepEqual(doc.summary, {
      resources: 4,
      flagged: 3,
      latencyFlag: false,
      lossFlag: true,
      worstLatencyMs: 45,
      worstLossPct: 100,
      jitterFlag: false,
      worstJitterMs: null,
    });
    assert.deepEqual([seed.LOSS_FLAG, seed['HOP_LOSS_(%)'], seed.LATENCY_FLAG], ['1', '100.0', '0']);
    // Only the lossy path has hops worth a section; 100 % loss and unmeasured get none.
    const resourceFile = readFileSync(join(logDir, `MTR-RESOURCE-${MTR_ID}.txt`), 'utf8');
    assert.match(resourceFile, /^RESOURCE MTR: \d{14} \(Hop, Avg, Loss%\)\n/);
    assert.match(resourceFile, /10\.20\.0\.2 +45\.0 +30\.0%\n$/);
    assert.doesNotMatch(resourceFile, /10\.20\.0\.3|db\.corp/);
  });

  it('a round without a gateway still flags an unmeasured resource and writes no MTR file', async () => {
    const { doc, logDir, seed } = await round('db.corp.internal', {
      dns: {
        'db.corp.internal': new MonitorError('E_RESOLVE', 'could not resolve "db.corp.internal": EAI_AGAIN'),
      },
      mtr: {},
      gatewayIp: null,
    });
    assert.deepEqual(
      [seed.LOSS_FLAG, seed.GATEWAY_IP, seed['MTR-ID_(YYYYMMDDHHMMSS)']],
      ['1', 'N/A', MTR_ID],
    );
    assert.deepEqual(readdirSync(logDir).sort(), [REPORT_FILE, HISTORY_FILE]);
    assert.deepEqual(
      [doc.summary.flagged, doc.summary.worstLatencyMs, doc.summary.worstLossPct],
      [1, null, 100],
    );
  });

  // ---- jitter (issue 10)
  it('--jitter-threshold: a jittery destination is flagged (verdict, seed LATENCY_FLAG, MTR files); off it is only reported', async () => {
    // Prepare: the lab capture of a path whose relay alternates 5/45 ms (Javg ~36 ms at the destination).
    const varied = readFileSync(join(MTR_FIXTURES, 'mtr095-netns-jitter-varied.json'), 'utf8');
    const clean = readFileSync(join(MTR_FIXTURES, 'mtr095-netns-jitter-clean.json'), 'utf8').replaceAll(
      '10.199.128.11',
      '10.199.128.12',
    );
    const fakes: Fakes = {
      mtr: { '10.199.128.11': varied, '10.199.128.12': clean, [GATEWAY]: gatewayPath },
    };
    // Act
    const off = await round('10.199.128.11,10.199.128.12', fakes);
    const on = await round('10.199.128.11,10.199.128.12', fakes, { jitterThresholdMs: 10 });
    // Assess: reported either way, per resource and per hop.
    for (const { doc } of [off, on]) {
      assert.deepEqual(
        doc.resources.map((r) => [r.target, r.jitterMs]),
        [
          ['10.199.128.11', 36.582],
          ['10.199.128.12', 0.144],
        ],
      );
      assert.deepEqual(
        doc.resources[0]?.hops?.map((h) => h.jitterMs),
        [0.135, 0.166, 36.278, 36.582],
      );
      assert.equal(doc.summary.worstJitterMs, 36.582);
    }
    assert.deepEqual(
      [off.doc.resources[0]?.verdict, off.seed.LATENCY_FLAG, off.doc.mtrId, off.doc.summary.flagged],
      ['ok', '0', '0', 0],
    );
    const [jittery, calm] = on.doc.resources;
    assert.equal(jittery?.verdict, 'jitter');
    assert.equal(jittery?.latencyFlag, false, 'its average is fine');
    assert.deepEqual(jittery?.trouble, { kind: 'jitter', hop: 3, host: '10.199.4.2', side: 'tunnel' });
    assert.equal(calm?.verdict, 'ok');
    assert.deepEqual(
      [on.doc.summary.flagged, on.doc.summary.jitterFlag, on.doc.summary.latencyFlag],
      [1, true, false],
    );
    assert.deepEqual(
      [on.seed.LATENCY_FLAG, on.seed.LOSS_FLAG, on.seed['LATENCY_(ms)'], on.seed['MTR-ID_(YYYYMMDDHHMMSS)']],
      ['1', '0', '26.9', MTR_ID],
    );
    assert.equal(on.doc.settings?.jitterThresholdMs, 10);
    // The MTR file keeps the old layout: hop lines only, Avg and Loss%.
    const resourceFile = readFileSync(join(on.logDir, `MTR-RESOURCE-${MTR_ID}.txt`), 'utf8');
    assert.equal(
      resourceFile,
      `RESOURCE MTR: ${MTR_ID} (Hop, Avg, Loss%)\n` +
        '  1.|-- 10.199.100.1                0.5  0.0%\n' +
        '  2.|-- 10.199.3.2                  0.6  0.0%\n' +
        '  3.|-- 10.199.4.2                 26.9  0.0%\n' +
        '  4.|-- 10.199.128.11              26.9  0.0%\n',
    );
  });
});

describe('runRound: a round that cannot start', () => {
  let dir: ReturnType<typeof tempDir>;
  before(() => {
    dir = tempDir('run-round-start-');
  });
  after(() => dir.cleanup());

  async function roundWith(checkMtr: RoundDeps['checkMtr'], name: string) {
    const { deps, mtrCalls } = fakeDeps({ mtr: {} });
    deps.checkMtr = checkMtr;
    const options: CheckOptions = {
      resources: parseResourceList('10.20.0.5'),
      settings: SETTINGS,
      logDir: join(dir.path, name),
      gatewayIp: null,
      openvpnManagement: null,
      openvpnLog: null,
      rotation: { maxReportBytes: 1_000_000, keepReports: 2, maxMtrFiles: 50 },
      json: true,
    };
    const output = await runRound(options, deps);
    assertCollectorAccepts(output.document);
    return { ...output, mtrCalls };
  }

  it('mtr present but failing `mtr --version` is the environment (exit 3), with the evidence', async () => {
    const broken = new ProcessError('E_MTR_FAILED', '"mtr --version" exited with 127', {
      command: ['mtr', '--version'],
      exitCode: 127,
      signal: null,
      stderr: 'mtr: error while loading shared libraries: libncursesw.so.6',
    });
    const { document, exitCode, mtrCalls } = await roundWith(async () => {
      throw broken;
    }, 'broken');
    assert.deepEqual([document.outcome, exitCode], ['environment', 3]);
    assert.deepEqual(document.error, broken.toInfo());
    assert.match(document.error?.stderr ?? '', /libncursesw/);
    assert.deepEqual(mtrCalls, [], 'no path is probed');
  });

  it('mtr --version hanging, or printing no version, is the environment too', async () => {
    for (const code of ['E_MTR_TIMEOUT', 'E_MTR_OUTPUT'] as const) {
      const { document, exitCode } = await roundWith(async () => {
        throw new ProcessError(code, `"mtr --version" (${code})`, {
          command: ['mtr', '--version'],
          exitCode: null,
          signal: 'SIGKILL',
          stderr: '',
        });
      }, code);
      assert.deepEqual([document.outcome, exitCode, document.error?.code], ['environment', 3, code]);
    }
  });

  it('a fault of the agent itself (not a MonitorError) is an internal error (exit 1)', async () => {
    const { document, exitCode } = await roundWith(async () => {
      throw new TypeError('cannot read properties of undefined');
    }, 'bug');
    assert.deepEqual([document.outcome, exitCode, document.error?.code], ['internal-error', 1, 'E_INTERNAL']);
  });
});

describe('runRound: each round held against the earlier rounds of this host', () => {
  let dir: ReturnType<typeof tempDir>;
  before(() => {
    dir = tempDir('run-round-history-');
  });
  after(() => dir.cleanup());

  /** Rounds of one resource in one log directory, as `watch` or cron would run them. */
  function host(name: string) {
    const logDir = join(dir.path, name);
    return {
      logDir,
      async round(resources: string, fakes: Fakes, settings: Partial<RoundSettings> = {}) {
        const options: CheckOptions = {
          resources: parseResourceList(resources),
          settings: { ...SETTINGS, ...settings },
          logDir,
          gatewayIp: null,
          openvpnManagement: null,
          openvpnLog: null,
          rotation: { maxReportBytes: 1_000_000, keepReports: 2, maxMtrFiles: 50 },
          json: true,
        };
        const { document } = await runRound(options, fakeDeps(fakes).deps);
        assertCollectorAccepts(document);
        return document;
      },
      /** The history's rounds as the store reads them back (whatever the line format). */
      history(): HistoryRound[] {
        const memory: PathMemory = newPathMemory();
        return readFileSync(join(logDir, HISTORY_FILE), 'utf8')
          .trim()
          .split('\n')
          .map((line) => {
            const decoded = decodeRound(line, memory);
            assert.ok(decoded !== null && decoded.skippedEntries === 0, line);
            return decoded.round;
          });
      },
    };
  }

  const DEST = '10.20.0.5';
  const gatewayPath = mtrJson(GATEWAY, [...TUNNEL.slice(0, 1), [GATEWAY, 0, 22]]);
  const via = (second: string, avg = 23): string =>
    mtrJson(DEST, [
      ['100.96.0.1', 0, 20],
      [second, 0, 21],
      [DEST, 0, avg],
    ]);

  it('reports a path change in the round the route changes, and again when it changes back', async () => {
    // Prepare
    const h = host('path');
    const usual = { mtr: { [DEST]: via('10.8.0.1'), [GATEWAY]: gatewayPath } };
    const other = { mtr: { [DEST]: via('10.9.0.1'), [GATEWAY]: gatewayPath } };
    // Act
    const docs = [];
    for (const fakes of [usual, usual, usual, other, other, usual]) docs.push(await h.round(DEST, fakes));
    // Assess
    assert.deepEqual(
      docs.map((d) => d.resources[0]?.pathChange ?? null),
      [
        null,
        null,
        null,
        {
          previousHops: ['100.96.0.1', '10.8.0.1', DEST],
          hops: ['100.96.0.1', '10.9.0.1', DEST],
          firstDifferentHop: 2,
        },
        null,
        {
          previousHops: ['100.96.0.1', '10.9.0.1', DEST],
          hops: ['100.96.0.1', '10.8.0.1', DEST],
          firstDifferentHop: 2,
        },
      ],
    );
    assert.ok(
      docs.every((d) => d.resources[0]?.verdict === 'ok' && d.summary.flagged === 0),
      'a path change is reported, never flagged',
    );
    const lines = h.history();
    assert.equal(lines.length, 6, 'one history line per round');
    assert.deepEqual(
      lines.map((line) => (line.resources[0]?.pathChanged ? 1 : 0)),
      [0, 0, 0, 1, 0, 1],
    );
  });

  it('states the baseline, and flags a round far above it only with --baseline-flag on', async () => {
    // Prepare: 12 rounds around 20 ms, the threshold at 75 ms.
    const h = host('baseline');
    for (let i = 0; i < 12; i++) {
      const doc = await h.round(DEST, {
        mtr: { [DEST]: via('10.8.0.1', 20 + (i % 3) * 0.5), [GATEWAY]: gatewayPath },
      });
      assert.equal(doc.resources[0]?.baseline, i < 10 ? null : doc.resources[0]?.baseline, `round ${i + 1}`);
    }
    const slow = { mtr: { [DEST]: via('10.8.0.1', 50), [GATEWAY]: gatewayPath } };
    // Act
    const off = await h.round(DEST, slow);
    const on = await h.round(DEST, slow, { baselineFlag: true });
    // Assess: below the threshold, far above the normal.
    assert.deepEqual(off.resources[0]?.baseline, {
      ms: 20.5,
      spreadMs: 0.741,
      deviationMs: 29.5,
      far: true,
    });
    assert.deepEqual(
      [off.resources[0]?.verdict, off.resources[0]?.latencyFlag, off.summary.flagged, off.seed?.LATENCY_FLAG],
      ['ok', false, 0, '0'],
    );
    assert.equal(on.resources[0]?.baseline?.far, true);
    assert.equal(on.settings?.baselineFlag, true);
    assert.deepEqual(
      [on.resources[0]?.verdict, on.resources[0]?.latencyFlag, on.summary.flagged, on.seed?.LATENCY_FLAG],
      ['latency', true, 1, '1'],
    );
    assert.ok(
      on.files.some((f) => f.kind === 'mtr-resource'),
      'flagged like any latency: the MTR files are written',
    );
    // The history keeps the verdict the flag gave (the report draws it); the baseline itself is not stored:
    // the next rounds recompute it from the latencies.
    const last = h.history().at(-1)?.resources[0];
    assert.deepEqual([last?.verdict, last?.latencyMs], ['latency', 50]);
  });

  it('keeps an ICMP baseline apart from TCP rounds, and stores the spread of the probes', async () => {
    const h = host('basis');
    const silent = mtrJson(DEST, [
      ['100.96.0.1', 0, 20],
      [null, 100, 0],
    ]);
    for (let i = 0; i < 11; i++)
      await h.round(DEST, { mtr: { [DEST]: via('10.8.0.1'), [GATEWAY]: gatewayPath } });
    const tcp = await h.round(DEST, {
      mtr: { [DEST]: silent, [GATEWAY]: gatewayPath },
      tcp: { [`${DEST}:443`]: { method: 'tcp', rttsMs: [30, null, 34, 32], errors: [] } },
    });
    assert.equal(tcp.resources[0]?.method, 'tcp');
    assert.equal(tcp.resources[0]?.baseline, null, 'no TCP rounds before: no baseline');
    const [icmp, tcp2] = h
      .history()
      .slice(-2)
      .map((r) => r.resources[0]);
    assert.deepEqual(
      [icmp?.lowMs, icmp?.highMs, icmp?.stdevMs],
      [23, 23, 0],
      "mtr's Best, Wrst and StDev at the destination",
    );
    assert.deepEqual([tcp2?.lowMs, tcp2?.highMs, tcp2?.stdevMs], [30, 34, 1.633]);
  });

  it('skips damaged history lines with a warning and still compares with the rest', async () => {
    const h = host('damaged');
    await h.round(DEST, { mtr: { [DEST]: via('10.8.0.1'), [GATEWAY]: gatewayPath } });
    appendFileSync(join(h.logDir, HISTORY_FILE), '{"hv":1,"r":"garbage"}\nnot json at all\n');
    const doc = await h.round(DEST, { mtr: { [DEST]: via('10.9.0.1'), [GATEWAY]: gatewayPath } });
    assert.equal(doc.outcome, 'completed');
    assert.equal(doc.resources[0]?.pathChange?.firstDifferentHop, 2);
    assert.ok(
      doc.warnings.some((w) => /round history: 2 damaged line\(s\) or entries/.test(w)),
      doc.warnings.join('\n'),
    );
  });

  it('a history another user filled with the largest paths and latencies: 50 resources, the document valid, fitted and quick', async () => {
    // Prepare: 48 lines claiming, for each of 50 resources, a 255-hop path of the longest hop addresses,
    // and latencies at both ends of the range, so every path changes and every baseline is as wide as
    // it can be; beside it, a host whose history names its hops with controls and markup.
    const targets = Array.from({ length: 50 }, (_, i) => `10.20.1.${i + 1}`);
    const history = (names: string[]): string =>
      Array.from({ length: 48 }, (_, n) =>
        JSON.stringify({
          hv: 3,
          at: new Date(STARTED.getTime() - (48 - n) * 300_000).toISOString(),
          lt: 75,
          lp: 5,
          ad: names,
          r: targets.map((t) => [
            t,
            0,
            n % 2 === 0 ? 0 : RESULT_LIMITS.maxMs * 1000,
            0,
            0,
            0,
            0,
            names.map((_, k) => k),
          ]),
        }),
      ).join('\n');
    const longest = Array.from({ length: 255 }, (_, i) =>
      `2001:db8::${i}%`.padEnd(RESULT_LIMITS.maxAddressChars, 'f'),
    );
    const hostile = longest.map((name, i) => `${i}\u0000\u001b[31m\u202e"</script>${name}`);
    const mtr: Record<string, string> = { [GATEWAY]: gatewayPath };
    for (const t of targets) {
      mtr[t] = mtrJson(t, [
        ['100.96.0.1', 0, 20],
        ['10.8.0.1', 0, 21],
        [t, 0, 23],
      ]);
    }
    const docs: ResultDocument[] = [];
    const took: Record<string, number[]> = { clean: [], filled: [], named: [] };
    for (const [name, names] of [
      ['clean', null],
      ['filled', longest],
      ['clean', null],
      ['filled', longest],
      ['named', hostile],
      ['named', hostile],
    ] as const) {
      const h = host(`filled-${name}-${docs.length}`);
      mkdirSync(h.logDir, { recursive: true });
      if (names !== null) writeFileSync(join(h.logDir, HISTORY_FILE), `${history(names)}\n`);
      // Act: the round (host() asserts the collector accepts its document, fitted as the agent prints it).
      const started = performance.now();
      docs.push(await h.round(targets.join(','), { mtr }));
      took[name]?.push(performance.now() - started);
    }
    // Assess: the largest paths a history can claim change every path, and the document stays about the
    // size of a round's own (it was 13 MB, and the round 30 times a clean one's CPU).
    const filled = docs[1] as ResultDocument;
    const named = docs[4] as ResultDocument;
    assert.ok(filled.resources.every((r) => r.pathChange?.firstDifferentHop === 1 && r.baseline !== null));
    assert.ok(filled.warnings.some((w) => w.startsWith('previous paths of 50 path change(s) dropped')));
    // The cost was the document: 13 MB of previous hops that fit-result serialized again and again. Its
    // size is the deterministic measure (a timed bound flaked on a loaded CI machine); the time is in the message.
    for (const doc of [filled, named]) {
      const chars = JSON.stringify(doc).length;
      assert.ok(
        chars < 4 * RESULT_MAX_CHARS,
        `${chars} characters before fitting; rounds took ${JSON.stringify(took)} ms`,
      );
    }
    const printed = serializeResult(fitResult(filled));
    assert.ok(printed.length <= RESULT_MAX_CHARS, `${printed.length} characters`);
    assertCollectorAcceptsText(printed);
    // Hop names that are no address (mtr runs with -n): those entries are skipped, nothing of them shown.
    assert.ok(named.resources.every((r) => r.pathChange === null && r.baseline === null));
    assert.ok(
      named.warnings.some((w) =>
        w.startsWith(`round history: ${RECENT_ROUNDS * targets.length} damaged line(s) or entries`),
      ),
    );
  });

  it('a history file that is not the agent’s own: measurements kept, outcome environment naming it', async () => {
    const h = host('planted');
    await h.round(DEST, { mtr: { [DEST]: via('10.8.0.1'), [GATEWAY]: gatewayPath } });
    rmSync(join(h.logDir, HISTORY_FILE));
    symlinkSync('/etc/hostname', join(h.logDir, HISTORY_FILE));
    const doc = await h.round(DEST, { mtr: { [DEST]: via('10.8.0.1'), [GATEWAY]: gatewayPath } });
    assert.equal(doc.outcome, 'environment');
    assert.match(
      doc.error?.message ?? '',
      /cc-monitor-history\.jsonl is a symbolic link; refusing to follow it/,
    );
    assert.equal(doc.resources[0]?.latencyMs, 23);
    assert.notEqual(doc.seed, null, 'the seed line was written before');
    assert.ok(doc.warnings.some((w) => w.startsWith('round history not read')));
    assert.equal(doc.resources[0]?.pathChange, null);
  });
});
