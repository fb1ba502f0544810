/**
 * The tunnel's state from the gateway discovery pass (`observeTunnel`):
 * stand-in `openvpn3` executables (test/fixtures/bin/openvpn3-*) through the
 * real process runner, a tiny management interface on loopback, client log
 * files, and sysfs-like directories for the tun devices. One pass, one
 * deadline: each source is asked once.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { discoverGateway, type GatewayDiscoveryOptions } from '../../../agent/gateway/discover-gateway.ts';
import { runProcess } from '../../../agent/process/run-process.ts';
import type { RunProcess } from '../../../agent/process/types.ts';
import { GATEWAY_DISCOVERY_TIMEOUT_MS } from '../../../common/round-budget.ts';
import { answer, startFakeManagement } from './fake-management.ts';

const BIN = path.join(__dirname, '..', '..', 'fixtures', 'bin');
const FIXTURES = path.join(__dirname, '..', '..', 'fixtures', 'openvpn');
const MISSING = path.join(os.tmpdir(), 'no-such-dir-for-tunnel-tests', 'openvpn3');
const SESSION = '/net/openvpn/v3/sessions/7f1c2a9es4b03s4a1bs9c11sd2e6f0a8b7c5';
const tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'observe-tunnel-test-'));
after(() => fs.rmSync(tempDir, { recursive: true, force: true }));
const fixture = (name: string): string => fs.readFileSync(path.join(FIXTURES, name), 'utf8');

let cases = 0;
/** A sysfs-like directory with the given tun devices (`[name, operstate]`), or none. */
function sysClassNet(devices: Array<[string, string]> = []): string {
  const dir = path.join(tempDir, `net-${++cases}`);
  fs.mkdirSync(dir);
  for (const [name, operstate] of devices) {
    fs.mkdirSync(path.join(dir, name));
    fs.writeFileSync(path.join(dir, name, 'operstate'), `${operstate}\n`);
    fs.writeFileSync(path.join(dir, name, 'flags'), '0x1091\n');
    fs.writeFileSync(path.join(dir, name, 'tun_flags'), '0x1001\n');
  }
  return dir;
}

function options(overrides: Partial<GatewayDiscoveryOptions>): GatewayDiscoveryOptions {
  return {
    gatewayIp: null,
    openvpnManagement: null,
    openvpnLog: null,
    timeoutMs: GATEWAY_DISCOVERY_TIMEOUT_MS,
    openvpn3Binary: MISSING,
    openvpn3AdminBinary: MISSING,
    observeTunnel: true,
    sysClassNet: sysClassNet(),
    ...overrides,
  };
}

function standIn(dir: string): Partial<GatewayDiscoveryOptions> {
  return {
    openvpn3Binary: path.join(BIN, dir, 'openvpn3'),
    openvpn3AdminBinary: path.join(BIN, dir, 'openvpn3-admin'),
  };
}

function recordingRun(): { run: RunProcess; commands: string[][] } {
  const commands: string[][] = [];
  const run: RunProcess = (file, args, runOptions) => {
    commands.push([path.basename(file), ...args]);
    return runProcess(file, args, runOptions);
  };
  return { run, commands };
}

function logFile(text: string): string {
  const file = path.join(tempDir, `client-${++cases}.log`);
  fs.writeFileSync(file, text);
  return file;
}

/** A loopback TCP port nothing listens on (connections are refused). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return typeof address === 'object' && address !== null ? address.port : 0;
}

describe('discoverGateway with observeTunnel: OpenVPN 3', () => {
  it('tells the connected session up with its counters, from sessions-list and session-stats in the same pass', async () => {
    const { run, commands } = recordingRun();
    const found = await discoverGateway(options(standIn('openvpn3-v24-stats')), { run });
    assert.equal(found.ip, '203.0.113.10');
    assert.deepEqual(found.warnings, []);
    assert.deepEqual(found.tunnel, {
      state: 'up',
      source: 'openvpn3',
      detail: 'Connection, Client connected',
      sinceMs: null,
      counterKey: `openvpn3 ${SESSION}`,
      counters: { bytesIn: 1_843_200, bytesOut: 512_340, reconnects: 2 },
      history: null,
    });
    assert.deepEqual(commands, [
      ['openvpn3', 'sessions-list'],
      ['openvpn3', 'session-stats', '--path', SESSION],
    ]);
  });

  it('asks the sources for the tunnel even with --gateway-ip, but does not read the journal the address would need', async () => {
    const { run, commands } = recordingRun();
    const found = await discoverGateway(
      options({ gatewayIp: '198.51.100.1', ...standIn('openvpn3-reconnecting') }),
      { run },
    );
    assert.deepEqual(
      [found.ip, found.source, found.warnings, found.errors],
      ['198.51.100.1', 'option', [], []],
    );
    assert.equal(found.tunnel?.state, 'reconnecting');
    assert.match(
      found.tunnel?.detail ?? '',
      /^Connection, Client reconnect \(no counters: openvpn3 session-stats exited with 2/,
    );
    assert.deepEqual(
      commands.map((c) => c.slice(0, 2)),
      [
        ['openvpn3', 'sessions-list'],
        ['openvpn3', 'session-stats'],
      ],
    );
  });

  it('leaves discovery as it was without observeTunnel: no session-stats, no tunnel', async () => {
    const { run, commands } = recordingRun();
    const found = await discoverGateway(options({ ...standIn('openvpn3-v24-stats'), observeTunnel: false }), {
      run,
    });
    assert.deepEqual(found, { ip: '203.0.113.10', source: 'openvpn3', warnings: [], errors: [] });
    assert.deepEqual(commands, [['openvpn3', 'sessions-list']]);
  });

  it('reads openvpn3 without sessions as down, unless a tun device tells more', async () => {
    const none = await discoverGateway(options(standIn('openvpn3-none')), { run: runProcess });
    assert.deepEqual(
      [none.tunnel?.state, none.tunnel?.source, none.tunnel?.detail],
      ['down', 'openvpn3', 'openvpn3 lists no sessions'],
    );
    const withTun = await discoverGateway(
      options({ ...standIn('openvpn3-none'), sysClassNet: sysClassNet([['tun0', 'unknown']]) }),
      { run: runProcess },
    );
    assert.deepEqual(
      [withTun.tunnel?.state, withTun.tunnel?.source, withTun.tunnel?.detail],
      ['up', 'tun-device', 'tun0 operstate unknown'],
    );
  });
});

describe('discoverGateway with observeTunnel: OpenVPN 2 and the fallbacks', () => {
  it('takes the management interface first: its state history, `status` counters, and the outage start', async () => {
    const management = await startFakeManagement({
      answers: {
        'state all': fixture('mgmt-real-2.6-state-all-reconnecting.txt'),
        'log 500': answer(),
        status: fixture('mgmt-real-2.6-status.txt'),
      },
    });
    try {
      const found = await discoverGateway(
        options({ openvpnManagement: management.endpoint, ...standIn('openvpn3-v24-stats') }),
        { run: runProcess },
      );
      assert.equal(found.ip, '127.0.0.1', 'the last connected server while reconnecting');
      assert.equal(found.source, 'openvpn2-management');
      assert.deepEqual(found.tunnel, {
        state: 'reconnecting',
        source: 'openvpn2-management',
        detail: 'ASSIGN_IP, after RECONNECTING SIGUSR1',
        sinceMs: 1_796_037_602_000,
        counterKey: `openvpn2-management ${management.endpoint}`,
        counters: { bytesIn: 320, bytesOut: 400, reconnects: null },
        history: {
          newest: 1_796_037_603,
          restarts: [1_796_037_582, 1_796_037_591, 1_796_037_602],
          reconnects: [1_796_037_591, 1_796_037_602],
        },
      });
      await management.receivedLine('quit');
      assert.deepEqual(management.received, ['state all', 'log 500', 'status', 'quit']);
    } finally {
      await management.close();
    }
  });

  it('keeps the state when an older interface refuses `status`: no counters', async () => {
    const management = await startFakeManagement({
      answers: { 'state all': fixture('mgmt-real-2.6-udp4.txt'), 'log 500': answer() },
    });
    try {
      const found = await discoverGateway(options({ openvpnManagement: management.endpoint }), {
        run: runProcess,
      });
      assert.deepEqual(
        [found.tunnel?.state, found.tunnel?.detail, found.tunnel?.counters],
        ['up', 'CONNECTED SUCCESS', null],
      );
    } finally {
      await management.close();
    }
  });

  it('reads a refused management interface as down, after the tun devices and after an exited log', async () => {
    const endpoint = `127.0.0.1:${await closedPort()}`;
    const refused = await discoverGateway(options({ openvpnManagement: endpoint }), { run: runProcess });
    assert.deepEqual([refused.tunnel?.state, refused.tunnel?.source], ['down', 'openvpn2-management']);
    assert.match(
      refused.tunnel?.detail ?? '',
      /refuses connections \(ECONNREFUSED\): no OpenVPN client is listening$/,
    );

    const tun = await discoverGateway(
      options({ openvpnManagement: endpoint, sysClassNet: sysClassNet([['ovpn0', 'unknown']]) }),
      { run: runProcess },
    );
    assert.deepEqual([tun.tunnel?.state, tun.tunnel?.source], ['up', 'tun-device']);

    const log = logFile(fixture('client-real-2.6-udp6.log'));
    const exited = await discoverGateway(
      options({ openvpnManagement: endpoint, openvpnLog: log, sysClassNet: sysClassNet([['ovpn0', 'up']]) }),
      { run: runProcess },
    );
    assert.deepEqual([exited.tunnel?.state, exited.tunnel?.source], ['down', 'openvpn2-log']);
    assert.match(exited.tunnel?.detail ?? '', /SIGTERM\[hard,\] received, process exiting$/);
  });

  it('reads the log alone: up after Initialization Sequence Completed', async () => {
    const found = await discoverGateway(options({ openvpnLog: logFile(fixture('client-reconnect.log')) }), {
      run: runProcess,
    });
    assert.deepEqual(
      [found.tunnel?.state, found.tunnel?.source, found.tunnel?.detail],
      ['up', 'openvpn2-log', 'connected to 203.0.113.6'],
    );
  });

  it('says unknown, and what was tried, when nothing answers and there is no tun device', async () => {
    const found = await discoverGateway(options({}), { run: runProcess });
    assert.deepEqual([found.tunnel?.state, found.tunnel?.source], ['unknown', null]);
    assert.match(
      found.tunnel?.detail ?? '',
      /^no OpenVPN client answered and no tun device: .*openvpn3 not installed; no --openvpn-management or --openvpn-log given$/,
    );
  });
});
