/**
 * The tunnel's state as each source tells it: the OpenVPN 2 management state
 * history (captured from a real 2.6 client), the client log's newest
 * connection, the OpenVPN 3 session status (openvpn3-linux StatusMinor_str)
 * and the tun devices' operstate.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseClientLog, parseManagementStateHistory } from '../../../agent/gateway/parse-openvpn2.ts';
import { parseSessionsList } from '../../../agent/gateway/parse-openvpn3.ts';
import {
  fromClientLog,
  fromManagement,
  fromOpenvpn3Session,
  fromTunDevices,
} from '../../../agent/tunnel/tunnel-state.ts';

const FIXTURES = join(__dirname, '..', '..', 'fixtures', 'openvpn');
const fixture = (name: string) => readFileSync(join(FIXTURES, name), 'utf8');

function history(name: string) {
  const parsed = parseManagementStateHistory(fixture(name));
  assert.ok(parsed !== null);
  return parsed;
}

describe('fromManagement (state all)', () => {
  it('is up since the CONNECTED line, with the counters and their key', () => {
    const status = { bytesIn: 320, bytesOut: 400, reconnects: null };
    const seen = fromManagement(history('mgmt-real-2.6-udp4.txt'), status, '127.0.0.1:7505');
    assert.equal(seen.state, 'up');
    assert.equal(seen.source, 'openvpn2-management');
    assert.equal(seen.detail, 'CONNECTED SUCCESS');
    assert.equal(seen.sinceMs, 1_795_711_394_000);
    assert.equal(seen.counterKey, 'openvpn2-management 127.0.0.1:7505');
    assert.deepEqual(seen.counters, status);
  });

  it('is reconnecting since the RECONNECTING line that began the outage, not the newest sub-state', () => {
    const seen = fromManagement(history('mgmt-real-2.6-state-all-reconnecting.txt'), null, '/run/ovpn.sock');
    assert.equal(seen.state, 'reconnecting');
    assert.equal(seen.detail, 'ASSIGN_IP, after RECONNECTING SIGUSR1');
    assert.equal(seen.sinceMs, 1_796_037_602_000);
    // Every (re)start clears the `status` counters; each RECONNECTING is a reconnect.
    assert.deepEqual(seen.history, {
      newest: 1_796_037_603,
      restarts: [1_796_037_582, 1_796_037_591, 1_796_037_602],
      reconnects: [1_796_037_591, 1_796_037_602],
    });
  });

  it('is down while EXITING, and reconnecting in any other state of a running client', () => {
    const states = (lines: string) =>
      fromManagement(parseManagementStateHistory(lines) ?? assert.fail(), null, 'x');
    assert.equal(states('1712345678,EXITING,SIGTERM,,,,,\r\nEND\r\n').state, 'down');
    for (const name of [
      'WAIT',
      'AUTH',
      'GET_CONFIG',
      'TCP_CONNECT',
      'RESOLVE',
      'AUTH_PENDING',
      'SOMETHING_NEW',
    ]) {
      assert.equal(states(`1712345678,${name},,,,,,\r\nEND\r\n`).state, 'reconnecting', name);
    }
    // A clock of 0 (or one that cannot be read) gives no start.
    assert.equal(states('0,WAIT,,,,,,\r\nEND\r\n').sinceMs, null);
  });
});

describe('fromClientLog (the newest connection of an OpenVPN 2 log)', () => {
  it('is up after Initialization Sequence Completed, down after the process exited (with the line), reconnecting after a restart', () => {
    assert.deepEqual([fromClientLog(parseClientLog(fixture('client-reconnect.log')))?.state], ['up']);
    const exited = fromClientLog(parseClientLog(fixture('client-real-2.6-udp6.log')));
    assert.equal(exited?.state, 'down');
    assert.match(exited?.detail ?? '', /SIGTERM\[hard,\] received, process exiting$/);
    const restarting = fromClientLog(
      parseClientLog(
        '2025-01-01 10:00:00 UDPv4 link remote: [AF_INET]203.0.113.5:1194\n' +
          '2025-01-01 10:00:01 Initialization Sequence Completed\n' +
          '2025-01-01 11:00:00 SIGUSR1[soft,ping-restart] received, process restarting\n',
      ),
    );
    assert.deepEqual(
      [restarting?.state, restarting?.detail],
      ['reconnecting', '2025-01-01 11:00:00 SIGUSR1[soft,ping-restart] received, process restarting'],
    );
    const connecting = fromClientLog(parseClientLog('UDPv4 link remote: [AF_INET]203.0.113.5:1194\n'));
    assert.deepEqual([connecting?.state, connecting?.detail], ['reconnecting', 'connecting to 203.0.113.5']);
  });

  it('says nothing for a log that names no connection', () => {
    assert.equal(fromClientLog(parseClientLog(fixture('client-no-remote.log'))), null);
  });
});

describe('fromOpenvpn3Session (session status)', () => {
  it('maps every connection status openvpn3-linux prints', () => {
    const cases: Array<[string, string]> = [
      ['Connection, Client connected', 'up'],
      ['Connection, Client connecting', 'reconnecting'],
      ['Connection, Client reconnect', 'reconnecting'],
      ['Connection, Client connection resuming', 'reconnecting'],
      ['Connection, Client initialized', 'reconnecting'],
      ['Connection, Client disconnecting', 'down'],
      ['Connection, Client disconnected', 'down'],
      ['Connection, Client connection failed', 'down'],
      ['Connection, Client authentication failed', 'down'],
      ['Connection, Client pausing connection', 'down'],
      ['Connection, Client connection paused', 'down'],
      ['Connection, Client process exited', 'down'],
      ['Session, URL authentication', 'down'],
      ['Something new', 'unknown'],
    ];
    const [session] = parseSessionsList(fixture('sessions-reconnecting.txt'));
    assert.ok(session !== undefined);
    for (const [status, state] of cases) {
      const seen = fromOpenvpn3Session({ ...session, status }, null);
      assert.equal(seen.state, state, status);
      assert.equal(seen.source, state === 'unknown' ? null : 'openvpn3');
      assert.equal(seen.detail, status);
    }
  });

  it('keys the counters by session path and says why there are none', () => {
    const [session] = parseSessionsList(fixture('sessions-v24-udp.txt'));
    assert.ok(session !== undefined);
    const seen = fromOpenvpn3Session(session, null, 'openvpn3 session-stats exited with 1');
    assert.equal(seen.counterKey, `openvpn3 ${session.path}`);
    assert.equal(seen.detail, `${session.status} (no counters: openvpn3 session-stats exited with 1)`);
  });
});

describe('fromTunDevices (operstate)', () => {
  it('reads up from up or unknown (a tun a client holds), down from down, lowerlayerdown or admin down', () => {
    const one = (operstate: string, adminUp = true) =>
      fromTunDevices([{ name: 'tun0', operstate, adminUp }])?.state;
    assert.deepEqual(
      [
        one('up'),
        one('unknown'),
        one('down'),
        one('lowerlayerdown'),
        one('up', false),
        one('dormant'),
        one('?'),
      ],
      ['up', 'up', 'down', 'down', 'down', 'reconnecting', 'unknown'],
    );
    assert.equal(
      fromTunDevices([{ name: 'tun0', operstate: 'unknown', adminUp: true }])?.detail,
      'tun0 operstate unknown',
    );
  });

  it('says nothing without devices, and unknown when several disagree', () => {
    assert.equal(fromTunDevices([]), null);
    const both = fromTunDevices([
      { name: 'tun0', operstate: 'unknown', adminUp: true },
      { name: 'tun1', operstate: 'down', adminUp: false },
    ]);
    assert.deepEqual(
      [both?.state, both?.source, both?.detail],
      ['unknown', null, 'tun0 operstate unknown, tun1 admin down, operstate down'],
    );
  });
});
