import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import {
  discoverGateway,
  MANAGEMENT_COMMANDS,
  normalizeIp,
} from '../../../agent/gateway/discover-gateway.ts';
import type { ManagementAnswer } from '../../../agent/gateway/management-client.ts';
import { parseClientLog } from '../../../agent/gateway/parse-openvpn2.ts';
import type { ClientLogRead } from '../../../agent/gateway/read-client-log.ts';
import type { ProcessResult, RunProcess } from '../../../agent/process/types.ts';
import { MonitorError } from '../../../common/errors.ts';

const FIXTURES = path.join(__dirname, '..', '..', 'fixtures', 'openvpn');
const fixture = (name: string): string => fs.readFileSync(path.join(FIXTURES, name), 'utf8');

/** A runner answering from a table keyed by the program name; unknown programs are "not installed". */
function tableRun(table: Record<string, Partial<ProcessResult>>, calls: string[][]): RunProcess {
  return async (file, args) => {
    calls.push([file, ...args]);
    const entry = table[file];
    const base: ProcessResult = {
      command: [file, ...args],
      exitCode: 0,
      signal: null,
      stdout: '',
      stderr: '',
      durationMs: 1,
      timedOut: false,
      spawnError: null,
    };
    if (entry === undefined) return { ...base, exitCode: null, spawnError: 'ENOENT' };
    return { ...base, ...entry };
  };
}

function answers(state: string, log: string | null = null): ManagementAnswer[] {
  return [
    { command: 'state all', text: state, error: null },
    { command: 'log 500', text: log, error: log === null ? 'not sent' : null },
  ];
}

function logRead(text: string): ClientLogRead {
  return {
    connection: parseClientLog(text),
    files: [{ path: 'x', bytesRead: text.length, compressed: false }],
    incomplete: null,
    notes: [],
  };
}

const base = { gatewayIp: null, openvpnManagement: null, openvpnLog: null, timeoutMs: 5000 };
const noResolve = async (): Promise<never> => {
  throw new Error('no lookup expected');
};

describe('discoverGateway source order (injected dependencies)', () => {
  it('prefers the named management interface over an openvpn3 session, yet asks every source at once', async () => {
    // Prepare
    const calls: string[][] = [];
    const run = tableRun({ openvpn3: { stdout: fixture('sessions-v24-tcp-ipv6.txt') } }, calls);
    const asked: string[] = [];

    // Act
    const result = await discoverGateway(
      { ...base, openvpnManagement: '127.0.0.1:7505', openvpnLog: '/var/log/openvpn.log' },
      {
        run,
        queryManagement: async (endpoint, commands, timeoutMs) => {
          asked.push(`${endpoint} ${commands.join('|')} ${timeoutMs > 0 && timeoutMs <= 5000}`);
          return answers('1712345678,CONNECTED,SUCCESS,10.8.0.2,203.0.113.5,1194,,\r\nEND\r\n');
        },
        readClientLog: async () => logRead('UDPv4 link remote: [AF_INET]203.0.113.5:1194\n'),
        resolve: noResolve,
      },
    );

    // Assess
    assert.deepEqual(result, { ip: '203.0.113.5', source: 'openvpn2-management', warnings: [], errors: [] });
    assert.deepEqual(asked, ['127.0.0.1:7505 state all|log 500 true']);
    assert.deepEqual(calls, [['openvpn3', 'sessions-list']]);
  });

  it('uses a session name that is an IP literal without reading the journal', async () => {
    const calls: string[][] = [];
    const list = fixture('sessions-v23-session-name.txt').replace('de-fra.gw.openvpn.com', '198.51.100.90');

    const result = await discoverGateway(base, { run: tableRun({ openvpn3: { stdout: list } }, calls) });

    assert.equal(result.ip, '198.51.100.90');
    assert.equal(calls.length, 1);
  });

  it('resolves a v23 session name when openvpn3-admin is missing, and says where the address comes from', async () => {
    const calls: string[][] = [];
    const looked: string[] = [];

    const result = await discoverGateway(base, {
      run: tableRun({ openvpn3: { stdout: fixture('sessions-v23-session-name.txt') } }, calls),
      resolve: async (host) => {
        looked.push(host);
        return { address: '198.51.100.77', family: 4 };
      },
    });

    assert.equal(result.ip, '198.51.100.77');
    assert.equal(result.source, 'openvpn3');
    assert.deepEqual(looked, ['de-fra.gw.openvpn.com']);
    assert.match(result.warnings[0] ?? '', /names its server de-fra\.gw\.openvpn\.com but no address/);
    assert.match(result.warnings[0] ?? '', /openvpn3-admin is not installed/);
    assert.match(result.warnings[0] ?? '', /resolves on this host to 198\.51\.100\.77.*pass --gateway-ip/);
  });

  it('names the unresolvable server and what to pass when the lookup fails', async () => {
    const result = await discoverGateway(base, {
      run: tableRun({ openvpn3: { stdout: fixture('sessions-v23-session-name.txt') } }, []),
      resolve: async (host) => {
        throw new MonitorError('E_RESOLVE', `could not resolve "${host}": EAI_AGAIN`);
      },
    });

    assert.equal(result.ip, null);
    assert.equal(result.errors[0]?.code, 'E_RESOLVE');
    assert.match(
      result.warnings.join('\n'),
      /de-fra\.gw\.openvpn\.com does not resolve on this host \(see errors\): pass --gateway-ip with its address/,
    );
  });

  it('uses the last connected server of the state history while the client reconnects, with a warning', async () => {
    const history = [
      '1712345600,CONNECTED,SUCCESS,10.8.0.2,203.0.113.5,1194,,',
      '1712345670,RECONNECTING,ping-restart,,,,,',
      '1712345671,WAIT,,,,,,',
      'END',
      '',
    ].join('\r\n');

    const result = await discoverGateway(
      { ...base, openvpnManagement: '[::1]:7505' },
      { run: tableRun({}, []), queryManagement: async () => answers(history) },
    );

    assert.equal(result.ip, '203.0.113.5');
    assert.equal(result.source, 'openvpn2-management');
    assert.match(
      result.warnings[0] ?? '',
      /reports state WAIT since 2024-04-05T19:34:31\.000Z, not CONNECTED; using the server of its last connection since 2024-04-05T19:33:20\.000Z, 203\.0\.113\.5/,
    );
  });

  it('falls back to the log when the state history has no connection yet', async () => {
    const seen: string[] = [];

    const result = await discoverGateway(
      { ...base, openvpnManagement: '[::1]:7505', openvpnLog: '/var/log/openvpn/client.log' },
      {
        run: tableRun({}, []),
        queryManagement: async () => answers('1712345670,RECONNECTING,ping-restart,,,,,\r\nEND\r\n'),
        readClientLog: async (file, limits) => {
          seen.push(`${file} ${limits.maxBytes}`);
          return logRead(
            'TCP_CLIENT link remote: [AF_INET]203.0.113.200:443\nInitialization Sequence Completed\n',
          );
        },
      },
    );

    assert.deepEqual(seen, ['/var/log/openvpn/client.log 33554432']);
    assert.equal(result.ip, '203.0.113.200');
    assert.equal(result.source, 'openvpn2-log');
    assert.deepEqual(result.warnings, []);
  });

  it('ranks a log whose process exited after a connected openvpn3 session', async () => {
    const exited =
      'UDPv4 link remote: [AF_INET]198.51.100.1:1194\nInitialization Sequence Completed\nSIGTERM[hard,] received, process exiting\n';

    const result = await discoverGateway(
      { ...base, openvpnLog: '/var/log/old-openvpn.log' },
      {
        run: tableRun({ openvpn3: { stdout: fixture('sessions-v24-udp.txt') } }, []),
        readClientLog: async () => logRead(exited),
      },
    );

    assert.equal(result.ip, '203.0.113.10');
    assert.equal(result.source, 'openvpn3');
    assert.deepEqual(result.warnings, []);
  });

  it('still uses the exited log as the last known server when nothing else answers', async () => {
    const exited =
      'UDPv4 link remote: [AF_INET]198.51.100.1:1194\nInitialization Sequence Completed\nSIGTERM[hard,] received, process exiting\n';

    const result = await discoverGateway(
      { ...base, openvpnLog: '/var/log/old-openvpn.log' },
      { run: tableRun({}, []), readClientLog: async () => logRead(exited) },
    );

    assert.equal(result.ip, '198.51.100.1');
    assert.match(
      result.warnings[0] ?? '',
      /exited after its last connection \("SIGTERM\[hard,\] received, process exiting"\)/,
    );
  });

  it('asks the management interface for the state history and recent log lines', () => {
    assert.deepEqual(MANAGEMENT_COMMANDS, ['state all', 'log 500']);
  });
});

describe('discoverGateway behind a proxy (injected dependencies)', () => {
  const proxied = [
    "Send to HTTP proxy: 'CONNECT 203.0.113.50:1194 HTTP/1.0'",
    "HTTP proxy returned: 'HTTP/1.0 200 Connection established'",
    'TCP_CLIENT link remote: [AF_INET]10.0.0.8:8080',
    'Initialization Sequence Completed',
    '',
  ].join('\n');

  it('takes the server from the management log cache, not the proxy the state line shows', async () => {
    const cache = proxied
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => `1712345600,I,${line}`)
      .join('\r\n');

    const result = await discoverGateway(
      { ...base, openvpnManagement: '127.0.0.1:7505' },
      {
        run: tableRun({}, []),
        queryManagement: async () =>
          answers('1712345600,CONNECTED,SUCCESS,10.8.0.2,10.0.0.8,8080,,\r\nEND\r\n', `${cache}\r\nEND\r\n`),
      },
    );

    assert.equal(result.ip, '203.0.113.50');
    assert.equal(result.source, 'openvpn2-management');
    assert.match(result.warnings[0] ?? '', /through HTTP proxy 10\.0\.0\.8:8080 to 203\.0\.113\.50:1194/);
    assert.match(result.warnings[0] ?? '', /pass --openvpn-log too so this stays known/);
  });

  it('takes the proxy route from --openvpn-log when the management log cache has rolled over', async () => {
    const result = await discoverGateway(
      { ...base, openvpnManagement: '127.0.0.1:7505', openvpnLog: '/var/log/openvpn.log' },
      {
        run: tableRun({}, []),
        queryManagement: async () =>
          answers('1712345600,CONNECTED,SUCCESS,10.8.0.2,10.0.0.8,8080,,\r\nEND\r\n', 'END\r\n'),
        readClientLog: async () => logRead(proxied),
      },
    );

    assert.equal(result.ip, '203.0.113.50');
    assert.equal(result.source, 'openvpn2-management');
    assert.doesNotMatch(result.warnings.join('\n'), /management log cache/);
  });
});

describe('normalizeIp', () => {
  it('turns IPv4-mapped IPv6 into IPv4 and leaves other addresses alone', () => {
    assert.equal(normalizeIp('::ffff:203.0.113.1'), '203.0.113.1');
    assert.equal(normalizeIp('::FFFF:203.0.113.1'), '203.0.113.1');
    assert.equal(normalizeIp('2001:db8::1'), '2001:db8::1');
    assert.equal(normalizeIp('203.0.113.1'), '203.0.113.1');
  });
});
