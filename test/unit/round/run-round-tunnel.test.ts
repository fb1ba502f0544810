/**
 * The tunnel in a round (runRound with fake edges, a real log dir): the
 * observation gateway discovery makes in its one pass becomes the document's
 * `tunnel`, counted since the previous round through the tunnel state file;
 * a tunnel that is down while resources fail is named once, as the round's
 * first warning, and the resources stay flagged.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { CheckOptions } from '../../../agent/cli/resolve-options.ts';
import type { GatewayDiscoveryOptions } from '../../../agent/gateway/discover-gateway.ts';
import type { RoundDeps } from '../../../agent/round/round-deps.ts';
import { runRound } from '../../../agent/round/run-round.ts';
import { TUNNEL_STATE_FILE } from '../../../agent/tunnel/tunnel-memory.ts';
import type { TunnelObservation } from '../../../agent/tunnel/tunnel-state.ts';
import type { ResultDocument } from '../../../common/result-schema.ts';
import { parseResourceList } from '../../../common/settings.ts';
import { assertCollectorAccepts } from '../../helpers/collector-accepts.ts';
import { tempDir } from '../../helpers/run-agent.ts';

const GATEWAY = '203.0.113.5';

function mtrJson(dst: string, lossPct: number): string {
  const hubs = [
    { count: 1, host: '100.96.0.1', 'Loss%': 0, Snt: 10, Last: 20, Avg: 20, Best: 20, Wrst: 20, StDev: 0 },
    {
      count: 2,
      host: lossPct >= 100 ? '???' : dst,
      'Loss%': lossPct,
      Snt: 10,
      Last: 21,
      Avg: lossPct >= 100 ? 0 : 21,
      Best: 21,
      Wrst: 21,
      StDev: 0,
    },
  ];
  return JSON.stringify({ report: { mtr: { src: 'vm', dst, tos: 0, tests: 10 }, hubs } });
}

function openvpn3(
  status: string,
  state: TunnelObservation['state'],
  session: string,
  counters: [number, number, number],
): TunnelObservation {
  return {
    state,
    source: 'openvpn3',
    detail: `Connection, ${status}`,
    sinceMs: null,
    counterKey: `openvpn3 /net/openvpn/v3/sessions/${session}`,
    counters: { bytesIn: counters[0], bytesOut: counters[1], reconnects: counters[2] },
    history: null,
  };
}

interface Round {
  at: string;
  tunnel: TunnelObservation | undefined;
  lossPct: number;
}

async function runIn(
  logDir: string,
  round: Round,
): Promise<{ doc: ResultDocument; asked: GatewayDiscoveryOptions[] }> {
  const asked: GatewayDiscoveryOptions[] = [];
  let clock = 0;
  const deps: RoundDeps = {
    agentVersion: '9.9.9-test',
    hostname: () => 'connector-1',
    now: () => new Date(round.at),
    monotonicMs: () => (clock += 5),
    resolve: async (host) => ({ address: host, family: 4 }),
    checkMtr: async () => ({ version: '0.95' }),
    runMtr: async (o) => mtrJson(o.address, o.address === GATEWAY ? 0 : round.lossPct),
    // A destination that does not answer mtr gets no answer over TCP either.
    tcpProbe: async () => ({ method: 'tcp', rttsMs: [null, null, null], errors: [] }),
    httpProbe: async () => ({ method: 'http', rttsMs: [null, null, null], errors: [] }),
    discoverGateway: async (o) => {
      asked.push(o);
      return { ip: GATEWAY, source: 'option', warnings: [], errors: [], tunnel: round.tunnel };
    },
    onProgress: () => {},
    killProbes: () => {},
  };
  const options: CheckOptions = {
    resources: parseResourceList('10.20.0.5,10.20.0.6'),
    settings: {
      count: 10,
      intervalSec: 1,
      latencyThresholdMs: 75,
      lossThresholdPct: 5,
      hops: 3,
      lossRule: 'persistent',
      tcpPort: 443,
      concurrency: 51,
      jitterThresholdMs: 0,
    },
    logDir,
    gatewayIp: null,
    openvpnManagement: null,
    openvpnLog: null,
    rotation: { maxReportBytes: 1_000_000, keepReports: 2, maxMtrFiles: 50 },
    json: true,
  };
  const { document } = await runRound(options, deps);
  assertCollectorAccepts(document);
  return { doc: document, asked };
}

describe('runRound: the tunnel in every round', () => {
  let dir: ReturnType<typeof tempDir>;
  before(() => {
    dir = tempDir('run-round-tunnel-');
  });
  after(() => dir.cleanup());

  it('up, then down with every resource failing (one cause, resources still flagged), then up again on a new session', async () => {
    const logDir = join(dir.path, 'sequence');
    // Round 1: up; the first round has no counts yet.
    const first = await runIn(logDir, {
      at: '2026-03-04T05:00:00.000Z',
      tunnel: openvpn3('Client connected', 'up', 'a', [1000, 500, 2]),
      lossPct: 0,
    });
    assert.equal(first.asked[0]?.observeTunnel, true, 'discovery is asked for the tunnel in the same pass');
    assert.deepEqual(first.doc.tunnel, {
      state: 'up',
      source: 'openvpn3',
      detail: 'Connection, Client connected',
      since: '2026-03-04T05:00:00.000Z',
      reconnects: null,
      bytesIn: null,
      bytesOut: null,
      explains: false,
    });
    assert.deepEqual(first.doc.warnings, []);
    assert.equal(JSON.parse(readFileSync(join(logDir, TUNNEL_STATE_FILE), 'utf8')).bytesIn, 1000);

    // Round 2: the session disconnected, both resources lose everything.
    const second = await runIn(logDir, {
      at: '2026-03-04T05:05:00.000Z',
      tunnel: openvpn3('Client disconnected', 'down', 'a', [1500, 700, 3]),
      lossPct: 100,
    });
    assert.deepEqual(second.doc.tunnel, {
      state: 'down',
      source: 'openvpn3',
      detail: 'Connection, Client disconnected',
      since: '2026-03-04T05:05:00.000Z',
      reconnects: 1,
      bytesIn: 500,
      bytesOut: 200,
      explains: true,
    });
    assert.equal(
      second.doc.warnings[0],
      'tunnel down since 2026-03-04T05:05:00.000Z (openvpn3: Connection, Client disconnected): the likely cause of the 2 flagged resource(s), which stay flagged',
    );
    assert.equal(second.doc.warnings.filter((w) => w.startsWith('tunnel down')).length, 1, 'named once');
    assert.equal(second.doc.summary.flagged, 2);
    assert.deepEqual(
      second.doc.resources.map((r) => [r.target, r.lossFlag, r.verdict]),
      [
        ['10.20.0.5', true, 'unreachable'],
        ['10.20.0.6', true, 'unreachable'],
      ],
    );
    assert.equal(second.doc.seed?.LOSS_FLAG, '1');

    // Round 3: a new session, its counters started again: counted from zero, never negative.
    const third = await runIn(logDir, {
      at: '2026-03-04T05:10:00.000Z',
      tunnel: openvpn3('Client connected', 'up', 'b', [300, 100, 0]),
      lossPct: 0,
    });
    assert.deepEqual(
      [
        third.doc.tunnel?.state,
        third.doc.tunnel?.since,
        third.doc.tunnel?.bytesIn,
        third.doc.tunnel?.bytesOut,
      ],
      ['up', '2026-03-04T05:10:00.000Z', 300, 100],
    );
    assert.equal(third.doc.tunnel?.reconnects, 0);
    assert.equal(third.doc.tunnel?.explains, false);
    assert.deepEqual(third.doc.warnings, []);
  });

  it('a down tunnel with nothing flagged explains nothing; an unknown one never does', async () => {
    const down = await runIn(join(dir.path, 'quiet'), {
      at: '2026-03-04T06:00:00.000Z',
      tunnel: openvpn3('Client disconnected', 'down', 'a', [1, 1, 0]),
      lossPct: 0,
    });
    assert.deepEqual(
      [down.doc.tunnel?.state, down.doc.tunnel?.explains, down.doc.warnings],
      ['down', false, []],
    );
    const unknown = await runIn(join(dir.path, 'unknown'), {
      at: '2026-03-04T06:00:00.000Z',
      tunnel: {
        state: 'unknown',
        source: null,
        detail: 'no OpenVPN client answered and no tun device: openvpn3 not installed',
        sinceMs: null,
        counterKey: null,
        counters: null,
        history: null,
      },
      lossPct: 100,
    });
    assert.deepEqual([unknown.doc.tunnel?.since, unknown.doc.tunnel?.explains], [null, false]);
    assert.ok(!unknown.doc.warnings.some((w) => w.startsWith('tunnel')));
  });

  it('completes the round with a warning when the state file cannot be kept, and without a tunnel when discovery gives none', async () => {
    const logDir = join(dir.path, 'blocked');
    mkdirSync(join(logDir, TUNNEL_STATE_FILE), { recursive: true });
    mkdirSync(join(logDir, TUNNEL_STATE_FILE, 'child'));
    const { doc } = await runIn(logDir, {
      at: '2026-03-04T07:00:00.000Z',
      tunnel: openvpn3('Client connected', 'up', 'a', [1, 1, 0]),
      lossPct: 0,
    });
    assert.equal(doc.outcome, 'completed');
    assert.equal(doc.tunnel?.state, 'up');
    assert.ok(
      doc.warnings.some((w) => /^tunnel state .* cannot be read/.test(w)),
      doc.warnings.join('\n'),
    );
    assert.ok(
      doc.warnings.some((w) => /^tunnel state .* not written/.test(w)),
      doc.warnings.join('\n'),
    );

    const none = await runIn(join(dir.path, 'none'), {
      at: '2026-03-04T07:00:00.000Z',
      tunnel: undefined,
      lossPct: 0,
    });
    assert.equal(none.doc.tunnel, null);
    assert.equal(existsSync(join(dir.path, 'none', TUNNEL_STATE_FILE)), false);
  });
});
