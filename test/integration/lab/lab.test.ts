/**
 * Self-tests of the network lab: the paths, the impairments and the clean-up the
 * agent's scenario tests and benchmarks rely on. Root only; skipped elsewhere.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { carriesDelay, lacksDelay, measureUntil, problems } from '../../helpers/latency.ts';
import { PLAN } from '../../lab/addresses.ts';
import { createLab, type Lab, ROUTERS } from '../../lab/lab.ts';
import { labSkipReason } from '../../lab/preflight.ts';
import { type MtrHub, mtr, ping, tcpConnect } from '../../lab/probes.ts';
import { listNamespaces } from '../../lab/registry.ts';
import { isAlive, run } from '../../lab/run.ts';

const LAB_DIR = path.join(__dirname, '..', '..', 'lab');
const skip = labSkipReason() ?? false;

/** The hop hosts in order, `???` for a hop that never answered (as mtr prints it). */
function hostsOf(hubs: MtrHub[]): string[] {
  return hubs.map((hub) => hub.host ?? '???');
}

/** A problem when the path is not the expected hosts in order, else null. */
function pathProblem(label: string, hubs: MtrHub[], expected: string[]): string | null {
  const hosts = hostsOf(hubs);
  return JSON.stringify(hosts) === JSON.stringify(expected)
    ? null
    : `${label}: hops ${hosts.join(', ')}, expected ${expected.join(', ')}`;
}

/**
 * Per hop of `hubs`, whether its best RTT carries `injectedMs` over the same hop
 * of `clean` (measured just before on the clean path): hops from `firstDelayedTtl`
 * on must, earlier hops must not.
 */
function delayProblems(
  label: string,
  clean: MtrHub[],
  hubs: MtrHub[],
  injectedMs: number,
  firstDelayedTtl: number,
): string | null {
  return problems(
    ...hubs.map((hub, index) => {
      const name = `${label} hop ${hub.ttl} ${hub.host}`;
      const baseline = clean[index]?.bestMs;
      return hub.ttl >= firstDelayedTtl
        ? carriesDelay(name, hub.bestMs, baseline, injectedMs, hub.stdevMs)
        : lacksDelay(name, hub.bestMs, baseline, injectedMs);
    }),
  );
}

describe('network lab', { skip }, () => {
  let lab: Lab;

  before(async () => {
    lab = await createLab({ resources: 3 });
  });

  after(async () => {
    await lab?.destroy();
  });

  afterEach(async () => {
    await lab.clear();
  });

  it('builds namespaces named with its unique prefix and connects the OpenVPN client to the gateway', async () => {
    const namespaces = await listNamespaces();
    for (const node of lab.nodes)
      assert.ok(namespaces.includes(lab.ns(node)), `namespace ${lab.ns(node)} exists`);
    assert.match(lab.id, /^ccm[A-Za-z0-9]{6}$/);
    const log = fs.readFileSync(lab.openvpnLogPath, 'utf8');
    assert.match(log, /Peer Connection Initiated with \[AF_INET\]10\.199\.2\.2:1194/);
    assert.equal(lab.addr.gwUnderlay, '10.199.2.2');
    assert.match(lab.addr.hostTunnel, /^10\.199\.100\.\d+$/);
  });

  it('answers the OpenVPN management state command with the gateway as remote address', async () => {
    const state = await lab.exec('host', 'python3', [
      path.join(LAB_DIR, 'fixtures', 'management_state.py'),
      lab.managementEndpoint.host,
      String(lab.managementEndpoint.port),
    ]);
    assert.equal(state.exitCode, 0, state.stderr);
    assert.match(state.stdout, /^\d+,CONNECTED,SUCCESS,10\.199\.100\.\d+,10\.199\.2\.2,1194,/m);
  });

  it('turns off ICMP rate limiting and turns on forwarding in every router', async () => {
    for (const router of ROUTERS) {
      const sysctl = await lab.exec(router, 'sysctl', [
        '-n',
        'net.ipv4.icmp_ratelimit',
        'net.ipv4.ip_forward',
      ]);
      assert.deepEqual(sysctl.stdout.trim().split('\n'), ['0', '1'], `${router}: ${sysctl.stdout}`);
    }
  });

  it('has no route out of the host namespace except the lab range', async () => {
    const routes = await lab.exec('host', 'ip', ['-4', 'route', 'show']);
    const destinations = routes.stdout
      .trim()
      .split('\n')
      .map((line) => line.split(' ')[0]);
    assert.ok(!destinations.includes('default'), routes.stdout);
    for (const destination of destinations) assert.match(destination ?? '', /^10\.199\./, routes.stdout);
  });

  it('pings every resource from the host through the tunnel, across the underlay relay', async () => {
    const before = await lab.relayStats('under-gw');
    const results = await Promise.all(
      lab.addr.resources.map((address) => ping(lab, 'host', address, { count: 3 })),
    );
    const afterStats = await lab.relayStats('under-gw');
    for (const result of results) assert.equal(result.received, 3);
    // 9 echo requests, each carried by OpenVPN over the underlay relay
    assert.ok(afterStats.aToB - before.aToB >= 9, JSON.stringify({ before, afterStats }));
  });

  it('shows gw (tunnel), r1, r2 and the resource in that order in mtr', async () => {
    const hubs = await mtr(lab, 'host', lab.addr.resources[1] ?? '', { count: 5, interval: 0.2 });
    assert.deepEqual(hostsOf(hubs), [...lab.addr.hopsToResource, lab.addr.resources[1]]);
    for (const hub of hubs) assert.equal(hub.lossPct, 0, JSON.stringify(hub));
  });

  it('adds the injected delay on a relay link and next to nothing at delay 0, against a plain veth hop', async (t) => {
    // From r1, the gateway is one veth away and r2 one relay away: the veth hop, pinged alongside,
    // is the baseline, so the machine's load weighs on both sides of the comparison.
    const measure = async (injectedMs: number) => {
      await lab.setLatency('r1-r2', injectedMs);
      const [veth, relay] = await Promise.all([
        ping(lab, 'r1', PLAN.gwR1, { count: 20, interval: 0.01 }),
        ping(lab, 'r1', lab.addr.r2, { count: 20, interval: 0.01 }),
      ]);
      return { injectedMs, veth, relay };
    };

    const [bare, delayed] = await measureUntil(
      'relay delay against a veth hop',
      async () => [await measure(0), await measure(20)],
      (runs) =>
        problems(
          ...runs.map((m) =>
            carriesDelay(
              `relay at ${m.injectedMs} ms`,
              m.relay.minMs,
              m.veth.minMs,
              m.injectedMs,
              m.relay.mdevMs,
            ),
          ),
        ),
    );

    t.diagnostic(
      `fastest round trips, veth / relay: delay 0 ${bare?.veth.minMs} / ${bare?.relay.minMs} ms; 20 ms ${delayed?.veth.minMs} / ${delayed?.relay.minMs} ms`,
    );
  });

  it('shows 50 ms on the underlay from hop 1 (the gateway) on, and at the gateway on the underlay path', async () => {
    const tunnelHops = [...lab.addr.hopsToResource, lab.addr.resources[0] ?? ''];
    const measure = () =>
      Promise.all([
        mtr(lab, 'host', lab.addr.resources[0] ?? '', { count: 5, interval: 0.2 }),
        mtr(lab, 'host', lab.addr.gwUnderlay, { count: 5, interval: 0.2 }),
      ]);

    // Both paths are measured clean first, then with 50 ms on the underlay relay.
    const [cleanTunnel, cleanUnderlay] = await measure();
    assert.deepEqual(hostsOf(cleanTunnel), tunnelHops);
    assert.deepEqual(hostsOf(cleanUnderlay), lab.addr.hopsToGateway);
    await lab.setLatency('under-gw', 50);
    await measureUntil('50 ms on the underlay', measure, ([tunnelPath, underlayPath]) =>
      problems(
        pathProblem('tunnel path', tunnelPath, tunnelHops),
        pathProblem('underlay path', underlayPath, lab.addr.hopsToGateway),
        // every hop through the tunnel crosses the underlay; on the underlay, the relay sits after `under`
        delayProblems('tunnel path', cleanTunnel, tunnelPath, 50, 1),
        delayProblems('underlay path', cleanUnderlay, underlayPath, 50, 2),
      ),
    );
  });

  it('shows latency injected behind the gateway from hop 3 only', async () => {
    const target = lab.addr.resources[2] ?? '';
    const expected = [...lab.addr.hopsToResource, target];
    const clean = await mtr(lab, 'host', target, { count: 5, interval: 0.2 });
    assert.deepEqual(hostsOf(clean), expected);

    await lab.setLatency('r1-r2', 40);

    await measureUntil(
      '40 ms between r1 and r2',
      () => mtr(lab, 'host', target, { count: 5, interval: 0.2 }),
      (hubs) => problems(pathProblem('path', hubs, expected), delayProblems('path', clean, hubs, 40, 3)),
    );
  });

  it('delays a burst of 500 packets without serializing them or losing any', async () => {
    const burst = async (injectedMs: number) => {
      await lab.setLatency('r1-r2', injectedMs);
      const started = performance.now();
      const result = await ping(lab, 'r1', lab.addr.r2, { count: 500, interval: 0.002, preload: 20 });
      return { result, elapsedMs: performance.now() - started };
    };
    // A relay that held packets one at a time would add 500 x 10 ms = 5 s to the burst; one that
    // delays them side by side adds about 10 ms. The same burst at delay 0 is the baseline.
    const serializedMs = 500 * 10;

    await measureUntil(
      'a burst of 500 packets through 10 ms',
      async () => ({ bare: await burst(0), delayed: await burst(10) }),
      ({ bare, delayed }) =>
        problems(
          delayed.result.received === 500 ? null : `${delayed.result.received} of 500 replies`,
          carriesDelay('fastest reply', delayed.result.minMs, bare.result.minMs, 10, delayed.result.mdevMs),
          delayed.elapsedMs - bare.elapsedMs < serializedMs / 2
            ? null
            : `the burst took ${delayed.elapsedMs.toFixed(0)} ms at 10 ms, ${bare.elapsedMs.toFixed(0)} ms at 0: serialized`,
        ),
    );
  });

  it('changes latency at run time without restarting the relay', async () => {
    const pidsBefore = lab.processIds();
    const pingAt = async (injectedMs: number) => {
      await lab.setLatency('r1-r2', injectedMs);
      return { injectedMs, summary: await ping(lab, 'r1', lab.addr.r2, { count: 5 }) };
    };

    await measureUntil(
      'latency 0, 30, then 10 ms',
      async () => [await pingAt(0), await pingAt(30), await pingAt(10)],
      ([bare, ...changed]) =>
        problems(
          ...changed.map((m) =>
            carriesDelay(
              `at ${m.injectedMs} ms`,
              m.summary.minMs,
              bare?.summary.minMs,
              m.injectedMs,
              m.summary.mdevMs,
            ),
          ),
        ),
    );

    assert.deepEqual(lab.processIds(), pidsBefore);
  });

  it('shows 30 % loss injected at r1 on r2 and the resource, not before', async () => {
    const expected = [...lab.addr.hopsToResource, lab.addr.resources[0] ?? ''];
    await lab.setLoss('r1', 30);
    await lab.setLoss('r1', 30); // idempotent: one rule, not two (which would make 51 %)

    // 60 probes at 30 %: 12-50 % is about three standard deviations either way.
    await measureUntil(
      '30 % loss at r1',
      () => mtr(lab, 'host', lab.addr.resources[0] ?? '', { count: 60, interval: 0.05 }),
      (hubs) => {
        const loss = hubs.map((hub) => hub.lossPct);
        const inRange = (pct: number | undefined) => pct !== undefined && pct >= 12 && pct <= 50;
        return problems(
          pathProblem('path', hubs, expected),
          loss[0] === 0 && loss[1] === 0 && inRange(loss[2]) && inRange(loss[3])
            ? null
            : `loss per hop ${loss.join(', ')}: expected 0, 0, then 12-50 %`,
        );
      },
    );
    const rules = await lab.exec('r1', 'iptables-save', []);
    assert.equal(rules.stdout.match(/statistic/g)?.length, 1, rules.stdout);
  });

  it('shows loss at an ICMP-rate-limited router but none at the destination', async () => {
    const expected = [...lab.addr.hopsToResource, lab.addr.resources[0] ?? ''];
    await lab.setIcmpRateLimit('r1', 1000);

    await measureUntil(
      'ICMP rate limit at r1',
      () => mtr(lab, 'host', lab.addr.resources[0] ?? '', { count: 20, interval: 0.1 }),
      (hubs) => {
        const loss = hubs.map((hub) => hub.lossPct);
        return problems(
          pathProblem('path', hubs, expected),
          (loss[1] ?? 0) >= 20 ? null : `r1 hop loss ${loss[1]} %, expected 20 % or more`,
          loss[3] === 0 ? null : `destination loss ${loss[3]} %, expected 0`,
        );
      },
    );
  });

  it('keeps a TCP service answering on a resource that drops ICMP echo', async () => {
    await lab.startTcpService('res2', 8443);
    await lab.blockIcmp('res2');
    const address = lab.addr.resources[1] ?? '';
    const [echo, connectMs] = await Promise.all([
      ping(lab, 'host', address, { count: 3, waitSec: 1 }),
      tcpConnect(lab, 'host', address, 8443),
    ]);
    assert.equal(echo.received, 0);
    assert.notEqual(connectMs, null, 'TCP connect succeeded');
    await lab.clear();
    assert.equal(
      (await ping(lab, 'host', address, { count: 2 })).received,
      2,
      'clear() lifts the ICMP block',
    );
  });

  it('makes a resource unreachable to ICMP and TCP, and reachable again', async () => {
    await lab.startTcpService('res3', 8443);
    await lab.makeUnreachable('res3');
    const address = lab.addr.resources[2] ?? '';
    const [echo, connectMs, hubs] = await Promise.all([
      ping(lab, 'host', address, { count: 3, waitSec: 1 }),
      tcpConnect(lab, 'host', address, 8443, 1),
      mtr(lab, 'host', address, { count: 3, interval: 0.2 }),
    ]);
    assert.equal(echo.received, 0);
    assert.equal(connectMs, null);
    assert.ok(!hostsOf(hubs).includes(address), JSON.stringify(hubs));
    assert.equal(hubs.at(-1)?.lossPct, 100);
    await lab.makeUnreachable('res3', false);
    assert.equal((await ping(lab, 'host', address, { count: 2 })).received, 2);
  });

  it('restarts the tunnel: a new client process, a fresh log, the same gateway', async () => {
    const oldPids = lab.processIds();
    await lab.restartTunnel();
    const newPids = lab.processIds();
    assert.notDeepEqual(newPids, oldPids);
    assert.match(
      fs.readFileSync(lab.openvpnLogPath, 'utf8'),
      /Peer Connection Initiated with \[AF_INET\]10\.199\.2\.2/,
    );
    assert.equal((await ping(lab, 'host', lab.addr.resources[0] ?? '', { count: 2 })).received, 2);
  });

  it('runs a second lab at the same time without touching the first', async () => {
    const second = await createLab({ resources: 2 });
    try {
      assert.notEqual(second.id, lab.id);
      const both = () =>
        Promise.all([
          ping(lab, 'host', lab.addr.resources[0] ?? '', { count: 5 }),
          ping(second, 'host', second.addr.resources[0] ?? '', { count: 5 }),
        ]);

      await measureUntil(
        '30 ms in the second lab only',
        async () => {
          await second.setLatency('under-gw', 0);
          const clean = await both();
          await second.setLatency('under-gw', 30);
          return { clean, delayed: await both() };
        },
        ({ clean, delayed }) =>
          problems(
            lacksDelay('first lab', delayed[0].minMs, clean[0].minMs, 30),
            carriesDelay('second lab', delayed[1].minMs, clean[1].minMs, 30, delayed[1].mdevMs),
          ),
      );
    } finally {
      await second.destroy();
    }
    assert.equal((await ping(lab, 'host', lab.addr.resources[0] ?? '', { count: 2 })).received, 2);
  });

  it('leaves no namespace, process or directory behind after destroy, and destroy twice is harmless', async () => {
    const other = await createLab({ resources: 1 });
    await other.startTcpService('res1', 9000);
    const pids = other.processIds();
    const namespaces = other.nodes.map((node) => other.ns(node));
    assert.equal(pids.length, 5, `server, client, two relays, one service: ${pids}`);
    await other.destroy();
    await other.destroy();
    const left = await listNamespaces();
    assert.deepEqual(
      namespaces.filter((name) => left.includes(name)),
      [],
    );
    assert.deepEqual(pids.filter(isAlive), []);
    assert.equal(fs.existsSync(other.dir), false);
  });

  it('removes the lab of a crashed run from the command line, leaving live labs alone', async () => {
    const crashed = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(LAB_DIR, 'fixtures', 'crash-lab.ts')],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    let err = '';
    crashed.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
    });
    crashed.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      err += chunk;
    });
    await new Promise((resolve) => crashed.on('close', resolve));
    assert.ok(out.trim() !== '', `the crashing run built no lab: ${err}`);
    const info = JSON.parse(out) as { id: string; namespaces: string[]; pids: number[] };
    assert.ok((await listNamespaces()).includes(info.namespaces[0] ?? ''), 'the crashed lab left namespaces');

    const cleanup = await run(process.execPath, ['--import', 'tsx', path.join(LAB_DIR, 'cli.ts'), 'cleanup']);

    assert.equal(cleanup.exitCode, 0, cleanup.stderr);
    // a concurrent test file creating a lab may have removed it first, so the outcome is what counts
    assert.match(cleanup.stdout, /^removed \d+ stale lab/);
    const left = await listNamespaces();
    assert.deepEqual(
      info.namespaces.filter((name) => left.includes(name)),
      [],
    );
    assert.deepEqual(info.pids.filter(isAlive), []);
    assert.ok(left.includes(lab.ns('host')), 'the live lab is untouched');
  });
});
