/**
 * The tunnel through the built bundle, round after round in one log dir:
 * stand-in `openvpn3` and `mtr` first on PATH (their files named in their
 * text: the agent passes none of its environment to children), whose answers
 * the test changes between rounds, and a tiny management interface on
 * loopback. Every address probed is loopback or a stand-in's.
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TUNNEL_STATE_FILE } from '../../../agent/tunnel/tunnel-memory.ts';
import { parseResultDocument, type ResultDocument } from '../../../common/result-schema.ts';
import {
  AGENT,
  type AgentRun,
  NODE12,
  ROOT,
  runAgent,
  runAgentAsync,
  shQuote,
  standInBin,
  tempDir,
} from '../../helpers/run-agent.ts';
import { answer, startFakeManagement } from '../gateway/fake-management.ts';

const OPENVPN = join(ROOT, 'test', 'fixtures', 'openvpn');
const CLEAN = join(ROOT, 'test', 'fixtures', 'mtr', 'mtr095-loopback-v4.json');
const SLOW = join(ROOT, 'test', 'fixtures', 'agent-cli', 'mtr095-standin-destination-250ms.json');
const SESSION = '/net/openvpn/v3/sessions/7f1c2a9es4b03s4a1bs9c11sd2e6f0a8b7c5';
const FAST = ['--resources', '127.0.0.1', '--count', '3', '--interval', '0.2'];
const skip = existsSync(AGENT) ? false : `${AGENT} is missing: run \`npm run build\` first`;
const NODE12_SKIP = skip || (existsSync(NODE12) ? false : `Node 12 binary not installed at ${NODE12}`);

function sessionsList(status: string): string {
  return [
    '-'.repeat(77),
    `        Path: ${SESSION}`,
    '     Created: Tue Mar  4 09:12:44 2025                  PID: 2211',
    '       Owner: root                                   Device: tun0',
    ' Config name: CloudConnexa',
    'Connected to: udp:203.0.113.10:1194',
    `      Status: Connection, ${status}`,
    '-'.repeat(77),
    '',
  ].join('\n');
}

interface Host {
  env: Record<string, string>;
  logDir: string;
  /** What the stand-ins print next. */
  set(o: { status?: string; stats?: string; mtr?: string }): void;
  calls(): string[];
}

/**
 * A host whose openvpn3 answers sessions-list and session-stats from files, and
 * whose mtr prints a fixed report for any target (the gateway 203.0.113.10 is
 * never probed for real: mtr is the stand-in, and gateways get no TCP probe).
 */
function host(dir: string): Host {
  const sessions = join(dir, 'sessions.txt');
  const stats = join(dir, 'stats.txt');
  const report = join(dir, 'mtr.json');
  const calls = join(dir, 'openvpn3-calls.txt');
  const bin = standInBin(dir, {
    openvpn3: `#!/bin/sh
printf '%s\\n' "$*" >> ${shQuote(calls)}
if [ "$#" -eq 1 ] && [ "$1" = sessions-list ]; then exec cat ${shQuote(sessions)}; fi
if [ "$#" -eq 3 ] && [ "$1" = session-stats ] && [ "$2" = --path ] && [ "$3" = ${shQuote(SESSION)} ]; then exec cat ${shQuote(stats)}; fi
echo "unexpected arguments: $*" >&2
exit 2
`,
    mtr: `#!/bin/sh
if [ "$1" = "--version" ]; then echo "mtr 0.95"; exit 0; fi
exec cat ${shQuote(report)}
`,
  });
  const set: Host['set'] = (o) => {
    if (o.status !== undefined) writeFileSync(sessions, sessionsList(o.status));
    if (o.stats !== undefined) copyFileSync(join(OPENVPN, o.stats), stats);
    if (o.mtr !== undefined) copyFileSync(o.mtr, report);
  };
  set({ status: 'Client connected', stats: 'session-stats-connected.txt', mtr: CLEAN });
  return {
    env: { PATH: `${bin}:${process.env.PATH ?? ''}` },
    logDir: join(dir, 'logs'),
    set,
    calls: () => (existsSync(calls) ? readFileSync(calls, 'utf8').trim().split('\n') : []),
  };
}

function check(h: Host, extra: string[] = [], node?: string): { run: AgentRun; doc: ResultDocument } {
  const run = runAgent(['check', '--json', ...FAST, '--log-dir', h.logDir, ...extra], { env: h.env, node });
  assert.equal(run.status, 0, `${run.stderr}\n${run.stdout.slice(0, 2000)}`);
  return { run, doc: parseResultDocument(run.stdout) };
}

describe('the built agent reports the tunnel in every round', { skip }, () => {
  let dir: ReturnType<typeof tempDir>;
  before(() => {
    dir = tempDir('agent-tunnel-');
  });
  after(() => dir.cleanup());

  it('openvpn3: up, counts since the last round, then reconnecting as the one cause of the flags, counters restarted', () => {
    const h = host(join(dir.path, 'openvpn3'));

    // Round 1: connected; the first round has no counts.
    const first = check(h).doc;
    assert.equal(first.gateway?.ip, '203.0.113.10');
    assert.equal(first.tunnel?.state, 'up');
    assert.equal(first.tunnel?.source, 'openvpn3');
    assert.equal(first.tunnel?.detail, 'Connection, Client connected');
    assert.equal(first.tunnel?.since, first.startedAt);
    assert.deepEqual(
      [first.tunnel?.reconnects, first.tunnel?.bytesIn, first.tunnel?.bytesOut],
      [null, null, null],
    );
    assert.ok(existsSync(join(h.logDir, TUNNEL_STATE_FILE)));

    // Round 2: the session carried traffic and reconnected once.
    h.set({ stats: 'session-stats-later.txt' });
    const second = check(h).doc;
    assert.deepEqual(
      [
        second.tunnel?.state,
        second.tunnel?.since,
        second.tunnel?.reconnects,
        second.tunnel?.bytesIn,
        second.tunnel?.bytesOut,
      ],
      ['up', first.startedAt, 1, 1_024_000, 100_000],
    );
    assert.equal(second.tunnel?.explains, false);

    // Round 3: reconnecting, counters restarted, the resource slow: one cause, the resource still flagged.
    h.set({ status: 'Client reconnect', stats: 'session-stats-fresh.txt', mtr: SLOW });
    const third = check(h).doc;
    assert.deepEqual(
      [
        third.tunnel?.state,
        third.tunnel?.since,
        third.tunnel?.reconnects,
        third.tunnel?.bytesIn,
        third.tunnel?.bytesOut,
      ],
      ['reconnecting', third.startedAt, 0, 1460, 0],
    );
    assert.equal(third.tunnel?.explains, true);
    assert.equal(
      third.warnings[0],
      `tunnel reconnecting since ${third.startedAt} (openvpn3: Connection, Client reconnect): the likely cause of the 1 flagged resource(s), which stay flagged`,
    );
    assert.deepEqual(
      [third.resources[0]?.verdict, third.resources[0]?.latencyFlag, third.seed?.LATENCY_FLAG],
      ['latency', true, '1'],
    );

    // The table opens with the tunnel.
    const table = runAgent(['check', ...FAST, '--log-dir', h.logDir], { env: h.env });
    assert.equal(table.status, 0, table.stderr);
    assert.match(
      table.stdout.split('\n')[0] ?? '',
      /^Tunnel RECONNECTING since \S+ \(openvpn3: Connection, Client reconnect\); since the last round 0 reconnect\(s\), 0 B in, 0 B out — the likely cause of the 1 flagged resource\(s\), which stay flagged$/,
    );
    // One sessions-list and one session-stats per round: the tunnel costs no second pass.
    const calls = h.calls();
    assert.equal(calls.filter((c) => c === 'sessions-list').length, 4);
    assert.equal(calls.filter((c) => c === `session-stats --path ${SESSION}`).length, 4);
    assert.equal(calls.length, 8);
  });

  it('runs under Node.js 12.22 with the same tunnel object', { skip: NODE12_SKIP }, () => {
    const h = host(join(dir.path, 'node12'));
    check(h, [], NODE12);
    h.set({ stats: 'session-stats-later.txt' });
    const { doc } = check(h, [], NODE12);
    assert.deepEqual(
      [
        doc.tunnel?.state,
        doc.tunnel?.source,
        doc.tunnel?.reconnects,
        doc.tunnel?.bytesIn,
        doc.tunnel?.bytesOut,
      ],
      ['up', 'openvpn3', 1, 1_024_000, 100_000],
    );
  });

  it('OpenVPN 2 management: the state and `status` counters of a loopback interface, ahead of openvpn3', async () => {
    const h = host(join(dir.path, 'management'));
    let read = 320;
    const management = await startFakeManagement({
      answers: {
        'state all': readFileSync(join(OPENVPN, 'mgmt-real-2.6-udp4.txt'), 'utf8'),
        'log 500': answer(),
        status: (socket) =>
          socket.write(answer('OpenVPN STATISTICS', `TCP/UDP read bytes,${read}`, 'TCP/UDP write bytes,400')),
      },
    });
    try {
      const args = [
        'check',
        '--json',
        ...FAST,
        '--log-dir',
        h.logDir,
        '--openvpn-management',
        management.endpoint,
      ];
      const first = parseResultDocument((await runAgentAsync(args, { env: h.env })).stdout);
      read = 5320;
      const second = parseResultDocument((await runAgentAsync(args, { env: h.env })).stdout);
      assert.deepEqual(
        [
          first.tunnel?.state,
          first.tunnel?.source,
          first.tunnel?.detail,
          first.tunnel?.since,
          first.tunnel?.bytesIn,
        ],
        ['up', 'openvpn2-management', 'CONNECTED SUCCESS', new Date(1_795_711_394_000).toISOString(), null],
      );
      assert.deepEqual(
        [second.tunnel?.reconnects, second.tunnel?.bytesIn, second.tunnel?.bytesOut],
        [0, 5000, 0],
      );
      assert.equal(second.gateway?.source, 'openvpn2-management');
    } finally {
      await management.close();
    }
  });
});
