import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import {
  type Openvpn3Session,
  parseConnectedTo,
  parseJournalConnection,
  parseSessionsList,
  pickCloudConnexaSession,
} from '../../../agent/gateway/parse-openvpn3.ts';

const FIXTURES = path.join(__dirname, '..', '..', 'fixtures', 'openvpn');
const fixture = (name: string): string => fs.readFileSync(path.join(FIXTURES, name), 'utf8');
const parseJournalGatewayIp = (text: string): string | null => parseJournalConnection(text)?.ip ?? null;

function session(overrides: Partial<Openvpn3Session>): Openvpn3Session {
  return {
    path: '/net/openvpn/v3/sessions/x',
    configName: null,
    sessionName: null,
    connectedTo: null,
    status: 'Connection, Client connected',
    device: 'tun0',
    owner: 'root',
    pid: 1,
    ...overrides,
  };
}

describe('parseSessionsList', () => {
  it('reads every field of a v23 session that names its server in Session name', () => {
    // Prepare
    const text = fixture('sessions-v23-session-name.txt');

    // Act
    const sessions = parseSessionsList(text);

    // Assess
    assert.deepEqual(sessions, [
      {
        path: '/net/openvpn/v3/sessions/3293277a9210jnjka992929hhnajk423837a',
        configName: 'myorg.openvpn.com',
        sessionName: 'de-fra.gw.openvpn.com',
        connectedTo: null,
        status: 'Connection, Client connected',
        device: 'tun0',
        owner: 'me',
        pid: 147527,
      },
    ]);
  });

  it('reads the v24 Connected to line with a UDP IPv4 server and port', () => {
    const sessions = parseSessionsList(fixture('sessions-v24-udp.txt'));

    assert.equal(sessions.length, 1);
    assert.deepEqual(sessions[0]?.connectedTo, {
      proto: 'udp',
      ip: '203.0.113.10',
      port: 1194,
      viaHttpProxy: false,
    });
    assert.equal(sessions[0]?.configName, 'CloudConnexa');
    assert.equal(sessions[0]?.sessionName, null);
  });

  it('reads a bracketed IPv6 server over TCP without the brackets', () => {
    const sessions = parseSessionsList(fixture('sessions-v24-tcp-ipv6.txt'));

    assert.deepEqual(sessions[0]?.connectedTo, {
      proto: 'tcp',
      ip: '2001:db8:4::10',
      port: 443,
      viaHttpProxy: false,
    });
    assert.equal(sessions[0]?.device, 'tun1');
  });

  it('accepts a Connected to line without a port, as printed under DCO', () => {
    const sessions = parseSessionsList(fixture('sessions-v24-dco-no-port.txt'));

    assert.deepEqual(sessions[0]?.connectedTo, {
      proto: 'udp',
      ip: '198.51.100.7',
      port: null,
      viaHttpProxy: false,
    });
  });

  it('drops the (Config not available) suffix from the config name', () => {
    const sessions = parseSessionsList(fixture('sessions-config-not-available.txt'));

    assert.equal(sessions[0]?.configName, 'OpenVPNCloud');
  });

  it('separates several sessions at blank lines and drops a (Current name: ...) suffix', () => {
    const sessions = parseSessionsList(fixture('sessions-several.txt'));

    assert.deepEqual(
      sessions.map((s) => [s.configName, s.connectedTo?.ip, s.status, s.pid]),
      [
        ['home-lab.ovpn', '192.0.2.1', 'Connection, Client connected', 1001],
        ['CloudConnexa', '203.0.113.50', 'Connection, Client reconnect', 1002],
        ['acme.openvpn.com', '203.0.113.77', 'Connection, Client connected', 1003],
      ],
    );
  });

  it('turns the placeholders "-" and "(None)" of a connecting session into null', () => {
    const sessions = parseSessionsList(fixture('sessions-statuses.txt'));

    assert.equal(sessions.length, 2);
    assert.equal(sessions[0]?.pid, null);
    assert.equal(sessions[0]?.device, null);
    assert.equal(sessions[0]?.connectedTo, null);
    assert.equal(sessions[0]?.status, 'Connection, Client connecting');
    assert.equal(sessions[1]?.status, 'Connection, Client connection paused');
  });

  it('returns no sessions for "No sessions available" and for empty output', () => {
    assert.deepEqual(parseSessionsList(fixture('sessions-none.txt')), []);
    assert.deepEqual(parseSessionsList(''), []);
  });

  it('copes with collapsed spacing, tabs, CRLF, a glued Device column and a missing blank line', () => {
    const sessions = parseSessionsList(fixture('sessions-odd-spacing.txt'));

    assert.equal(sessions.length, 2);
    assert.deepEqual(sessions[0], {
      path: '/net/openvpn/v3/sessions/77777777s7777s4777s8777s777777777777',
      configName: 'CloudConnexa',
      sessionName: null,
      connectedTo: { proto: 'udp', ip: '203.0.113.123', port: 1194, viaHttpProxy: false },
      status: 'Connection, Client connected',
      device: 'tun7',
      owner: 'a-very-long-service-account-name-for-the-connector',
      pid: 31337,
    });
    assert.equal(sessions[1]?.owner, 'root');
    assert.equal(sessions[1]?.device, 'tun8');
    assert.equal(sessions[1]?.configName, 'other');
  });
});

describe('parseConnectedTo', () => {
  it('rejects a value whose address is not an IP literal', () => {
    assert.equal(parseConnectedTo('udp:gw.example.com:443'), null);
    assert.equal(parseConnectedTo('udp::443'), null);
    assert.equal(parseConnectedTo('tcp:[not-an-ip]:443'), null);
  });

  it('accepts a bare IPv6 literal without transport or port', () => {
    assert.deepEqual(parseConnectedTo('2001:db8::5'), {
      proto: null,
      ip: '2001:db8::5',
      port: null,
      viaHttpProxy: false,
    });
  });
});

describe('pickCloudConnexaSession', () => {
  it('prefers the connected CloudConnexa session over other and reconnecting ones', () => {
    const sessions = parseSessionsList(fixture('sessions-several.txt'));

    const pick = pickCloudConnexaSession(sessions);

    assert.equal(pick.session?.configName, 'acme.openvpn.com');
    assert.equal(pick.warning, null);
  });

  it('recognises the pre-rebrand OpenVPNCloud profile name in any case', () => {
    const pick = pickCloudConnexaSession([
      session({ configName: 'other' }),
      session({ configName: 'openvpncloud' }),
    ]);

    assert.equal(pick.session?.configName, 'openvpncloud');
  });

  it('recognises a session by its *.gw.openvpn.com server when the profile has its own name', () => {
    const pick = pickCloudConnexaSession([
      session({ configName: 'a' }),
      session({ configName: 'b', sessionName: 'us-east-1.gw.openvpn.com' }),
    ]);

    assert.equal(pick.session?.configName, 'b');
    assert.equal(pick.warning, null);
  });

  it('uses a CloudConnexa session that is not connected, with a warning that says so', () => {
    const sessions = parseSessionsList(fixture('sessions-statuses.txt'));

    const pick = pickCloudConnexaSession(sessions);

    assert.equal(pick.session?.path, '/net/openvpn/v3/sessions/aaaaaaaas0000s4000s8000s00000000000a');
    assert.match(pick.warning ?? '', /not connected/);
    assert.match(pick.warning ?? '', /2 CloudConnexa sessions/);
  });

  it('uses the only session even when its name is unknown, with a warning', () => {
    const sessions = parseSessionsList(fixture('sessions-single-unknown.txt'));

    const pick = pickCloudConnexaSession(sessions);

    assert.equal(pick.session?.connectedTo?.ip, '203.0.113.99');
    assert.match(pick.warning ?? '', /does not look like CloudConnexa/);
  });

  it('refuses to guess between several unknown sessions and names them in the warning', () => {
    const sessions = parseSessionsList(fixture('sessions-several-unknown.txt'));

    const pick = pickCloudConnexaSession(sessions);

    assert.equal(pick.session, null);
    assert.match(pick.warning ?? '', /2 openvpn3 sessions and none looks like CloudConnexa/);
    assert.match(pick.warning ?? '', /"office"/);
    assert.match(pick.warning ?? '', /"lab"/);
  });

  it('returns no session and a warning when there are no sessions', () => {
    const pick = pickCloudConnexaSession([]);

    assert.equal(pick.session, null);
    assert.match(pick.warning ?? '', /no sessions/);
  });
});

describe('parseJournalConnection: the newest address', () => {
  it('takes the IP in parentheses from a Connected: ... via /TCP line', () => {
    assert.equal(parseJournalGatewayIp(fixture('journal-tcp-connected.txt')), '77.61.186.235');
  });

  it('takes the last Connecting to line, including an IPv6 address with a -DCO suffix', () => {
    // Prepare: the last line mentions "via" without "(IP) via" and must not hide the one before it.
    const text = fixture('journal-reconnect-levels.txt');

    // Act
    const ip = parseJournalGatewayIp(text);

    // Assess
    assert.equal(ip, '2001:db8:aa::22');
  });

  it('reads UDPv4 and TCPv4 Connecting to lines', () => {
    const udp = 'x Client VERB2: Connecting to [a.gw.openvpn.com]:1194 (198.51.100.1) via UDPv4';
    const tcp = 'x Client VERB2: Connecting to [a.gw.openvpn.com]:443 (198.51.100.2) via TCPv4\r\n';

    assert.equal(parseJournalGatewayIp(udp), '198.51.100.1');
    assert.equal(parseJournalGatewayIp(`${udp}\n${tcp}`), '198.51.100.2');
  });

  it('returns null when no line has an IP before via, or the value is not an IP', () => {
    assert.equal(parseJournalGatewayIp(fixture('journal-no-via.txt')), null);
    assert.equal(parseJournalGatewayIp('Connecting to [h]:443 (h.example.com) via UDPv4'), null);
    assert.equal(parseJournalGatewayIp(''), null);
  });
});
