/**
 * Gateway discovery from OpenVPN 2 sources as connectors leave them after
 * weeks of running: client log files (proxies, reconnects, long and rotated
 * logs, files that are not logs at all) and a tiny management interface on
 * loopback (pre-2.4 lines, reconnect history, password prompt, silence).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { discoverGateway, type GatewayDiscoveryOptions } from '../../../agent/gateway/discover-gateway.ts';
import { runProcess } from '../../../agent/process/run-process.ts';
import { GATEWAY_DISCOVERY_TIMEOUT_MS } from '../../../common/round-budget.ts';
import { assertEndedByDeadline, halfwayMs } from '../../helpers/deadline.ts';
import { answer, startFakeManagement } from './fake-management.ts';

const FIXTURES = path.join(__dirname, '..', '..', 'fixtures', 'openvpn');
const MISSING = path.join(os.tmpdir(), 'no-such-dir-for-gateway-tests', 'openvpn3');
const tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gateway-openvpn2-test-'));
after(() => fs.rmSync(tempDir, { recursive: true, force: true }));
const fixture = (name: string): string => fs.readFileSync(path.join(FIXTURES, name), 'utf8');

function options(overrides: Partial<GatewayDiscoveryOptions>): GatewayDiscoveryOptions {
  return {
    gatewayIp: null,
    openvpnManagement: null,
    openvpnLog: null,
    timeoutMs: GATEWAY_DISCOVERY_TIMEOUT_MS,
    openvpn3Binary: MISSING,
    openvpn3AdminBinary: MISSING,
    ...overrides,
  };
}

let caseNumber = 0;
/** A directory of its own per case, holding `openvpn.log` with `text` (and whatever the case adds). */
function logCase(text: string): { dir: string; log: string } {
  caseNumber += 1;
  const dir = path.join(tempDir, `case-${caseNumber}`);
  fs.mkdirSync(dir);
  const log = path.join(dir, 'openvpn.log');
  fs.writeFileSync(log, text);
  return { dir, log };
}

const discover = (overrides: Partial<GatewayDiscoveryOptions>) =>
  discoverGateway(options(overrides), { run: runProcess });

const BANNER =
  '2025-04-05 10:00:00 OpenVPN 2.6.14 x86_64-pc-linux-gnu [SSL (OpenSSL)] [LZO] [LZ4] [EPOLL] [PKCS11] [MH/PKTINFO] [AEAD] [DCO]';
/** What the monitor's own management queries add to the log every round (verb 3). */
const CHATTER = [
  '2025-04-06 00:00:00 MANAGEMENT: Client connected from [AF_INET]127.0.0.1:51234',
  "2025-04-06 00:00:00 MANAGEMENT: CMD 'state all'",
  "2025-04-06 00:00:00 MANAGEMENT: CMD 'log 500'",
  "2025-04-06 00:00:00 MANAGEMENT: CMD 'quit'",
  '2025-04-06 00:00:00 MANAGEMENT: Client disconnected',
  '',
].join('\n');

function connected(ip: string, port = 1194, transport = 'UDPv4'): string {
  return [
    BANNER,
    `2025-04-05 10:00:00 ${transport} link remote: [AF_INET]${ip}:${port}`,
    `2025-04-05 10:00:01 [de-fra.gw.openvpn.com] Peer Connection Initiated with [AF_INET]${ip}:${port}`,
    '2025-04-05 10:00:02 Initialization Sequence Completed',
    '',
  ].join('\n');
}

function throughHttpProxy(target: string): string {
  return [
    BANNER,
    '2025-04-05 10:00:00 Attempting to establish TCP connection with [AF_INET]10.0.0.8:3128',
    '2025-04-05 10:00:00 TCP connection established with [AF_INET]10.0.0.8:3128',
    `2025-04-05 10:00:00 Send to HTTP proxy: 'CONNECT ${target} HTTP/1.1'`,
    "2025-04-05 10:00:00 HTTP proxy returned: 'HTTP/1.1 200 Connection established'",
    '2025-04-05 10:00:00 TCPv4_CLIENT link local: (not bound)',
    '2025-04-05 10:00:00 TCPv4_CLIENT link remote: [AF_INET]10.0.0.8:3128',
    '2025-04-05 10:00:01 [server] Peer Connection Initiated with [AF_INET]10.0.0.8:3128',
    '2025-04-05 10:00:02 Initialization Sequence Completed',
    '',
  ].join('\n');
}

describe('discoverGateway: OpenVPN 2 client log through a proxy', () => {
  it('traces the server a real 2.6 client asked its HTTP proxy for, not the proxy', async () => {
    const { log } = logCase(fixture('client-real-2.6-http-proxy.log'));

    const result = await discover({ openvpnLog: log });

    assert.equal(result.ip, '127.0.0.3');
    assert.equal(result.source, 'openvpn2-log');
    assert.deepEqual(result.warnings, [
      `--openvpn-log ${log}: the tunnel runs through HTTP proxy 127.0.0.2:18080 to 127.0.0.3:11194; 127.0.0.3 is traced directly from this host`,
    ]);
  });

  it('resolves a CONNECT host name with the system resolver and says the proxy may see another address', async () => {
    // `localhost` resolves from /etc/hosts: the lookup never leaves the machine.
    const { log } = logCase(throughHttpProxy('localhost:1194'));

    const result = await discover({ openvpnLog: log });

    assert.ok(result.ip === '127.0.0.1' || result.ip === '::1', JSON.stringify(result));
    assert.match(
      result.warnings[0] ?? '',
      /through HTTP proxy 10\.0\.0\.8:3128 to localhost:1194, a name the proxy resolves on its side: localhost resolves on this host to (127\.0\.0\.1|::1), which is traced .*pass --gateway-ip to choose/,
    );
  });

  it('splits an unbracketed IPv6 CONNECT target at its last colon', async () => {
    const { log } = logCase(throughHttpProxy('2001:db8::50:443'));

    const result = await discover({ openvpnLog: log });

    assert.equal(result.ip, '2001:db8::50');
  });

  it('gives no address, and says why, when the CONNECT target is not a usable server', async () => {
    const { log } = logCase(throughHttpProxy('gw_bad!name:1194'));

    const result = await discover({ openvpnLog: log });

    assert.equal(result.ip, null);
    assert.match(
      result.warnings.at(-1) ?? '',
      /through HTTP proxy 10\.0\.0\.8:3128, and its request CONNECT "gw_bad!name:1194" names no usable server/,
    );
  });

  it('explains that a SOCKS proxy over TCP hides the server at verb 3 (real 2.6 log with the DCO note)', async () => {
    const { log } = logCase(fixture('client-real-2.6-socks-tcp-tun.log'));

    const result = await discover({ openvpnLog: log });

    assert.equal(result.ip, null);
    assert.match(
      result.warnings.at(-1) ?? '',
      /^no gateway found: .*--openvpn-log .*: the tunnel's TCP connection goes through SOCKS proxy 127\.0\.0\.4:11080, and OpenVPN logs the server it asks a SOCKS proxy for only in its option dump at verb 4 and above \(absent here, or with several connection profiles that could apply\); .*pass --gateway-ip$/,
    );
  });

  it('takes the server from the verb 4 option dump of a real 2.6 SOCKS client', async () => {
    const { log } = logCase(fixture('client-real-2.6-socks-tcp-verb4.log'));

    const result = await discover({ openvpnLog: log });

    assert.equal(result.ip, '127.0.0.3');
    assert.match(result.warnings.join('\n'), /exited after its last connection/);
    assert.match(result.warnings.join('\n'), /through SOCKS proxy 127\.0\.0\.4:11080 to 127\.0\.0\.3:11194/);
  });

  it('takes the link remote of UDP through a SOCKS relay, which OpenVPN resolved itself', async () => {
    const { log } = logCase(
      [
        BANNER,
        '2025-04-05 10:00:00 SOCKS proxy wants us to send UDP to [AF_INET]10.0.0.9:40000',
        '2025-04-05 10:00:00 UDPv4 link remote: [AF_INET]203.0.113.60:1194',
        '2025-04-05 10:00:02 Initialization Sequence Completed',
        '',
      ].join('\n'),
    );

    const result = await discover({ openvpnLog: log });

    assert.equal(result.ip, '203.0.113.60');
    assert.match(
      result.warnings[0] ?? '',
      /UDP packets go through SOCKS relay \[?AF_INET\]?10\.0\.0\.9:40000|SOCKS relay 10\.0\.0\.9:40000/,
    );
  });
});

describe('discoverGateway: OpenVPN 2 client log of a connector up for weeks', () => {
  it('always takes the newest connection after reconnects', async () => {
    const { log } = logCase(`${connected('203.0.113.1')}${CHATTER}${connected('203.0.113.2')}${CHATTER}`);

    const result = await discover({ openvpnLog: log });

    assert.deepEqual(result, { ip: '203.0.113.2', source: 'openvpn2-log', warnings: [], errors: [] });
  });

  it('gives the last known server of a tunnel that keeps reconnecting, with the line that ended it', async () => {
    const restart = '2025-04-07 03:00:05 SIGUSR1[soft,connection-failed] received, process restarting';
    const { log } = logCase(
      [
        connected('203.0.113.6', 443, 'TCPv4_CLIENT'),
        '2025-04-07 03:00:00 SIGUSR1[soft,ping-restart] received, process restarting',
        '2025-04-07 03:00:00 Restart pause, 5 second(s)',
        '2025-04-07 03:00:05 TCP: connect to [AF_INET]203.0.113.6:443 failed: Connection refused',
        restart,
        '',
      ].join('\n'),
    );

    const result = await discover({ openvpnLog: log });

    assert.equal(result.ip, '203.0.113.6');
    assert.deepEqual(result.warnings, [
      `--openvpn-log ${log}: the connection to 203.0.113.6 ended (${JSON.stringify(restart)}) and no newer one is logged; using it as the last known`,
    ]);
  });

  it('finds a connection made weeks ago behind megabytes of later lines (a 256 KiB tail would not)', async () => {
    // Prepare: the remote at the head, then 8 MiB of the monitor's own management lines.
    const { log } = logCase(connected('203.0.113.7'));
    fs.appendFileSync(log, CHATTER.repeat(Math.ceil((8 * 1024 * 1024) / CHATTER.length)));

    // Act
    const result = await discover({ openvpnLog: log });

    // Assess
    assert.ok(fs.statSync(log).size > 8 * 1024 * 1024);
    assert.deepEqual(result, { ip: '203.0.113.7', source: 'openvpn2-log', warnings: [], errors: [] });
  });

  it('stops at the read limit in a log too long to search, and says so', async () => {
    // Prepare: 33 MiB after the only remote line.
    const { log } = logCase(connected('203.0.113.8'));
    const block = CHATTER.repeat(1024);
    const fd = fs.openSync(log, 'a');
    for (let written = 0; written < 33 * 1024 * 1024; written += block.length) fs.writeSync(fd, block);
    fs.closeSync(fd);

    // Act
    const result = await discover({ openvpnLog: log });

    // Assess
    assert.equal(result.ip, null);
    assert.match(
      result.warnings.at(-1) ?? '',
      /has no "link remote:" or "Peer Connection Initiated" line in what was read \(read limit of 32 MiB reached; read: .*openvpn\.log\): pass --openvpn-management or --gateway-ip/,
    );
  });

  it('reads the rotated copy when copytruncate left the log without its connection', async () => {
    const { dir, log } = logCase(CHATTER);
    fs.writeFileSync(path.join(dir, 'openvpn.log.1'), `${connected('203.0.113.9')}${CHATTER}`);

    const result = await discover({ openvpnLog: log });

    assert.deepEqual(result, { ip: '203.0.113.9', source: 'openvpn2-log', warnings: [], errors: [] });
  });

  it('reads a gzip-compressed rotated copy', async () => {
    const { dir, log } = logCase('');
    fs.writeFileSync(
      path.join(dir, 'openvpn.log.1.gz'),
      gzipSync(`${connected('203.0.113.10')}${CHATTER.repeat(100)}`),
    );

    const result = await discover({ openvpnLog: log });

    assert.equal(result.ip, '203.0.113.10');
  });

  it('takes the newest of several rotated copies (dateext), by modification time', async () => {
    const { dir, log } = logCase(CHATTER);
    const older = path.join(dir, 'openvpn.log-20250401.gz');
    const newer = path.join(dir, 'openvpn.log-20250408');
    fs.writeFileSync(older, gzipSync(connected('198.51.100.1')));
    fs.writeFileSync(newer, connected('198.51.100.2'));
    const now = Date.now() / 1000;
    fs.utimesSync(older, now - 3600, now - 3600);
    fs.utimesSync(newer, now - 60, now - 60);

    const result = await discover({ openvpnLog: log });

    assert.equal(result.ip, '198.51.100.2');
  });

  it('keeps what the current log says after the rotated copy: a restart makes the rotated connection the last known', async () => {
    const restart = '2025-04-08 00:00:00 SIGUSR1[soft,ping-restart] received, process restarting';
    const { dir, log } = logCase(`${CHATTER}${restart}\n`);
    fs.writeFileSync(path.join(dir, 'openvpn.log.1'), connected('203.0.113.11'));

    const result = await discover({ openvpnLog: log });

    assert.equal(result.ip, '203.0.113.11');
    assert.match(result.warnings[0] ?? '', /ended \(.*ping-restart.*\) and no newer one is logged/);
  });

  it('does not follow a rotated copy that is a symbolic link, and says so', async () => {
    const { dir, log } = logCase(CHATTER);
    const elsewhere = path.join(tempDir, `elsewhere-${caseNumber}.log`);
    fs.writeFileSync(elsewhere, connected('192.0.2.66'));
    fs.symlinkSync(elsewhere, path.join(dir, 'openvpn.log.1'));

    const result = await discover({ openvpnLog: log });

    assert.equal(result.ip, null);
    assert.match(result.warnings.at(-1) ?? '', /openvpn\.log\.1 skipped: a symbolic link/);
  });

  it('keeps an IPv4-mapped remote as plain IPv4 for mtr', async () => {
    const { log } = logCase(fixture('client-ipv4-mapped.log'));

    const result = await discover({ openvpnLog: log });

    assert.equal(result.ip, '203.0.113.80');
  });
});

describe('discoverGateway: an --openvpn-log that is not a log file', () => {
  it('refuses a FIFO at once instead of blocking on it', async () => {
    // Prepare: a FIFO nobody writes to; a blocking open would never return.
    const fifo = path.join(tempDir, 'fifo.log');
    execFileSync('mkfifo', [fifo]);
    const started = Date.now();

    const result = await discover({ openvpnLog: fifo });

    // A blocking open would hang this process (the runner's hang guard ends it); one waited for
    // asynchronously would end at the deadline. Refused at once is nearer the start.
    const elapsedMs = Date.now() - started;
    assert.ok(
      elapsedMs < halfwayMs(0, GATEWAY_DISCOVERY_TIMEOUT_MS),
      `discovery took ${elapsedMs} ms: nearer its ${GATEWAY_DISCOVERY_TIMEOUT_MS} ms deadline than a refusal`,
    );
    assert.equal(result.ip, null);
    assert.match(
      result.errors[0]?.message ?? '',
      /cannot read --openvpn-log ".*fifo\.log": not a regular file but a FIFO/,
    );
  });

  it('refuses a link to /dev/zero before reading anything', async () => {
    const zero = path.join(tempDir, 'zero.log');
    fs.symlinkSync('/dev/zero', zero);

    const result = await discover({ openvpnLog: zero });

    assert.match(result.errors[0]?.message ?? '', /not a regular file but a character device/);
  });

  it('refuses a directory', async () => {
    const result = await discover({ openvpnLog: tempDir });

    assert.match(result.errors[0]?.message ?? '', /not a regular file but a directory/);
  });

  it('records a missing log file with its path', async () => {
    const result = await discover({ openvpnLog: path.join(tempDir, 'missing.log') });

    assert.equal(result.ip, null);
    assert.match(result.errors[0]?.message ?? '', /cannot read --openvpn-log ".*missing\.log": ENOENT/);
  });
});

describe('discoverGateway: OpenVPN 2 management interface (loopback server)', () => {
  it('takes the server a real 2.6 client asked its HTTP proxy for from the log cache, not the proxy in `state`', async () => {
    // Prepare: answers captured from a real client connected through a loopback HTTP proxy.
    const server = await startFakeManagement({
      answers: {
        'state all': fixture('mgmt-real-2.6-http-proxy-state-all.txt'),
        'log 500': fixture('mgmt-real-2.6-http-proxy-log.txt'),
      },
    });
    try {
      // Act
      const result = await discover({ openvpnManagement: server.endpoint });

      // Assess
      assert.equal(result.ip, '127.0.0.3');
      assert.equal(result.source, 'openvpn2-management');
      assert.match(
        result.warnings[0] ?? '',
        /through HTTP proxy 127\.0\.0\.2:18080 to 127\.0\.0\.3:11194; .*pass --openvpn-log too/,
      );
    } finally {
      await server.close();
    }
  });

  it('reads the pre-2.4 state line that ends after the remote IP', async () => {
    const server = await startFakeManagement({ answers: { 'state all': fixture('mgmt-pre-2.4.txt') } });
    try {
      const result = await discover({ openvpnManagement: server.endpoint });

      assert.deepEqual(result, {
        ip: '198.51.100.20',
        source: 'openvpn2-management',
        warnings: [],
        errors: [],
      });
    } finally {
      await server.close();
    }
  });

  it('uses the last connected server while the client reconnects, and says since when', async () => {
    const server = await startFakeManagement({
      answers: {
        'state all': answer(
          '1712345600,CONNECTED,SUCCESS,10.8.0.2,2001:db8::5,1194,,',
          '1712345670,RECONNECTING,ping-restart,,,,,',
          '1712345672,WAIT,,,,,,',
        ),
        'log 500': answer(),
      },
    });
    try {
      const result = await discover({ openvpnManagement: server.endpoint });

      assert.equal(result.ip, '2001:db8::5');
      assert.match(
        result.warnings[0] ?? '',
        /reports state WAIT since 2024-04-05T19:34:32\.000Z, not CONNECTED; using the server of its last connection/,
      );
    } finally {
      await server.close();
    }
  });

  it('talks to a management interface on a unix socket', async () => {
    const socketPath = path.join(tempDir, 'mgmt.sock');
    const server = await startFakeManagement({
      listen: { path: socketPath },
      answers: {
        'state all': answer('1712345600,CONNECTED,SUCCESS,10.8.0.2,203.0.113.5,1194,,'),
        'log 500': answer(),
      },
    });
    try {
      const result = await discover({ openvpnManagement: `unix:${socketPath}` });

      assert.equal(result.ip, '203.0.113.5');
    } finally {
      await server.close();
    }
  });

  it('records a password prompt, says what to pass instead, and uses the log', async () => {
    const server = await startFakeManagement({ opening: 'password' });
    const { log } = logCase(connected('203.0.113.12'));
    try {
      const result = await discover({ openvpnManagement: server.endpoint, openvpnLog: log });

      assert.equal(result.ip, '203.0.113.12');
      assert.equal(result.source, 'openvpn2-log');
      assert.match(
        result.errors[0]?.message ?? '',
        /asks for a password .* use --openvpn-log or --gateway-ip instead/,
      );
      assert.deepEqual(server.received, []);
    } finally {
      await server.close();
    }
  });

  it('reads the log while a silent management interface waits, and ends by the one deadline', async () => {
    // Prepare: a server that never greets, and one that never sends END, each hanging up only long
    // after the budget (what discovery would wait for without its deadline); the log answers at once.
    const budgetMs = 1500;
    const hangUpAfterMs = 8 * budgetMs;
    const silent = await startFakeManagement({ opening: 'silent', hangUpAfterMs });
    const noEnd = await startFakeManagement({
      answers: { 'state all': '1712345600,CONNECTED,SUCCESS,,203.0.113.5,1194,,\r\n' },
      hangUpAfterMs,
    });
    const { log } = logCase(connected('203.0.113.13'));
    try {
      for (const server of [silent, noEnd]) {
        const started = Date.now();

        // Act
        const result = await discover({
          openvpnManagement: server.endpoint,
          openvpnLog: log,
          timeoutMs: budgetMs,
        });

        // Assess: the query's own deadline (the budget less a step margin) ended the wait.
        const elapsedMs = Date.now() - started;
        assert.equal(result.ip, '203.0.113.13');
        const stepMs = Number(
          /did not (?:send its greeting|answer `state all`) within (\d+) ms/.exec(
            result.errors[0]?.message ?? '',
          )?.[1],
        );
        assert.ok(stepMs > 0 && stepMs <= budgetMs, result.errors[0]?.message);
        assertEndedByDeadline(elapsedMs, {
          deadlineMs: stepMs,
          alternativeMs: hangUpAfterMs,
          alternative: "the management interface's own hang-up",
        });
      }
    } finally {
      await silent.close();
      await noEnd.close();
    }
  });

  it('warns when --openvpn-log and --openvpn-management describe different connections', async () => {
    const server = await startFakeManagement({
      answers: {
        'state all': answer('1712345600,CONNECTED,SUCCESS,10.8.0.2,203.0.113.5,1194,,'),
        'log 500': answer(),
      },
    });
    const { log } = logCase(connected('198.51.100.99'));
    try {
      const result = await discover({ openvpnManagement: server.endpoint, openvpnLog: log });

      assert.equal(result.ip, '203.0.113.5');
      assert.match(
        result.warnings[0] ?? '',
        /names 198\.51\.100\.99:1194 as its newest connection, .* 203\.0\.113\.5:1194: do both options name the same OpenVPN client\?/,
      );
    } finally {
      await server.close();
    }
  });
});
