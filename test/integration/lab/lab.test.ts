/**
 * Self-tests of the network lab: the paths, the impairments and the clean-up the
 * agent's scenario tests and benchmarks rely on. Root only; skipped elsewhere.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { createLab, type Lab, ROUTERS } from '../../lab/lab.ts';
import { labSkipReason } from '../../lab/preflight.ts';
import { mtr, ping, tcpConnect } from '../../lab/probes.ts';
import { listNamespaces } from '../../lab/registry.ts';
import { isAlive, run } from '../../lab/run.ts';

const LAB_DIR = path.join(__dirname, '..', '..', 'lab');
const skip = labSkipReason() ?? false;

/** Injected delay is a floor; a loaded machine only adds, so the upper bound is looser. */
function near(measuredMs: number, injectedMs: number): boolean {
  return measuredMs >= injectedMs - 1 && measuredMs <= injectedMs + 8;
}

function hostsOf(hubs: Array<{ host: string }>): string[] {
  return hubs.map((hub) => hub.host);
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

  it('adds relay overhead of about a millisecond at most at delay 0 and the exact delay when set', async (t) => {
    // r1 to r2 crosses only the r1-r2 relay
    const bare = await ping(lab, 'r1', lab.addr.r2, { count: 20, interval: 0.01 });
    await lab.setLatency('r1-r2', 20);
    const delayed = await ping(lab, 'r1', lab.addr.r2, { count: 20, interval: 0.01 });
    t.diagnostic(`relay round trip at delay 0: ${bare.avgMs} ms; at 20 ms: ${delayed.avgMs} ms`);
    // bounds leave room for a loaded 2-core CI machine; typical figures are 0.3 and 20.3 ms
    assert.ok(bare.avgMs !== null && bare.avgMs < 2, `relay overhead ${bare.avgMs} ms`);
    assert.ok(
      delayed.avgMs !== null && delayed.avgMs >= 20 && delayed.avgMs < 23,
      `20 ms relay: ${delayed.avgMs} ms`,
    );
  });

  it('shows 50 ms on the underlay from hop 1 (the gateway) on, and at the gateway on the underlay path', async () => {
    await lab.setLatency('under-gw', 50);
    const [tunnelPath, underlayPath] = await Promise.all([
      mtr(lab, 'host', lab.addr.resources[0] ?? '', { count: 5, interval: 0.2 }),
      mtr(lab, 'host', lab.addr.gwUnderlay, { count: 5, interval: 0.2 }),
    ]);
    assert.deepEqual(hostsOf(tunnelPath), [...lab.addr.hopsToResource, lab.addr.resources[0]]);
    for (const hub of tunnelPath) assert.ok(near(hub.avgMs, 50), `hop ${hub.host}: ${hub.avgMs} ms`);
    assert.deepEqual(hostsOf(underlayPath), lab.addr.hopsToGateway);
    const [under, gw] = underlayPath;
    assert.ok(under !== undefined && under.bestMs < 5, `under hop ${under?.bestMs} ms`);
    assert.ok(gw !== undefined && near(gw.avgMs, 50), `gateway hop ${gw?.avgMs} ms`);
  });

  it('shows latency injected behind the gateway from hop 3 only', async () => {
    await lab.setLatency('r1-r2', 40);
    const hubs = await mtr(lab, 'host', lab.addr.resources[2] ?? '', { count: 5, interval: 0.2 });
    const avg = hubs.map((hub) => hub.avgMs);
    const best = hubs.map((hub) => hub.bestMs);
    assert.equal(hubs.length, 4);
    assert.ok((best[0] ?? 99) < 5 && (best[1] ?? 99) < 5, `hops 1-2 best: ${best.join(', ')}`);
    assert.ok(near(avg[2] ?? 0, 40) && near(avg[3] ?? 0, 40), `hops 3-4: ${avg.join(', ')}`);
  });

  it('delays a burst of 500 packets without serializing them or losing any', async () => {
    await lab.setLatency('r1-r2', 10);
    const started = performance.now();
    const burst = await ping(lab, 'r1', lab.addr.r2, { count: 500, interval: 0.002, preload: 20 });
    const elapsedMs = performance.now() - started;
    assert.equal(burst.received, 500);
    assert.ok(burst.avgMs !== null && near(burst.avgMs, 10), `average ${burst.avgMs} ms`);
    // sent over 1 s; a relay that slept 10 ms per packet would need 5 s
    assert.ok(elapsedMs < 3000, `burst took ${elapsedMs} ms`);
  });

  it('changes latency at run time without restarting the relay', async () => {
    const pidsBefore = lab.processIds();
    await lab.setLatency('r1-r2', 30);
    const first = await ping(lab, 'r1', lab.addr.r2, { count: 3 });
    await lab.setLatency('r1-r2', 10);
    const second = await ping(lab, 'r1', lab.addr.r2, { count: 3 });
    assert.deepEqual(lab.processIds(), pidsBefore);
    assert.ok(first.avgMs !== null && near(first.avgMs, 30), `30 ms: ${first.avgMs}`);
    assert.ok(second.avgMs !== null && near(second.avgMs, 10), `10 ms: ${second.avgMs}`);
  });

  it('shows 30 % loss injected at r1 on r2 and the resource, not before', async () => {
    await lab.setLoss('r1', 30);
    await lab.setLoss('r1', 30); // idempotent: one rule, not two (which would make 51 %)
    const hubs = await mtr(lab, 'host', lab.addr.resources[0] ?? '', { count: 60, interval: 0.05 });
    const loss = hubs.map((hub) => hub.lossPct);
    assert.deepEqual(hostsOf(hubs), [...lab.addr.hopsToResource, lab.addr.resources[0]]);
    assert.equal(loss[0], 0);
    assert.equal(loss[1], 0);
    for (const pct of loss.slice(2)) assert.ok(pct >= 12 && pct <= 50, `loss beyond r1: ${loss.join(', ')}`);
    const rules = await lab.exec('r1', 'iptables-save', []);
    assert.equal(rules.stdout.match(/statistic/g)?.length, 1, rules.stdout);
  });

  it('shows loss at an ICMP-rate-limited router but none at the destination', async () => {
    await lab.setIcmpRateLimit('r1', 1000);
    const hubs = await mtr(lab, 'host', lab.addr.resources[0] ?? '', { count: 20, interval: 0.1 });
    const loss = hubs.map((hub) => hub.lossPct);
    assert.deepEqual(hostsOf(hubs), [...lab.addr.hopsToResource, lab.addr.resources[0]]);
    assert.ok((loss[1] ?? 0) >= 20, `r1 hop loss: ${loss.join(', ')}`);
    assert.equal(loss[3], 0, `destination loss: ${loss.join(', ')}`);
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
      await second.setLatency('under-gw', 30);
      const [mine, theirs] = await Promise.all([
        ping(lab, 'host', lab.addr.resources[0] ?? '', { count: 3 }),
        ping(second, 'host', second.addr.resources[0] ?? '', { count: 3 }),
      ]);
      assert.ok(mine.avgMs !== null && mine.avgMs < 15, `first lab ${mine.avgMs} ms`);
      assert.ok(theirs.avgMs !== null && theirs.avgMs > 28, `second lab ${theirs.avgMs} ms`);
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
