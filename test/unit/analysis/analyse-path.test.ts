import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { analysePath, normalizeAddress, type PathThresholds } from '../../../agent/analysis/analyse-path.ts';
import { parseMtrJson } from '../../../agent/mtr/parse-mtr-json.ts';
import type { Hop } from '../../../common/result-schema.ts';
import { pathOf } from '../../helpers/hops.ts';

const FIXTURES = path.join(__dirname, '..', '..', 'fixtures', 'mtr');
const DEST = '10.20.0.10';

const PERSISTENT: PathThresholds = {
  latencyThresholdMs: 75,
  lossThresholdPct: 5,
  tunnelHops: 3,
  lossRule: 'persistent',
  jitterThresholdMs: 0,
};
const ANY_HOP: PathThresholds = { ...PERSISTENT, lossRule: 'any-hop' };

function hopsOf(name: string): Hop[] {
  return parseMtrJson(readFileSync(path.join(FIXTURES, name), 'utf8')).hops;
}

function path_(...spec: [string | null, number, number][]): Hop[] {
  return pathOf(spec);
}

describe('analysePath: loss under the persistent rule (default)', () => {
  it('does not flag 40% loss at a rate-limiting intermediate hop when the destination has 0%', () => {
    // Prepare
    const hops = hopsOf('mtr095-crafted-ratelimited-hop2.json');
    // Act
    const analysis = analysePath(hops, DEST, PERSISTENT);
    // Assess
    assert.equal(analysis.lossFlag, false);
    assert.equal(analysis.lossPct, 0);
    assert.equal(analysis.trouble, null);
    assert.equal(analysis.destinationAnswered, true);
  });

  it('does not flag a real router that drops half of its time-exceeded replies', () => {
    const analysis = analysePath(hopsOf('mtr095-netns-ratelimited-router.json'), '10.199.2.2', PERSISTENT);
    assert.equal(analysis.lossFlag, false);
    assert.equal(analysis.lossPct, 0);
  });

  it('flags 30% loss persisting from hop 2 and places the trouble at hop 2 on the tunnel side', () => {
    const analysis = analysePath(hopsOf('mtr095-crafted-persistent-loss-from-hop2.json'), DEST, PERSISTENT);
    assert.equal(analysis.lossFlag, true);
    assert.equal(analysis.lossPct, 30);
    assert.deepEqual(analysis.trouble, { kind: 'loss', hop: 2, host: '10.8.0.1', side: 'tunnel' });
    assert.equal(analysis.latencyFlag, false);
    assert.equal(analysis.latencyMs, 4.9);
    assert.equal(analysis.lastRespondingHop, 6);
  });

  it('reads the same persistent loss from mtr 0.92 string-typed JSON across a ??? hop', () => {
    const analysis = analysePath(hopsOf('mtr092-crafted-default.json'), DEST, PERSISTENT);
    assert.equal(analysis.lossFlag, true);
    assert.equal(analysis.lossPct, 30);
    assert.deepEqual(analysis.trouble, { kind: 'loss', hop: 2, host: '10.8.0.1', side: 'tunnel' });
  });

  it('flags real loss at a lossy destination and puts it on the resource side beyond the tunnel hops', () => {
    const hops = hopsOf('mtr095-netns-dest-loss-AL.json');
    const analysis = analysePath(hops, '10.199.2.2', { ...PERSISTENT, tunnelHops: 1 });
    assert.equal(analysis.lossFlag, true);
    assert.equal(analysis.lossPct, 25);
    assert.deepEqual(analysis.trouble, { kind: 'loss', hop: 2, host: '10.199.2.2', side: 'resource' });
  });

  it('starts the trouble after the last hop without loss when the loss run is interrupted', () => {
    const hops = path_(
      ['10.0.0.1', 0, 1],
      ['10.0.0.2', 30, 1],
      ['10.0.0.3', 0, 1],
      ['10.0.0.4', 20, 1],
      [DEST, 20, 1],
    );
    const analysis = analysePath(hops, DEST, PERSISTENT);
    assert.deepEqual(analysis.trouble, { kind: 'loss', hop: 4, host: '10.0.0.4', side: 'resource' });
  });

  it('reports the loss of the last responding hop when the destination is silent, without flagging', () => {
    const analysis = analysePath(hopsOf('mtr095-crafted-silent-destination.json'), DEST, PERSISTENT);
    assert.equal(analysis.destinationAnswered, false);
    assert.equal(analysis.latencyMs, null);
    assert.equal(analysis.lossPct, 0);
    assert.equal(analysis.lossFlag, false);
    assert.equal(analysis.lastRespondingHop, 3);
  });

  it('flags loss at the last responding hop of a silent destination (the caller then falls back)', () => {
    const hops = path_(['10.0.0.1', 0, 1], ['10.0.0.2', 50, 1], [null, 100, 0]);
    const analysis = analysePath(hops, DEST, PERSISTENT);
    assert.equal(analysis.destinationAnswered, false);
    assert.equal(analysis.lossPct, 50);
    assert.equal(analysis.lossFlag, true);
    assert.deepEqual(analysis.trouble, { kind: 'loss', hop: 2, host: '10.0.0.2', side: 'tunnel' });
  });

  it('reports a real silent destination with its last responding hop', () => {
    const analysis = analysePath(hopsOf('mtr095-netns-silent-destination.json'), '10.199.2.2', PERSISTENT);
    assert.equal(analysis.destinationAnswered, false);
    assert.equal(analysis.lastRespondingHop, 1);
    assert.equal(analysis.lossFlag, false);
  });

  it('reports 100% loss from hop 1 when nothing on the path answered', () => {
    const analysis = analysePath(hopsOf('mtr095-crafted-dead-path.json'), DEST, PERSISTENT);
    assert.equal(analysis.lossPct, 100);
    assert.equal(analysis.lossFlag, true);
    assert.equal(analysis.lastRespondingHop, null);
    assert.equal(analysis.destinationAnswered, false);
    assert.deepEqual(analysis.trouble, { kind: 'loss', hop: 1, host: null, side: 'tunnel' });
  });

  it('reports 100% loss from hop 1 for an empty hop list', () => {
    const analysis = analysePath([], DEST, PERSISTENT);
    assert.equal(analysis.lossPct, 100);
    assert.deepEqual(analysis.trouble, { kind: 'loss', hop: 1, host: null, side: 'tunnel' });
  });

  it('does not flag loss equal to the threshold', () => {
    const analysis = analysePath(path_(['10.0.0.1', 0, 1], [DEST, 5, 1]), DEST, PERSISTENT);
    assert.equal(analysis.lossFlag, false);
    assert.equal(analysis.lossPct, 5);
  });

  it('does not count a destination seen with 100% loss as answered', () => {
    const analysis = analysePath(path_(['10.0.0.1', 0, 1], [DEST, 100, 0]), DEST, PERSISTENT);
    assert.equal(analysis.destinationAnswered, false);
    assert.equal(analysis.lastRespondingHop, 1);
  });
});

describe('analysePath: loss under the any-hop rule (the old script)', () => {
  it('flags 40% loss at an intermediate hop among the first hops even when the destination has 0%', () => {
    const analysis = analysePath(hopsOf('mtr095-crafted-ratelimited-hop2.json'), DEST, ANY_HOP);
    assert.equal(analysis.lossFlag, true);
    assert.equal(analysis.lossPct, 40);
    assert.deepEqual(analysis.trouble, { kind: 'loss', hop: 2, host: '10.8.0.1', side: 'tunnel' });
  });

  it('ignores loss at intermediate hops beyond the first hops', () => {
    const hops = path_(
      ['10.0.0.1', 0, 1],
      ['10.0.0.2', 0, 1],
      ['10.0.0.3', 0, 1],
      ['10.0.0.4', 60, 1],
      [DEST, 0, 1],
    );
    const analysis = analysePath(hops, DEST, ANY_HOP);
    assert.equal(analysis.lossFlag, false);
    assert.equal(analysis.lossPct, 0);
  });

  it('counts the destination beyond the first hops', () => {
    const hops = path_(
      ['10.0.0.1', 0, 1],
      ['10.0.0.2', 0, 1],
      ['10.0.0.3', 0, 1],
      ['10.0.0.4', 0, 1],
      [DEST, 20, 1],
    );
    const analysis = analysePath(hops, DEST, ANY_HOP);
    assert.equal(analysis.lossFlag, true);
    assert.equal(analysis.lossPct, 20);
    assert.deepEqual(analysis.trouble, { kind: 'loss', hop: 5, host: DEST, side: 'resource' });
  });

  it('reports the worst loss and the first hop above the threshold', () => {
    const hops = path_(['10.0.0.1', 10, 1], ['10.0.0.2', 30, 1], [DEST, 0, 1]);
    const analysis = analysePath(hops, DEST, ANY_HOP);
    assert.equal(analysis.lossPct, 30);
    assert.equal(analysis.trouble?.hop, 1);
  });

  it('counts a ??? line among the first hops as 100% loss, as the old script read the report', () => {
    const analysis = analysePath(hopsOf('mtr095-netns-silent-router.json'), '10.199.2.2', ANY_HOP);
    assert.equal(analysis.lossFlag, true);
    assert.equal(analysis.lossPct, 100);
    assert.deepEqual(analysis.trouble, { kind: 'loss', hop: 1, host: null, side: 'tunnel' });
  });
});

describe('analysePath: latency (old rule: the destination or any of the first hops)', () => {
  it('flags a latency step at hop 4 with hops=3 and places it on the resource side', () => {
    const analysis = analysePath(hopsOf('mtr095-crafted-latency-step-hop4.json'), DEST, PERSISTENT);
    assert.equal(analysis.latencyFlag, true);
    assert.equal(analysis.latencyMs, 130.25);
    assert.deepEqual(analysis.trouble, { kind: 'latency', hop: 4, host: '10.20.0.1', side: 'resource' });
    assert.equal(analysis.lossFlag, false);
  });

  it('flags a slow hop 2 even when the destination is fast, and places it on the tunnel side', () => {
    const analysis = analysePath(hopsOf('mtr095-crafted-latency-hop2-only.json'), DEST, PERSISTENT);
    assert.equal(analysis.latencyFlag, true);
    assert.equal(analysis.latencyMs, 3.5);
    assert.deepEqual(analysis.trouble, { kind: 'latency', hop: 2, host: '10.8.0.1', side: 'tunnel' });
  });

  it('does not flag a slow intermediate hop beyond the first hops when the destination is fast', () => {
    const hops = path_(
      ['10.0.0.1', 0, 1],
      ['10.0.0.2', 0, 1],
      ['10.0.0.3', 0, 1],
      ['10.0.0.4', 0, 400],
      [DEST, 0, 2],
    );
    const analysis = analysePath(hops, DEST, PERSISTENT);
    assert.equal(analysis.latencyFlag, false);
    assert.equal(analysis.trouble, null);
  });

  it('places the step where latency stays high to the destination, not at an earlier lone slow hop', () => {
    const hops = path_(
      ['10.0.0.1', 0, 1],
      ['10.0.0.2', 0, 200],
      ['10.0.0.3', 0, 2],
      ['10.0.0.4', 0, 90],
      [DEST, 0, 95],
    );
    const analysis = analysePath(hops, DEST, PERSISTENT);
    assert.deepEqual(analysis.trouble, { kind: 'latency', hop: 4, host: '10.0.0.4', side: 'resource' });
  });

  it('falls back to the first slow hop when no step persists to the end', () => {
    const hops = path_(
      ['10.0.0.1', 0, 1],
      ['10.0.0.2', 0, 200],
      ['10.0.0.3', 0, 2],
      ['10.0.0.4', 0, 300],
      [DEST, 0, 5],
    );
    const analysis = analysePath(hops, DEST, PERSISTENT);
    assert.deepEqual(analysis.trouble, { kind: 'latency', hop: 2, host: '10.0.0.2', side: 'tunnel' });
  });

  it('does not flag latency equal to the threshold', () => {
    const analysis = analysePath(path_(['10.0.0.1', 0, 75], [DEST, 0, 75]), DEST, PERSISTENT);
    assert.equal(analysis.latencyFlag, false);
  });

  it('flags slow first hops for a silent destination', () => {
    const hops = path_(['10.0.0.1', 0, 1], ['10.0.0.2', 0, 150], ['10.0.0.3', 0, 160], [null, 100, 0]);
    const analysis = analysePath(hops, DEST, PERSISTENT);
    assert.equal(analysis.latencyFlag, true);
    assert.equal(analysis.latencyMs, null);
    assert.deepEqual(analysis.trouble, { kind: 'latency', hop: 2, host: '10.0.0.2', side: 'tunnel' });
  });

  it('rounds the destination latency to 3 decimals', () => {
    const analysis = analysePath(path_([DEST, 0, 1.23456]), DEST, PERSISTENT);
    assert.equal(analysis.latencyMs, 1.235);
  });
});

describe('analysePath: latency and loss together', () => {
  it('reports the earlier spot: latency at hop 2 before loss at hop 4', () => {
    const hops = path_(
      ['10.0.0.1', 0, 1],
      ['10.0.0.2', 0, 100],
      ['10.0.0.3', 0, 100],
      ['10.0.0.4', 20, 100],
      [DEST, 20, 100],
    );
    const analysis = analysePath(hops, DEST, PERSISTENT);
    assert.equal(analysis.latencyFlag, true);
    assert.equal(analysis.lossFlag, true);
    assert.deepEqual(analysis.trouble, { kind: 'latency', hop: 2, host: '10.0.0.2', side: 'tunnel' });
  });

  it('reports the earlier spot: loss at hop 1 before latency at hop 3', () => {
    const hops = path_(['10.0.0.1', 20, 1], ['10.0.0.2', 20, 1], ['10.0.0.3', 20, 100], [DEST, 20, 100]);
    const analysis = analysePath(hops, DEST, PERSISTENT);
    assert.deepEqual(analysis.trouble, { kind: 'loss', hop: 1, host: '10.0.0.1', side: 'tunnel' });
  });

  it('lets loss win when both start at the same hop', () => {
    const hops = path_(['10.0.0.1', 0, 1], ['10.0.0.2', 20, 100], [DEST, 20, 100]);
    const analysis = analysePath(hops, DEST, PERSISTENT);
    assert.deepEqual(analysis.trouble, { kind: 'loss', hop: 2, host: '10.0.0.2', side: 'tunnel' });
  });
});

describe('analysePath: finding the destination by address', () => {
  it('matches an IPv6 destination written in another form', () => {
    const analysis = analysePath(hopsOf('mtr095-crafted-ipv6.json'), '2001:DB8:0:0::10', PERSISTENT);
    assert.equal(analysis.destinationAnswered, true);
    assert.equal(analysis.latencyMs, 3.75);
    assert.equal(analysis.lastRespondingHop, 3);
  });

  it('matches the real IPv6 loopback run', () => {
    const analysis = analysePath(hopsOf('mtr095-loopback-v6.json'), '0:0:0:0:0:0:0:1', PERSISTENT);
    assert.equal(analysis.destinationAnswered, true);
    assert.equal(analysis.latencyMs, 0.084);
  });

  it('does not take a different address for the destination', () => {
    const analysis = analysePath(hopsOf('mtr095-crafted-ipv6.json'), '2001:db8::11', PERSISTENT);
    assert.equal(analysis.destinationAnswered, false);
  });

  it('normalizes IPv6 forms, zones, brackets and IPv4-mapped addresses', () => {
    assert.equal(normalizeAddress('2001:DB8:0:0:0:0:0:1'), normalizeAddress('2001:db8::1'));
    assert.equal(normalizeAddress('[2001:db8::1]'), normalizeAddress('2001:db8::1'));
    assert.equal(normalizeAddress('fe80::1%eth0'), normalizeAddress('FE80:0::1'));
    assert.equal(normalizeAddress('::ffff:192.0.2.1'), normalizeAddress('::ffff:c000:201'));
    assert.equal(normalizeAddress('::'), normalizeAddress('0:0:0:0:0:0:0:0'));
    assert.notEqual(normalizeAddress('2001:db8::1'), normalizeAddress('2001:db8::1:0'));
    assert.equal(normalizeAddress(' 10.0.0.1 '), '10.0.0.1');
    assert.equal(normalizeAddress('Host.Example'), 'host.example');
    assert.equal(normalizeAddress('1:2:3'), '1:2:3');
  });
});

describe('analysePath: which side a trouble spot is on', () => {
  const NEAR = '10.0.0.9';

  it('puts a lossy destination within the first hops on the resource side', () => {
    // Prepare: the destination is hop 3, and hops=3 makes hops 1-3 the tunnel's.
    const hops = path_(['10.0.0.1', 0, 1], ['10.0.0.2', 0, 2], [NEAR, 50, 3]);
    // Act
    const analysis = analysePath(hops, NEAR, PERSISTENT);
    // Assess
    assert.equal(analysis.lossFlag, true);
    assert.deepEqual(analysis.trouble, { kind: 'loss', hop: 3, host: NEAR, side: 'resource' });
  });

  it('puts a lossy destination within the first hops on the resource side under any-hop too', () => {
    const hops = path_(['10.0.0.1', 0, 1], ['10.0.0.2', 0, 2], [NEAR, 50, 3]);
    const analysis = analysePath(hops, NEAR, ANY_HOP);
    assert.deepEqual(analysis.trouble, { kind: 'loss', hop: 3, host: NEAR, side: 'resource' });
  });

  it('puts a slow destination within the first hops on the resource side', () => {
    const hops = path_(['10.0.0.1', 0, 1], ['10.0.0.2', 0, 2], [NEAR, 0, 120]);
    const analysis = analysePath(hops, NEAR, PERSISTENT);
    assert.deepEqual(analysis.trouble, { kind: 'latency', hop: 3, host: NEAR, side: 'resource' });
  });

  it('keeps a slow gateway hop that is not the destination on the tunnel side', () => {
    const hops = path_(['10.0.0.1', 0, 120], ['10.0.0.2', 0, 2], [NEAR, 0, 3]);
    const analysis = analysePath(hops, NEAR, PERSISTENT);
    assert.equal(analysis.latencyFlag, true);
    assert.deepEqual(analysis.trouble, { kind: 'latency', hop: 1, host: '10.0.0.1', side: 'tunnel' });
  });
});
