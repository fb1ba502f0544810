/**
 * Jitter (issue 10): the figure (mtr's mean jitter, Javg), where it starts on
 * a path, when a resource is flagged for it, and how the verdict says so.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { analysePath, type PathThresholds } from '../../../agent/analysis/analyse-path.ts';
import { meanJitterMs } from '../../../agent/analysis/jitter.ts';
import { judgeIcmp, judgeWithFallback } from '../../../agent/analysis/judge-fallback.ts';
import { parseMtrJson } from '../../../agent/mtr/parse-mtr-json.ts';
import type { Hop } from '../../../common/result-schema.ts';
import { pathOf } from '../../helpers/hops.ts';

const FIXTURES = path.join(__dirname, '..', '..', 'fixtures', 'mtr');
const DEST = '10.20.0.10';
const OFF: PathThresholds = {
  latencyThresholdMs: 75,
  lossThresholdPct: 5,
  tunnelHops: 3,
  lossRule: 'persistent',
  jitterThresholdMs: 0,
};
const AT_10: PathThresholds = { ...OFF, jitterThresholdMs: 10 };

/** `[host, loss %, avg ms, jitter ms]` per hop. */
function jitteryPath(...spec: [string | null, number, number, number][]): Hop[] {
  const hops = pathOf(spec.map(([host, loss, avg]) => [host, loss, avg]));
  return hops.map((hop, i) => ({ ...hop, jitterMs: hop.avgMs === null ? null : (spec[i]?.[3] ?? null) }));
}

/**
 * mtr's own computation (traviscross/mtr ui/net.c net_process_ping, 0.92 to
 * 0.96), in its integer microseconds: jitter = |rtt - last|, 0 for the first
 * reply; javg += (jitter - javg) / returned, a C int division (truncating).
 * Printed as javg / 1000.0.
 */
function mtrJavgMs(rttsUs: readonly number[]): number {
  let last = 0;
  let javg = 0;
  let returned = 0;
  for (const rtt of rttsUs) {
    let jitter = Math.abs(rtt - last);
    last = rtt;
    if (returned < 1) jitter = 0;
    returned++;
    javg += Math.trunc((jitter - javg) / returned);
  }
  return javg / 1000;
}

describe('meanJitterMs is mtr’s Javg', () => {
  it('means the differences between consecutive replies over the replies (the first counts 0)', () => {
    // (|12 - 10| + |11 - 12| + |15 - 11|) / 4 replies
    assert.equal(meanJitterMs([10, 12, 11, 15]), 7 / 4);
    assert.equal(meanJitterMs([5, 45, 5, 45]), 120 / 4);
  });

  it('skips lost probes: a reply is compared with the last one that came back', () => {
    assert.equal(meanJitterMs([10, null, 14, null, null, 10]), (4 + 4) / 3);
  });

  it('is 0 for one reply and null for none', () => {
    assert.equal(meanJitterMs([7.5]), 0);
    assert.equal(meanJitterMs([null, 7.5, null]), 0);
    assert.equal(meanJitterMs([null, null]), null);
    assert.equal(meanJitterMs([]), null);
  });

  it('agrees with mtr’s integer computation within its truncation (1 µs per reply)', () => {
    // Prepare: series like the lab's varied relay, and noise; a fixed generator, so the test is repeatable.
    let seed = 42;
    const random = (): number => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let series = 0; series < 200; series++) {
      const n = 1 + Math.floor(random() * 60);
      const rttsUs = Array.from({ length: n }, (_, i) =>
        Math.round((i % 2 === 0 ? 5_000 : 45_000) * (series % 3 === 0 ? 1 : random()) + random() * 3_000),
      );
      // Act
      const ours = meanJitterMs(rttsUs.map((us) => us / 1000)) ?? Number.NaN;
      const mtr = mtrJavgMs(rttsUs);
      // Assess
      assert.ok(Math.abs(ours - mtr) <= n / 1000, `${ours} vs mtr ${mtr} for ${rttsUs.join(',')}`);
    }
  });
});

describe('analysePath judges the jitter of the destination', () => {
  it('reports the destination’s jitter whether or not a threshold is set, and flags nothing when off', () => {
    const hops = jitteryPath(['10.0.0.1', 0, 1, 0.2], ['10.0.0.2', 0, 25, 36], [DEST, 0, 25, 36.5]);
    const analysis = analysePath(hops, DEST, OFF);
    assert.equal(analysis.jitterMs, 36.5);
    assert.equal(analysis.jitterFlag, false);
    assert.equal(analysis.trouble, null);
    assert.equal(judgeIcmp(analysis).verdict, 'ok');
  });

  it('flags a destination above the threshold, from the hop where the jitter starts (lab capture)', () => {
    // Prepare: the relay between hops 2 and 3 alternating 5/45 ms; hops 3 and 4 jitter ~36 ms.
    const hops = parseMtrJson(
      readFileSync(path.join(FIXTURES, 'mtr095-netns-jitter-varied.json'), 'utf8'),
    ).hops;
    // Act
    const judgement = judgeIcmp(analysePath(hops, '10.199.128.11', { ...AT_10, tunnelHops: 1 }));
    // Assess
    assert.equal(judgement.jitterMs, 36.582);
    assert.equal(judgement.verdict, 'jitter');
    assert.equal(judgement.latencyFlag, false, 'the average (27 ms) is under 75 ms');
    assert.deepEqual(judgement.trouble, { kind: 'jitter', hop: 3, host: '10.199.4.2', side: 'resource' });
  });

  it('does not flag the clean capture of the same path', () => {
    const hops = parseMtrJson(
      readFileSync(path.join(FIXTURES, 'mtr095-netns-jitter-clean.json'), 'utf8'),
    ).hops;
    const judgement = judgeIcmp(analysePath(hops, '10.199.128.11', AT_10));
    assert.equal(judgement.verdict, 'ok');
    assert.ok((judgement.jitterMs ?? Number.NaN) < 1, String(judgement.jitterMs));
  });

  it('does not blame a lone jittery router: the spot is the destination when the hops before it are calm', () => {
    const hops = jitteryPath(
      ['10.0.0.1', 0, 1, 0.2],
      ['10.0.0.2', 0, 3, 25],
      ['10.0.0.3', 0, 3, 0.4],
      ['10.0.0.4', 0, 3, 0.4],
      [DEST, 0, 20, 12],
    );
    const analysis = analysePath(hops, DEST, AT_10);
    assert.equal(analysis.jitterFlag, true);
    assert.deepEqual(analysis.trouble, { kind: 'jitter', hop: 5, host: DEST, side: 'resource' });
  });

  it('never flags a jittery router when the destination is calm', () => {
    const hops = jitteryPath(['10.0.0.1', 0, 1, 40], ['10.0.0.2', 0, 3, 40], [DEST, 0, 3, 2]);
    const analysis = analysePath(hops, DEST, AT_10);
    assert.equal(analysis.jitterFlag, false);
    assert.equal(analysis.trouble, null);
  });

  it('puts jitter that starts in the tunnel on the CloudConnexa side', () => {
    const hops = jitteryPath(['10.0.0.1', 0, 1, 18], ['10.0.0.2', 0, 3, 19], [DEST, 0, 20, 19]);
    const analysis = analysePath(hops, DEST, { ...AT_10, tunnelHops: 1 });
    assert.deepEqual(analysis.trouble, { kind: 'jitter', hop: 1, host: '10.0.0.1', side: 'tunnel' });
  });

  it('steps over a silent hop as the latency rule does (??? hops say nothing)', () => {
    const hops = jitteryPath(
      ['10.0.0.1', 0, 1, 0.3],
      ['10.0.0.2', 0, 3, 30],
      [null, 100, 0, 0],
      [DEST, 0, 20, 31],
    );
    const analysis = analysePath(hops, DEST, AT_10);
    assert.deepEqual(analysis.trouble, { kind: 'jitter', hop: 2, host: '10.0.0.2', side: 'tunnel' });
  });

  it('names every kind in the verdict and reports the spot nearest the source', () => {
    // Latency and jitter from hop 4 on, loss from hop 2 on: the loss explains what follows.
    const hops = jitteryPath(
      ['10.0.0.1', 0, 1, 0.2],
      ['10.0.0.2', 20, 3, 0.4],
      ['10.0.0.3', 20, 3, 0.4],
      ['10.0.0.4', 20, 90, 30],
      [DEST, 20, 90, 31],
    );
    const judgement = judgeIcmp(analysePath(hops, DEST, AT_10));
    assert.equal(judgement.verdict, 'latency+loss+jitter');
    assert.deepEqual(judgement.trouble, { kind: 'loss', hop: 2, host: '10.0.0.2', side: 'tunnel' });
    // Jitter before latency: the jitter spot is nearer the source.
    const early = jitteryPath(
      ['10.0.0.1', 0, 1, 0.2],
      ['10.0.0.2', 0, 3, 30],
      ['10.0.0.3', 0, 90, 30],
      [DEST, 0, 90, 30],
    );
    const both = judgeIcmp(analysePath(early, DEST, AT_10));
    assert.equal(both.verdict, 'latency+jitter');
    assert.deepEqual(both.trouble, { kind: 'jitter', hop: 2, host: '10.0.0.2', side: 'tunnel' });
  });

  it('is not above a threshold it equals', () => {
    const hops = jitteryPath(['10.0.0.1', 0, 1, 0.2], [DEST, 0, 20, 10]);
    assert.equal(analysePath(hops, DEST, AT_10).jitterFlag, false);
  });

  it('has no jitter when mtr printed none (an older field list): nothing to flag', () => {
    const hops = pathOf([
      ['10.0.0.1', 0, 1],
      [DEST, 0, 20],
    ]).map((hop) => ({ ...hop, jitterMs: null }));
    const analysis = analysePath(hops, DEST, AT_10);
    assert.equal(analysis.jitterMs, null);
    assert.equal(analysis.jitterFlag, false);
  });
});

describe('judgeWithFallback: the jitter of a destination measured by TCP/HTTP', () => {
  const SILENT: [string | null, number, number][] = [
    ['10.0.0.1', 0, 1],
    ['10.0.0.2', 0, 2],
    ['10.0.0.3', 0, 3],
    [null, 100, 0],
  ];

  it('is the same figure over the connect times, lost attempts skipped', () => {
    const judgement = judgeWithFallback(
      analysePath(pathOf(SILENT), DEST, OFF),
      { method: 'tcp', rttsMs: [5, 45, null, 5, 45] },
      OFF,
    );
    assert.equal(judgement.jitterMs, 30);
    assert.equal(
      judgement.verdict,
      'loss',
      'the lost attempt is loss; jitter, off, is reported, not flagged',
    );
  });

  it('flags it above the threshold, past the last responding hop on the resource side', () => {
    const judgement = judgeWithFallback(
      analysePath(pathOf(SILENT), DEST, AT_10),
      { method: 'http', rttsMs: [5, 45, 5, 45], requestsMs: [20, 60, 20, 60] },
      AT_10,
    );
    assert.equal(judgement.jitterMs, 30);
    assert.equal(judgement.verdict, 'jitter');
    assert.deepEqual(judgement.trouble, { kind: 'jitter', hop: 4, host: null, side: 'resource' });
  });

  it('has none when nothing answered: unreachable, not jittery', () => {
    const judgement = judgeWithFallback(
      analysePath(pathOf(SILENT), DEST, AT_10),
      { method: 'tcp', rttsMs: [null, null] },
      AT_10,
    );
    assert.equal(judgement.jitterMs, null);
    assert.equal(judgement.verdict, 'unreachable');
  });

  it('keeps loss as the first trouble when the connect times are both lossy and jittery', () => {
    const judgement = judgeWithFallback(
      analysePath(pathOf(SILENT), DEST, AT_10),
      { method: 'tcp', rttsMs: [5, 45, null, null, 5, 45] },
      AT_10,
    );
    assert.equal(judgement.verdict, 'loss+jitter');
    assert.equal(judgement.trouble?.kind, 'loss');
  });
});
