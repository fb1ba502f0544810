/**
 * Gateway discovery against a real OpenVPN 2 client on loopback: directly,
 * through an HTTP proxy and through a SOCKS proxy. Static-key peers with
 * `--dev null`: no interface is created and no packet leaves loopback. The
 * server listens on 127.0.0.3, the proxies on 127.0.0.2 and 127.0.0.4, so the
 * server's address and the proxy's cannot be confused.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { discoverGateway, type GatewayDiscoveryOptions } from '../../../agent/gateway/discover-gateway.ts';
import { runProcess } from '../../../agent/process/run-process.ts';
import { type LoopbackProxy, startHttpConnectProxy, startSocks5Proxy } from './loopback-proxies.ts';

const openvpnMissing =
  spawnSync('openvpn', ['--version'], { encoding: 'utf8' }).status === null
    ? 'openvpn is not installed'
    : false;
const MISSING = path.join(os.tmpdir(), 'no-such-dir-for-gateway-tests', 'openvpn3');
const tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gateway-real-openvpn-'));
const children: ChildProcess[] = [];
after(() => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  fs.rmSync(tempDir, { recursive: true, force: true });
});

function options(overrides: Partial<GatewayDiscoveryOptions>): GatewayDiscoveryOptions {
  return {
    gatewayIp: null,
    openvpnManagement: null,
    openvpnLog: null,
    timeoutMs: 5000,
    openvpn3Binary: MISSING,
    openvpn3AdminBinary: MISSING,
    ...overrides,
  };
}

/** A port free for TCP (and, with `udp`, UDP) on `host` a moment ago. */
async function freePort(host: string, udp = false): Promise<number> {
  for (;;) {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, host, resolve));
    const address = server.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    if (!udp) return port;
    const socket = dgram.createSocket('udp4');
    const ok = await new Promise<boolean>((resolve) => {
      socket.once('error', () => resolve(false));
      socket.bind(port, host, () => resolve(true));
    });
    await new Promise<void>((resolve) => socket.close(() => resolve()));
    if (ok) return port;
  }
}

let keyPath = '';
const STATIC = (): string[] => [
  '--dev',
  'null',
  '--secret',
  keyPath,
  '--cipher',
  'AES-256-CBC',
  '--auth',
  'SHA256',
  '--ping',
  '1',
];

function openvpn(args: string[]): ChildProcess {
  const child = spawn('openvpn', args, { stdio: 'ignore' });
  children.push(child);
  return child;
}

async function waitForLine(file: string, text: string, withinMs: number): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (Date.now() < deadline) {
    if (fs.existsSync(file) && fs.readFileSync(file, 'utf8').includes(text)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const seen = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').slice(-2000) : '(no log)';
  assert.fail(`"${text}" not logged within ${withinMs} ms:\n${seen}`);
}

/** A TCP server on 127.0.0.3 and a client reaching it through `proxy`; resolves when the client is connected. */
async function tcpClientThrough(
  name: string,
  proxyArgs: string[],
  extra: string[] = [],
): Promise<{ log: string; management: string }> {
  const [serverPort, managementPort] = [await freePort('127.0.0.3'), await freePort('127.0.0.1')];
  openvpn([...STATIC(), '--proto', 'tcp-server', '--local', '127.0.0.3', '--lport', String(serverPort)]);
  const log = path.join(tempDir, `${name}.log`);
  // The server may need a moment to listen: the client retries every second.
  openvpn([
    ...STATIC(),
    '--proto',
    'tcp-client',
    '--remote',
    '127.0.0.3',
    String(serverPort),
    '--connect-retry',
    '1',
    '1',
    ...proxyArgs,
    '--management',
    '127.0.0.1',
    String(managementPort),
    '--log',
    log,
    '--verb',
    '3',
    ...extra,
  ]);
  await waitForLine(log, 'Initialization Sequence Completed', 20_000);
  return { log, management: `127.0.0.1:${managementPort}` };
}

describe('discoverGateway against a real OpenVPN 2.6 client on loopback', { skip: openvpnMissing }, () => {
  const proxies: LoopbackProxy[] = [];
  before(() => {
    keyPath = path.join(tempDir, 'static.key');
    const genkey = spawnSync('openvpn', ['--genkey', 'secret', keyPath], { encoding: 'utf8' });
    assert.equal(genkey.status, 0, genkey.stderr);
  });
  after(async () => {
    for (const proxy of proxies) await proxy.close();
  });

  it('finds the peer address through the management interface and the log of a direct UDP connection', async () => {
    // Prepare: two static-key UDP peers on 127.0.0.1.
    const logPath = path.join(tempDir, 'direct.log');
    const [portA, portB, managementPort] = [
      await freePort('127.0.0.1', true),
      await freePort('127.0.0.1', true),
      await freePort('127.0.0.1'),
    ];
    const peer = (local: number, remote: number, extra: string[]): void => {
      openvpn([
        ...STATIC(),
        '--local',
        '127.0.0.1',
        '--lport',
        String(local),
        '--remote',
        '127.0.0.1',
        '--rport',
        String(remote),
        ...extra,
      ]);
    };
    peer(portA, portB, [
      '--management',
      '127.0.0.1',
      String(managementPort),
      '--log',
      logPath,
      '--verb',
      '3',
    ]);
    peer(portB, portA, []);
    await waitForLine(logPath, 'Initialization Sequence Completed', 20_000);

    // Act
    const fromManagement = await discoverGateway(
      options({ openvpnManagement: `127.0.0.1:${managementPort}` }),
      {
        run: runProcess,
      },
    );
    const fromLog = await discoverGateway(options({ openvpnLog: logPath }), { run: runProcess });

    // Assess
    assert.deepEqual(fromManagement, {
      ip: '127.0.0.1',
      source: 'openvpn2-management',
      warnings: [],
      errors: [],
    });
    assert.deepEqual(fromLog, { ip: '127.0.0.1', source: 'openvpn2-log', warnings: [], errors: [] });
  });

  it('traces the server behind an HTTP proxy, not the proxy the socket and `state` show', async () => {
    // Prepare
    const proxy = await startHttpConnectProxy('127.0.0.2');
    proxies.push(proxy);
    const client = await tcpClientThrough('http-proxy', ['--http-proxy', proxy.host, String(proxy.port)]);

    // Act
    const fromLog = await discoverGateway(options({ openvpnLog: client.log }), { run: runProcess });
    const fromManagement = await discoverGateway(options({ openvpnManagement: client.management }), {
      run: runProcess,
    });
    const fromBoth = await discoverGateway(
      options({ openvpnManagement: client.management, openvpnLog: client.log }),
      {
        run: runProcess,
      },
    );

    // Assess
    assert.match(proxy.requested[0] ?? '', /^127\.0\.0\.3:\d+$/);
    const through = new RegExp(
      `through HTTP proxy 127\\.0\\.0\\.2:${proxy.port} to 127\\.0\\.0\\.3:\\d+; 127\\.0\\.0\\.3 is traced directly`,
    );
    assert.equal(fromLog.ip, '127.0.0.3', JSON.stringify(fromLog));
    assert.equal(fromLog.source, 'openvpn2-log');
    assert.match(fromLog.warnings[0] ?? '', through);
    assert.equal(fromManagement.ip, '127.0.0.3', JSON.stringify(fromManagement));
    assert.equal(fromManagement.source, 'openvpn2-management');
    assert.match(fromManagement.warnings[0] ?? '', /management log cache.*pass --openvpn-log too/);
    assert.equal(fromBoth.ip, '127.0.0.3');
    assert.equal(fromBoth.source, 'openvpn2-management');
    assert.doesNotMatch(fromBoth.warnings.join('\n'), /management log cache/);
  });

  it('reads the server behind a SOCKS proxy from the verb 4 option dump', async () => {
    // Prepare
    const proxy = await startSocks5Proxy('127.0.0.4');
    proxies.push(proxy);
    const socks = ['--socks-proxy', proxy.host, String(proxy.port)];
    const verbose = await tcpClientThrough('socks-verb4', socks, ['--verb', '4']);

    // Act
    const found = await discoverGateway(options({ openvpnLog: verbose.log }), { run: runProcess });

    // Assess
    assert.match(proxy.requested[0] ?? '', /^127\.0\.0\.3:\d+$/);
    assert.equal(found.ip, '127.0.0.3', JSON.stringify(found));
    assert.match(
      found.warnings[0] ?? '',
      new RegExp(`through SOCKS proxy 127\\.0\\.0\\.4:${proxy.port} to 127\\.0\\.0\\.3:\\d+`),
    );
  });
});
