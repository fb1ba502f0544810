/** The table's header line: the tunnel's state, its counts since the last round, and the one cause. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderTable } from '../../../agent/render/render-table.ts';
import type { TunnelResult } from '../../../common/result-schema.ts';
import { resultDocument } from '../functions/fixtures.ts';

const UP: TunnelResult = {
  state: 'up',
  source: 'openvpn2-management',
  detail: 'CONNECTED SUCCESS',
  since: '2026-03-04T05:00:00.000Z',
  reconnects: 0,
  bytesIn: 1_843_200,
  bytesOut: 512,
  explains: false,
};

describe('renderTable: the tunnel header line', () => {
  it('opens the table with the tunnel up, since when and what it carried since the last round', () => {
    const lines = renderTable(resultDocument({ tunnel: UP })).split('\n');
    assert.equal(
      lines[0],
      'Tunnel up since 2026-03-04T05:00:00.000Z (openvpn2-management: CONNECTED SUCCESS); since the last round 0 reconnect(s), 1.8 MB in, 512 B out',
    );
    assert.equal(lines[1], '');
    assert.match(lines[2] ?? '', /^TARGET +ADDRESS/);
  });

  it('names the tunnel as the likely cause when it is down and resources are flagged, which stay flagged', () => {
    const down: TunnelResult = {
      ...UP,
      state: 'reconnecting',
      detail: 'WAIT, after RECONNECTING ping-restart',
      reconnects: 1,
      bytesIn: 2048,
      bytesOut: null,
      explains: true,
    };
    const lines = renderTable(resultDocument({ tunnel: down }, true)).split('\n');
    assert.equal(
      lines[0],
      'Tunnel RECONNECTING since 2026-03-04T05:00:00.000Z (openvpn2-management: WAIT, after RECONNECTING ping-restart); since the last round 1 reconnect(s), 2.0 kB in — the likely cause of the 1 flagged resource(s), which stay flagged',
    );
    assert.match(lines.find((l) => l.startsWith('10.0.0.1')) ?? '', /LATENCY\+LOSS/);
  });

  it('shows an unknown tunnel without counts, and no line for a document without a tunnel', () => {
    const unknown: TunnelResult = {
      state: 'unknown',
      source: null,
      detail: 'no OpenVPN client answered and no tun device',
      since: null,
      reconnects: null,
      bytesIn: null,
      bytesOut: null,
      explains: false,
    };
    assert.equal(
      renderTable(resultDocument({ tunnel: unknown })).split('\n')[0],
      'Tunnel unknown (no OpenVPN client answered and no tun device)',
    );
    assert.match(renderTable(resultDocument()).split('\n')[0] ?? '', /^TARGET/);
  });
});
