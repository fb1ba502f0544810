import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { discoverGateway, normalizeIp } from '../../../agent/gateway/discover-gateway.ts';
import type { ProcessResult, RunProcess } from '../../../agent/process/types.ts';

const FIXTURES = path.join(__dirname, '..', '..', 'fixtures', 'openvpn');

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
      aborted: false,
      outputLeftOpen: false,
      spawnError: null,
    };
    if (entry === undefined) return { ...base, exitCode: null, spawnError: 'ENOENT' };
    return { ...base, ...entry };
  };
}

const base = { gatewayIp: null, openvpnManagement: null, openvpnLog: null, timeoutMs: 1000 };

describe('discoverGateway source order (injected dependencies)', () => {
  it('does not ask the management interface or read the log once openvpn3 has the address', async () => {
    const calls: string[][] = [];
    const run = tableRun(
      { openvpn3: { stdout: fs.readFileSync(path.join(FIXTURES, 'sessions-v24-tcp-ipv6.txt'), 'utf8') } },
      calls,
    );
    let managementAsked = false;
    let logRead = false;

    const result = await discoverGateway(
      { ...base, openvpnManagement: '127.0.0.1:7505', openvpnLog: '/var/log/openvpn.log' },
      {
        run,
        queryManagement: async () => {
          managementAsked = true;
          return '';
        },
        readFileTail: async () => {
          logRead = true;
          return '';
        },
      },
    );

    assert.equal(result.ip, '2001:db8:4::10');
    assert.equal(result.source, 'openvpn3');
    assert.equal(managementAsked, false);
    assert.equal(logRead, false);
  });

  it('uses a session name that is an IP literal without reading the journal', async () => {
    const calls: string[][] = [];
    const list = fs
      .readFileSync(path.join(FIXTURES, 'sessions-v23-session-name.txt'), 'utf8')
      .replace('de-fra.gw.openvpn.com', '198.51.100.90');

    const result = await discoverGateway(base, { run: tableRun({ openvpn3: { stdout: list } }, calls) });

    assert.equal(result.ip, '198.51.100.90');
    assert.equal(calls.length, 1);
  });

  it('names the session and the missing openvpn3-admin when only a host name is known', async () => {
    const calls: string[][] = [];
    const list = fs.readFileSync(path.join(FIXTURES, 'sessions-v23-session-name.txt'), 'utf8');

    const result = await discoverGateway(base, { run: tableRun({ openvpn3: { stdout: list } }, calls) });

    assert.equal(result.ip, null);
    assert.match(
      result.warnings[0] ?? '',
      /server de-fra\.gw\.openvpn\.com\) shows no server address and openvpn3-admin is not installed/,
    );
  });

  it('passes the management endpoint and the 256 KiB tail size to the injected helpers', async () => {
    const seen: string[] = [];

    const result = await discoverGateway(
      { ...base, openvpnManagement: '[::1]:7505', openvpnLog: '/var/log/openvpn/client.log' },
      {
        run: tableRun({}, []),
        queryManagement: async (endpoint, timeoutMs) => {
          seen.push(`management ${endpoint} ${timeoutMs}`);
          return '1712345670,RECONNECTING,ping-restart,,,,,\r\nEND\r\n';
        },
        readFileTail: async (file, maxBytes) => {
          seen.push(`log ${file} ${maxBytes}`);
          return 'TCP_CLIENT link remote: [AF_INET]203.0.113.200:443\n';
        },
      },
    );

    assert.deepEqual(seen, ['management [::1]:7505 1000', 'log /var/log/openvpn/client.log 262144']);
    assert.equal(result.ip, '203.0.113.200');
    assert.equal(result.source, 'openvpn2-log');
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
