/**
 * The tunnel counters as the clients print them: `openvpn3 session-stats`
 * (openvpn3-linux statistics_plain: only non-zero counters, dot-padded) and
 * the OpenVPN 2 management `status` answer (sig.c print_status), captured
 * from a real OpenVPN 2.6.14 client.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseManagementStatus, parseSessionStats } from '../../../agent/tunnel/parse-counters.ts';

const FIXTURES = join(__dirname, '..', '..', 'fixtures', 'openvpn');
const fixture = (name: string) => readFileSync(join(FIXTURES, name), 'utf8');

describe('parseSessionStats (openvpn3 session-stats)', () => {
  it('reads BYTES_IN, BYTES_OUT and N_RECONNECT among the other counters, a key longer than the padding included', () => {
    assert.deepEqual(parseSessionStats(fixture('session-stats-connected.txt')), {
      bytesIn: 1_843_200,
      bytesOut: 512_340,
      reconnects: 2,
    });
  });

  it('takes a counter that is not printed as 0: the tool prints only counters that are not', () => {
    assert.deepEqual(parseSessionStats(fixture('session-stats-fresh.txt')), {
      bytesIn: 1460,
      bytesOut: 0,
      reconnects: 0,
    });
    assert.deepEqual(parseSessionStats('\nConnection statistics:\n\n'), {
      bytesIn: 0,
      bytesOut: 0,
      reconnects: 0,
    });
  });

  it('keeps spacing and line endings loose (CRLF, tabs, collapsed padding)', () => {
    const text = 'Connection statistics:\r\n\tBYTES_IN.5\r\n  BYTES_OUT......7  \r\n N_RECONNECT..1\r\n';
    assert.deepEqual(parseSessionStats(text), { bytesIn: 5, bytesOut: 7, reconnects: 1 });
  });

  it('gives null for a counter too large to keep exact, and never a negative or fractional one', () => {
    const text =
      'Connection statistics:\n BYTES_IN....99999999999999999\n BYTES_OUT....-5\n N_RECONNECT...1.5\n';
    // -5 and 1.5 are no counter lines at all: the counters read as not printed (0).
    assert.deepEqual(parseSessionStats(text), { bytesIn: null, bytesOut: 0, reconnects: 0 });
  });

  it('gives null for output that is not session statistics', () => {
    assert.equal(parseSessionStats(''), null);
    assert.equal(parseSessionStats('Connection statistics is not available\n'), null);
    assert.equal(parseSessionStats('** ERROR ** session-stats: Session not found\n'), null);
  });
});

describe('parseManagementStatus (OpenVPN 2 management `status`)', () => {
  it('reads the underlay bytes of a real OpenVPN 2.6 client', () => {
    assert.deepEqual(parseManagementStatus(fixture('mgmt-real-2.6-status.txt')), {
      bytesIn: 320,
      bytesOut: 400,
      reconnects: null,
    });
  });

  it('gives null for a counter that is not a whole number, null for an answer without the underlay lines', () => {
    const text =
      'OpenVPN STATISTICS\r\nTCP/UDP read bytes,18446744073709551615\r\nTCP/UDP write bytes,x\r\nEND\r\n';
    assert.deepEqual(parseManagementStatus(text), { bytesIn: null, bytesOut: null, reconnects: null });
    assert.equal(parseManagementStatus('ERROR: unknown command [status]\r\n'), null);
    assert.equal(parseManagementStatus(''), null);
  });
});
