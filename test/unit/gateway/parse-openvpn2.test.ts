import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parseClientLog, parseManagementState } from '../../../agent/gateway/parse-openvpn2.ts';

const FIXTURES = path.join(__dirname, '..', '..', 'fixtures', 'openvpn');
const fixture = (name: string): string => fs.readFileSync(path.join(FIXTURES, name), 'utf8');
const parseClientLogGatewayIp = (text: string): string | null => parseClientLog(text)?.remoteIp ?? null;

describe('parseManagementState', () => {
  it('reads a real OpenVPN 2.6 answer with CRLF, greeting and END, without a tun address', () => {
    const state = parseManagementState(fixture('mgmt-real-2.6-udp4.txt'));

    assert.deepEqual(state, {
      timestamp: 1795711394,
      state: 'CONNECTED',
      description: 'SUCCESS',
      tunIpv4: null,
      remoteIp: '127.0.0.1',
      remotePort: 41195,
      localIp: '127.0.0.1',
      localPort: 41194,
      tunIpv6: null,
    });
  });

  it('reads an IPv6 remote (comma before the port, no brackets) and the trailing tun IPv6', () => {
    const state = parseManagementState(fixture('mgmt-real-2.6-udp6-tun6.txt'));

    assert.equal(state?.remoteIp, '::1');
    assert.equal(state?.remotePort, 41195);
    assert.equal(state?.tunIpv4, '10.8.0.2');
    assert.equal(state?.tunIpv6, 'fd00::2');
  });

  it('ignores SUCCESS: lines that precede the state line', () => {
    const state = parseManagementState(fixture('mgmt-real-2.6-tcp-state-on.txt'));

    assert.equal(state?.remoteIp, '127.0.0.1');
    assert.equal(state?.localPort, 54030);
  });

  it('reads the pre-2.4 short line that ends after the remote IP', () => {
    const state = parseManagementState(fixture('mgmt-pre-2.4.txt'));

    assert.equal(state?.state, 'CONNECTED');
    assert.equal(state?.tunIpv4, '10.8.0.6');
    assert.equal(state?.remoteIp, '198.51.100.20');
    assert.equal(state?.remotePort, null);
    assert.equal(state?.localIp, null);
  });

  it('takes the last of several >STATE: live lines', () => {
    const state = parseManagementState(fixture('mgmt-live-state-lines.txt'));

    assert.equal(state?.state, 'CONNECTED');
    assert.equal(state?.remoteIp, '203.0.113.5');
    assert.equal(state?.remotePort, 1194);
    assert.equal(state?.localIp, '192.0.2.10');
  });

  it('gives a null remote while reconnecting, when the fields are empty', () => {
    const state = parseManagementState(fixture('mgmt-reconnecting.txt'));

    assert.equal(state?.state, 'RECONNECTING');
    assert.equal(state?.description, 'ping-restart');
    assert.equal(state?.remoteIp, null);
  });

  it('returns null when there is no state line', () => {
    assert.equal(parseManagementState('>INFO:OpenVPN Management Interface Version 5\r\nEND\r\n'), null);
    assert.equal(parseManagementState(''), null);
  });
});

describe('parseClientLog: the newest remote address', () => {
  it('reads a real 2.6 TCP client log (TCPv4_CLIENT link remote, Peer Connection Initiated)', () => {
    assert.equal(parseClientLogGatewayIp(fixture('client-real-2.6-tcp4.log')), '127.0.0.1');
  });

  it('strips the port from an unbracketed [AF_INET6] address in a real 2.6 UDPv6 log', () => {
    assert.equal(parseClientLogGatewayIp(fixture('client-real-2.6-udp6.log')), '::1');
    assert.equal(parseClientLogGatewayIp('UDPv6 link remote: [AF_INET6]2001:db8::1:1194'), '2001:db8::1');
  });

  it('takes the newest connection and ignores a trailing Preserving recently used remote address line', () => {
    assert.equal(parseClientLogGatewayIp(fixture('client-reconnect.log')), '203.0.113.6');
  });

  it('reads a Peer Connection Initiated line with a common name prefix and a (via ...) suffix', () => {
    const line =
      '[gw] Peer Connection Initiated with [AF_INET]203.0.113.5:1194 (via [AF_INET]192.0.2.10%eth0)\n';

    assert.equal(parseClientLogGatewayIp(line), '203.0.113.5');
  });

  it('returns an IPv4-mapped address as printed by a dual-stack socket', () => {
    assert.equal(parseClientLogGatewayIp(fixture('client-ipv4-mapped.log')), '::ffff:203.0.113.80');
  });

  it('reads the untagged form of OpenVPN before 2.3', () => {
    assert.equal(parseClientLogGatewayIp(fixture('client-pre-2.3.log')), '198.51.100.30');
  });

  it('returns null for [AF_UNSPEC] and logs without a remote', () => {
    assert.equal(parseClientLogGatewayIp(fixture('client-no-remote.log')), null);
    assert.equal(
      parseClientLogGatewayIp('TCP/UDP: Preserving recently used remote address: [AF_INET]1.2.3.4:1194'),
      null,
    );
  });
});
