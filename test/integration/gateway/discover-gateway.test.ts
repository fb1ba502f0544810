import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { discoverGateway, type GatewayDiscoveryOptions } from '../../../agent/gateway/discover-gateway.ts';
import { runProcess } from '../../../agent/process/run-process.ts';
import type { RunProcess } from '../../../agent/process/types.ts';
import { assertEndedByDeadline } from '../../helpers/deadline.ts';

const BIN = path.join(__dirname, '..', '..', 'fixtures', 'bin');
const FIXTURES = path.join(__dirname, '..', '..', 'fixtures', 'openvpn');
const MISSING = path.join(os.tmpdir(), 'no-such-dir-for-gateway-tests', 'openvpn3');

const tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gateway-discovery-test-'));
after(() => fs.rmSync(tempDir, { recursive: true, force: true }));

function options(overrides: Partial<GatewayDiscoveryOptions>): GatewayDiscoveryOptions {
  return {
    gatewayIp: null,
    openvpnManagement: null,
    openvpnLog: null,
    timeoutMs: 3000,
    openvpn3Binary: MISSING,
    openvpn3AdminBinary: MISSING,
    ...overrides,
  };
}

function recordingRun(): { run: RunProcess; commands: string[][] } {
  const commands: string[][] = [];
  const run: RunProcess = (file, args, runOptions) => {
    commands.push([file, ...args]);
    return runProcess(file, args, runOptions);
  };
  return { run, commands };
}

/** A loopback management server that greets and answers `state` with `answer`. */
async function startManagement(answer: string): Promise<{ endpoint: string; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.write(">INFO:OpenVPN Management Interface Version 5 -- type 'help' for more info\r\n");
    socket.on('data', (chunk) => {
      if (chunk.toString().includes('state\r\n')) socket.write(answer);
      if (chunk.toString().includes('quit\r\n')) socket.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    endpoint: `127.0.0.1:${port}`,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('discoverGateway: option and OpenVPN 3', () => {
  it('uses --gateway-ip without running any command', async () => {
    const { run, commands } = recordingRun();

    const result = await discoverGateway(
      options({ gatewayIp: ' 198.51.100.1 ', openvpn3Binary: path.join(BIN, 'openvpn3-v24', 'openvpn3') }),
      { run },
    );

    assert.deepEqual(result, { ip: '198.51.100.1', source: 'option', warnings: [], errors: [] });
    assert.deepEqual(commands, []);
  });

  it('records an invalid --gateway-ip and discovers the gateway instead', async () => {
    const result = await discoverGateway(
      options({ gatewayIp: 'gw.example.com', openvpn3Binary: path.join(BIN, 'openvpn3-v24', 'openvpn3') }),
      { run: runProcess },
    );

    assert.equal(result.ip, '203.0.113.10');
    assert.equal(result.errors[0]?.code, 'E_INVALID_INPUT');
  });

  it('takes the address from the v24 Connected to line of openvpn3 sessions-list', async () => {
    const { run, commands } = recordingRun();

    const result = await discoverGateway(
      options({ openvpn3Binary: path.join(BIN, 'openvpn3-v24', 'openvpn3') }),
      {
        run,
      },
    );

    assert.deepEqual(result, { ip: '203.0.113.10', source: 'openvpn3', warnings: [], errors: [] });
    assert.deepEqual(commands, [[path.join(BIN, 'openvpn3-v24', 'openvpn3'), 'sessions-list']]);
  });

  it('finds openvpn3 and openvpn3-admin through PATH and reads the v23 session journal', async () => {
    // Prepare: the default binary names, resolved through PATH like on a host.
    const savedPath = process.env.PATH;
    process.env.PATH = `${path.join(BIN, 'openvpn3-v23-journal')}:${savedPath ?? ''}`;
    const { run, commands } = recordingRun();
    try {
      // Act
      const result = await discoverGateway(
        { gatewayIp: null, openvpnManagement: null, openvpnLog: null, timeoutMs: 3000 },
        { run },
      );

      // Assess
      assert.deepEqual(result, { ip: '77.61.186.235', source: 'openvpn3', warnings: [], errors: [] });
      assert.deepEqual(commands, [
        ['openvpn3', 'sessions-list'],
        [
          'openvpn3-admin',
          'journal',
          '--path',
          '/net/openvpn/v3/sessions/3293277a9210jnjka992929hhnajk423837a',
        ],
      ]);
    } finally {
      process.env.PATH = savedPath;
    }
  });

  it('records a failing journal with its evidence and moves on to the management interface', async () => {
    const dir = path.join(BIN, 'openvpn3-v23-journal-denied');
    const management = await startManagement(
      '1712345678,CONNECTED,SUCCESS,10.8.0.2,203.0.113.5,1194,,\r\nEND\r\n',
    );
    try {
      const result = await discoverGateway(
        options({
          openvpn3Binary: path.join(dir, 'openvpn3'),
          openvpn3AdminBinary: path.join(dir, 'openvpn3-admin'),
          openvpnManagement: management.endpoint,
        }),
        { run: runProcess },
      );

      assert.equal(result.ip, '203.0.113.5');
      assert.equal(result.source, 'openvpn2-management');
      assert.equal(result.errors.length, 1);
      const [error] = result.errors;
      assert.equal(error?.code, 'E_GATEWAY');
      assert.equal(error?.exitCode, 1);
      assert.equal(error?.command?.[1], 'journal');
      assert.match(error?.stderr ?? '', /Access denied/);
      assert.match(
        error?.message ?? '',
        /openvpn3-admin journal exited with 1: \*\* ERROR \*\* Access denied/,
      );
    } finally {
      await management.close();
    }
  });

  it('records a non-zero sessions-list exit and falls back to the client log', async () => {
    const result = await discoverGateway(
      options({
        openvpn3Binary: path.join(BIN, 'openvpn3-failing', 'openvpn3'),
        openvpnLog: path.join(FIXTURES, 'client-reconnect.log'),
      }),
      { run: runProcess },
    );

    assert.equal(result.ip, '203.0.113.6');
    assert.equal(result.source, 'openvpn2-log');
    assert.equal(result.errors[0]?.exitCode, 1);
    assert.match(result.errors[0]?.stderr ?? '', /D-Bus/);
  });

  it('stops a hanging openvpn3 at the timeout and records it', async () => {
    const started = Date.now();

    const result = await discoverGateway(
      options({ openvpn3Binary: path.join(BIN, 'openvpn3-hanging', 'openvpn3'), timeoutMs: 300 }),
      { run: runProcess },
    );

    assert.equal(result.ip, null);
    assertEndedByDeadline(Date.now() - started, {
      deadlineMs: 300,
      alternativeMs: 30_000,
      alternative: 'the stand-in finishing its `sleep 30`',
    });
    assert.equal(result.errors[0]?.code, 'E_GATEWAY');
    assert.match(result.errors[0]?.message ?? '', /did not finish within 300 ms/);
    assert.match(result.warnings.at(-1) ?? '', /openvpn3 sessions-list failed/);
  });

  it('explains what was tried when openvpn3 is missing and no OpenVPN 2 source is given', async () => {
    const result = await discoverGateway(options({}), { run: runProcess });

    assert.deepEqual(result, {
      ip: null,
      source: null,
      warnings: [
        `no gateway found: ${MISSING} not installed; no --openvpn-management or --openvpn-log given; pass --gateway-ip`,
      ],
      errors: [],
    });
  });

  it('reports no sessions only in the final warning', async () => {
    const result = await discoverGateway(
      options({ openvpn3Binary: path.join(BIN, 'openvpn3-none', 'openvpn3') }),
      {
        run: runProcess,
      },
    );

    assert.equal(result.ip, null);
    assert.equal(result.warnings.length, 1);
    assert.match(
      result.warnings[0] ?? '',
      /^no gateway found: openvpn3: openvpn3 lists no sessions; no --openvpn/,
    );
  });

  it('does not guess between several unknown sessions', async () => {
    const result = await discoverGateway(
      options({ openvpn3Binary: path.join(BIN, 'openvpn3-several-unknown', 'openvpn3') }),
      { run: runProcess },
    );

    assert.equal(result.ip, null);
    assert.match(result.warnings[0] ?? '', /2 openvpn3 sessions and none looks like CloudConnexa/);
  });
});

describe('discoverGateway: OpenVPN 2 sources', () => {
  it('records an unreachable management interface and reads the log next', async () => {
    const logPath = path.join(tempDir, 'client.log');
    fs.writeFileSync(logPath, 'Sat Apr  5 10:00:00 2025 UDPv4 link remote: [AF_INET]203.0.113.44:1194\n');

    const result = await discoverGateway(
      options({ openvpnManagement: path.join(tempDir, 'absent.sock'), openvpnLog: logPath }),
      { run: runProcess },
    );

    assert.equal(result.ip, '203.0.113.44');
    assert.equal(result.source, 'openvpn2-log');
    assert.equal(result.errors[0]?.code, 'E_GATEWAY');
    assert.match(result.errors[0]?.message ?? '', /ENOENT/);
  });

  it('records a malformed management endpoint as E_INVALID_INPUT', async () => {
    const result = await discoverGateway(options({ openvpnManagement: 'localhost' }), { run: runProcess });

    assert.equal(result.ip, null);
    assert.equal(result.errors[0]?.code, 'E_INVALID_INPUT');
  });

  it('warns when the management interface is not CONNECTED but names a remote', async () => {
    const management = await startManagement('1712345678,TCP_CONNECT,,,203.0.113.8,443,,\r\nEND\r\n');
    try {
      const result = await discoverGateway(options({ openvpnManagement: management.endpoint }), {
        run: runProcess,
      });

      assert.equal(result.ip, '203.0.113.8');
      assert.match(result.warnings[0] ?? '', /state TCP_CONNECT, not CONNECTED/);
    } finally {
      await management.close();
    }
  });

  it('reads only the last 256 KiB of a long log, where the newest remote is', async () => {
    // Prepare: an old remote at the head, pushed out of the tail by filler, and the newest at the end.
    const logPath = path.join(tempDir, 'long.log');
    const filler =
      'Sat Apr  5 10:00:00 2025 MANAGEMENT: Client connected from [AF_INET]127.0.0.1:5000\n'.repeat(4000);
    fs.writeFileSync(logPath, `UDPv4 link remote: [AF_INET]192.0.2.1:1194\n${filler}`);
    const withNewest = path.join(tempDir, 'long-newest.log');
    fs.writeFileSync(withNewest, `${filler}UDPv6 link remote: [AF_INET6]2001:db8::7:1194\n`);

    // Act
    const old = await discoverGateway(options({ openvpnLog: logPath }), { run: runProcess });
    const newest = await discoverGateway(options({ openvpnLog: withNewest }), { run: runProcess });

    // Assess
    assert.ok(fs.statSync(logPath).size > 256 * 1024);
    assert.equal(old.ip, null);
    assert.match(
      old.warnings[0] ?? '',
      /no "link remote:" or "Peer Connection Initiated" line in its last 256 KiB/,
    );
    assert.equal(newest.ip, '2001:db8::7');
  });

  it('turns an IPv4-mapped log address into plain IPv4 for mtr', async () => {
    const result = await discoverGateway(
      options({ openvpnLog: path.join(FIXTURES, 'client-ipv4-mapped.log') }),
      {
        run: runProcess,
      },
    );

    assert.equal(result.ip, '203.0.113.80');
  });

  it('records an unreadable log file with its path', async () => {
    const missingLog = path.join(tempDir, 'missing.log');

    const result = await discoverGateway(options({ openvpnLog: missingLog }), { run: runProcess });

    assert.equal(result.ip, null);
    assert.match(result.errors[0]?.message ?? '', /cannot read --openvpn-log ".*missing\.log": ENOENT/);
  });
});

const openvpnAvailable = spawnSync('openvpn', ['--version'], { encoding: 'utf8' }).status !== null;

/** A port that is free for both TCP and UDP on 127.0.0.1 a moment ago. */
async function freePort(): Promise<number> {
  for (;;) {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const udp = dgram.createSocket('udp4');
    const ok = await new Promise<boolean>((resolve) => {
      udp.once('error', () => resolve(false));
      udp.bind(port, '127.0.0.1', () => resolve(true));
    });
    await new Promise<void>((resolve) => udp.close(() => resolve()));
    if (ok) return port;
  }
}

describe('discoverGateway against a real OpenVPN 2 on loopback', {
  skip: openvpnAvailable ? false : 'openvpn is not installed',
}, () => {
  const children: ChildProcess[] = [];
  after(() => {
    for (const child of children)
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  });

  it('finds the peer address through the management interface and the log of a real openvpn', async () => {
    // Prepare: two static-key peers on 127.0.0.1 with --dev null: no interface, no packet leaves loopback.
    const keyPath = path.join(tempDir, 'static.key');
    const logPath = path.join(tempDir, 'real-openvpn.log');
    const genkey = spawnSync('openvpn', ['--genkey', 'secret', keyPath], { encoding: 'utf8' });
    assert.equal(genkey.status, 0, genkey.stderr);
    const [portA, portB, managementPort] = [await freePort(), await freePort(), await freePort()];
    const common = [
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
    const peer = (local: number, remote: number, extra: string[]): ChildProcess => {
      const child = spawn(
        'openvpn',
        [
          ...common,
          '--local',
          '127.0.0.1',
          '--lport',
          String(local),
          '--remote',
          '127.0.0.1',
          '--rport',
          String(remote),
          ...extra,
        ],
        { stdio: 'ignore' },
      );
      children.push(child);
      return child;
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
    const endpoint = `127.0.0.1:${managementPort}`;

    // Act: poll until the tunnel is up (static key: no handshake, usually within a second).
    let found = await discoverGateway(options({ openvpnManagement: endpoint, timeoutMs: 1000 }), {
      run: runProcess,
    });
    const deadline = Date.now() + 15_000;
    while (found.source !== 'openvpn2-management' && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      found = await discoverGateway(options({ openvpnManagement: endpoint, timeoutMs: 1000 }), {
        run: runProcess,
      });
    }
    const fromLog = await discoverGateway(options({ openvpnLog: logPath }), { run: runProcess });

    // Assess
    assert.equal(found.ip, '127.0.0.1', JSON.stringify(found));
    assert.equal(found.source, 'openvpn2-management');
    assert.equal(fromLog.ip, '127.0.0.1');
    assert.equal(fromLog.source, 'openvpn2-log');
  });
});
