import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { analysePath, type PathAnalysis, type PathThresholds } from '../../../agent/analysis/analyse-path.ts';
import { judgeIcmp, judgeWithFallback } from '../../../agent/analysis/judge-fallback.ts';
import { MonitorError } from '../../../common/errors.ts';
import { pathOf } from '../../helpers/hops.ts';

const DEST = '10.20.0.10';
const THRESHOLDS: PathThresholds = {
  latencyThresholdMs: 75,
  lossThresholdPct: 5,
  tunnelHops: 3,
  lossRule: 'persistent',
  jitterThresholdMs: 0,
};

/** [host, loss, avg]; host null makes a ??? hop. */
function analyse(...spec: [string | null, number, number][]): PathAnalysis {
  return analysePath(pathOf(spec), DEST, THRESHOLDS);
}

/** Three tunnel hops that answer quickly, then a destination that ignores ICMP. */
const SILENT_DEST: [string | null, number, number][] = [
  ['10.0.0.1', 0, 1],
  ['10.0.0.2', 0, 2],
  ['10.0.0.3', 0, 3],
  ['10.0.0.4', 0, 4],
  [null, 100, 0],
];

describe('judgeIcmp', () => {
  it('says ok for a fast, loss-free destination', () => {
    const judgement = judgeIcmp(analyse(['10.0.0.1', 0, 1], [DEST, 0, 2.5]));
    assert.deepEqual(judgement, {
      method: 'icmp',
      latencyMs: 2.5,
      latencyBasis: 'icmp-echo',
      requestMs: null,
      lossPct: 0,
      latencyFlag: false,
      lossFlag: false,
      trouble: null,
      verdict: 'ok',
      unmeasured: null,
      jitterMs: 0,
    });
  });

  it('says latency, loss or latency+loss from the flags', () => {
    assert.equal(judgeIcmp(analyse(['10.0.0.1', 0, 1], [DEST, 0, 90])).verdict, 'latency');
    assert.equal(judgeIcmp(analyse(['10.0.0.1', 0, 1], [DEST, 10, 2])).verdict, 'loss');
    const both = judgeIcmp(analyse(['10.0.0.1', 0, 1], [DEST, 10, 90]));
    assert.equal(both.verdict, 'latency+loss');
    // The destination is the resource side even within the first `hops` hops.
    assert.deepEqual(both.trouble, { kind: 'loss', hop: 2, host: DEST, side: 'resource' });
  });

  it('refuses an analysis whose destination did not answer', () => {
    assert.throws(
      () => judgeIcmp(analyse(...SILENT_DEST)),
      (error: unknown) => error instanceof MonitorError && error.code === 'E_INTERNAL',
    );
  });
});

describe('judgeWithFallback with answers from the destination', () => {
  it('measures latency and loss from TCP connect times and flags loss', () => {
    // Prepare
    const analysis = analyse(...SILENT_DEST);
    // Act
    const judgement = judgeWithFallback(analysis, { method: 'tcp', rttsMs: [10, null, 12, 14] }, THRESHOLDS);
    // Assess
    assert.deepEqual(judgement, {
      method: 'tcp',
      latencyMs: 12,
      latencyBasis: 'tcp-connect',
      requestMs: null,
      lossPct: 25,
      latencyFlag: false,
      lossFlag: true,
      trouble: { kind: 'loss', hop: 5, host: null, side: 'resource' },
      verdict: 'loss',
      unmeasured: null,
      // mtr's Javg over the answers 10, 12, 14 (the lost attempt skipped): (2 + 2) / 3.
      jitterMs: 1.333,
    });
  });

  it('says ok with no trouble when the HTTP connect times are fine, reporting the request time apart', () => {
    const judgement = judgeWithFallback(
      analyse(...SILENT_DEST),
      { method: 'http', rttsMs: [20, 30], requestsMs: [50, 70] },
      THRESHOLDS,
    );
    assert.equal(judgement.method, 'http');
    assert.equal(judgement.latencyMs, 25);
    assert.equal(judgement.latencyBasis, 'tcp-connect');
    assert.equal(judgement.requestMs, 60);
    assert.equal(judgement.lossPct, 0);
    assert.equal(judgement.verdict, 'ok');
    assert.equal(judgement.trouble, null);
  });

  it('judges a URL by its connect time: a 300 ms HTTPS request over a 20 ms path is not flagged at 75 ms', () => {
    // Prepare: TCP + TLS handshakes and server time make each request several round trips.
    const fallback = { method: 'http' as const, rttsMs: [20, 21, 19], requestsMs: [290, 310, 300] };
    // Act
    const judgement = judgeWithFallback(analyse(...SILENT_DEST), fallback, THRESHOLDS);
    // Assess
    assert.equal(judgement.latencyMs, 20);
    assert.equal(judgement.requestMs, 300);
    assert.equal(judgement.latencyFlag, false);
    assert.equal(judgement.verdict, 'ok');
  });

  it('flags a URL whose connect time is above the threshold', () => {
    const fallback = { method: 'http' as const, rttsMs: [90, 100], requestsMs: [400, 420] };
    const judgement = judgeWithFallback(analyse(...SILENT_DEST), fallback, THRESHOLDS);
    assert.equal(judgement.latencyMs, 95);
    assert.equal(judgement.latencyFlag, true);
    assert.equal(judgement.verdict, 'latency');
  });

  it('counts a request that connected but got no response as answered, with requestMs from the others', () => {
    const fallback = { method: 'http' as const, rttsMs: [10, 12], requestsMs: [null, 40] };
    const judgement = judgeWithFallback(analyse(...SILENT_DEST), fallback, THRESHOLDS);
    assert.equal(judgement.lossPct, 0);
    assert.equal(judgement.requestMs, 40);
    const none = judgeWithFallback(
      analyse(...SILENT_DEST),
      { method: 'http', rttsMs: [10, 12], requestsMs: [null, null] },
      THRESHOLDS,
    );
    assert.equal(none.requestMs, null);
    assert.equal(none.verdict, 'ok');
  });

  it('flags a slow destination and places the trouble just past the last responding hop', () => {
    const judgement = judgeWithFallback(
      analyse(...SILENT_DEST),
      { method: 'tcp', rttsMs: [80, 90] },
      THRESHOLDS,
    );
    assert.equal(judgement.latencyFlag, true);
    assert.equal(judgement.verdict, 'latency');
    assert.deepEqual(judgement.trouble, { kind: 'latency', hop: 5, host: null, side: 'resource' });
  });

  it('places a fallback-only problem at the destination on the resource side even within the first hops', () => {
    const analysis = analyse(['10.0.0.1', 0, 1], [null, 100, 0], [null, 100, 0]);
    const judgement = judgeWithFallback(analysis, { method: 'tcp', rttsMs: [100] }, THRESHOLDS);
    assert.deepEqual(judgement.trouble, { kind: 'latency', hop: 2, host: null, side: 'resource' });
  });

  it('keeps a latency flag raised by a slow first hop even when the fallback is fast', () => {
    const analysis = analyse(['10.0.0.1', 0, 1], ['10.0.0.2', 0, 150], ['10.0.0.3', 0, 3], [null, 100, 0]);
    const judgement = judgeWithFallback(analysis, { method: 'tcp', rttsMs: [5, 5] }, THRESHOLDS);
    assert.equal(judgement.latencyFlag, true);
    assert.equal(judgement.verdict, 'latency');
    assert.deepEqual(judgement.trouble, { kind: 'latency', hop: 2, host: '10.0.0.2', side: 'tunnel' });
  });

  it('uses the path loss spot when the fallback also loses packets', () => {
    const analysis = analyse(['10.0.0.1', 0, 1], ['10.0.0.2', 30, 2], ['10.0.0.3', 30, 3], [null, 100, 0]);
    const judgement = judgeWithFallback(analysis, { method: 'tcp', rttsMs: [5, null, null, 5] }, THRESHOLDS);
    assert.equal(judgement.lossPct, 50);
    assert.deepEqual(judgement.trouble, { kind: 'loss', hop: 2, host: '10.0.0.2', side: 'tunnel' });
  });

  it('drops path loss the destination does not confirm', () => {
    const analysis = analyse(['10.0.0.1', 0, 1], ['10.0.0.2', 30, 2], [null, 100, 0]);
    const judgement = judgeWithFallback(analysis, { method: 'tcp', rttsMs: [5, 5, 5] }, THRESHOLDS);
    assert.equal(judgement.lossFlag, false);
    assert.equal(judgement.verdict, 'ok');
    assert.equal(judgement.trouble, null);
  });

  it('rounds the mean and the loss share to 3 decimals', () => {
    const judgement = judgeWithFallback(
      analyse(...SILENT_DEST),
      { method: 'tcp', rttsMs: [1.0001, 1.0002, 1.0004, null, null, null] },
      THRESHOLDS,
    );
    assert.equal(judgement.latencyMs, 1);
    const third = judgeWithFallback(
      analyse(...SILENT_DEST),
      { method: 'tcp', rttsMs: [1, 2, null] },
      THRESHOLDS,
    );
    assert.equal(third.lossPct, 33.333);
  });

  it('judges a destination that answered ICMP by ICMP, ignoring the fallback', () => {
    const analysis = analyse(['10.0.0.1', 0, 1], [DEST, 0, 2]);
    const judgement = judgeWithFallback(analysis, { method: 'tcp', rttsMs: [null] }, THRESHOLDS);
    assert.equal(judgement.method, 'icmp');
    assert.equal(judgement.verdict, 'ok');
  });
});

describe('judgeWithFallback under loss rule any-hop', () => {
  const ANY_HOP: PathThresholds = { ...THRESHOLDS, lossRule: 'any-hop' };
  /** 30% loss at hop 2 (a first hop), then a destination that ignores ICMP. */
  const LOSSY_HOP2: [string | null, number, number][] = [
    ['10.0.0.1', 0, 1],
    ['10.0.0.2', 30, 2],
    ['10.0.0.3', 0, 3],
    ['10.0.0.4', 0, 4],
    [null, 100, 0],
  ];

  it('keeps the path loss flag of a first hop when the fallback loses nothing', () => {
    // Prepare
    const analysis = analysePath(pathOf(LOSSY_HOP2), DEST, ANY_HOP);
    // Act
    const judgement = judgeWithFallback(analysis, { method: 'tcp', rttsMs: [5, 5, 5, 5] }, ANY_HOP);
    // Assess
    assert.equal(judgement.lossFlag, true);
    assert.equal(judgement.lossPct, 30);
    assert.equal(judgement.verdict, 'loss');
    assert.deepEqual(judgement.trouble, { kind: 'loss', hop: 2, host: '10.0.0.2', side: 'tunnel' });
  });

  it('reports the path loss, not the smaller fallback loss, when the path flag decides', () => {
    // Prepare: the fallback loses 20%, under the 25% threshold; hop 2 loses 30%.
    const thresholds: PathThresholds = { ...ANY_HOP, lossThresholdPct: 25 };
    const analysis = analysePath(pathOf(LOSSY_HOP2), DEST, thresholds);
    // Act
    const judgement = judgeWithFallback(analysis, { method: 'tcp', rttsMs: [5, 5, 5, 5, null] }, thresholds);
    // Assess
    assert.equal(judgement.lossFlag, true);
    assert.equal(judgement.lossPct, 30);
  });

  it('still drops first-hop loss under the persistent rule', () => {
    const analysis = analysePath(pathOf(LOSSY_HOP2), DEST, THRESHOLDS);
    const judgement = judgeWithFallback(analysis, { method: 'tcp', rttsMs: [5, 5, 5, 5] }, THRESHOLDS);
    assert.equal(judgement.lossFlag, false);
    assert.equal(judgement.lossPct, 0);
  });
});

describe('judgeWithFallback without answers', () => {
  const expectedUnreachable = {
    method: null,
    latencyMs: null,
    latencyBasis: null,
    requestMs: null,
    lossPct: 100,
    latencyFlag: false,
    lossFlag: true,
    trouble: { kind: 'loss', hop: 5, host: null, side: 'resource' },
    verdict: 'unreachable',
    unmeasured: null,
    jitterMs: null,
  };

  it('says unreachable when there is no fallback measurement', () => {
    assert.deepEqual(judgeWithFallback(analyse(...SILENT_DEST), null, THRESHOLDS), expectedUnreachable);
  });

  it('says unreachable when no attempt got an answer', () => {
    const judgement = judgeWithFallback(
      analyse(...SILENT_DEST),
      { method: 'tcp', rttsMs: [null, null] },
      THRESHOLDS,
    );
    assert.deepEqual(judgement, expectedUnreachable);
  });

  it('says unreachable when no attempt was made', () => {
    const judgement = judgeWithFallback(analyse(...SILENT_DEST), { method: 'http', rttsMs: [] }, THRESHOLDS);
    assert.deepEqual(judgement, expectedUnreachable);
  });

  it('places the trouble at hop 1 on the tunnel side when nothing on the path answered', () => {
    const judgement = judgeWithFallback(analyse([null, 100, 0], [null, 100, 0]), null, THRESHOLDS);
    assert.equal(judgement.verdict, 'unreachable');
    assert.deepEqual(judgement.trouble, { kind: 'loss', hop: 1, host: null, side: 'tunnel' });
  });

  it('keeps the latency flag of slow first hops', () => {
    const analysis = analyse(['10.0.0.1', 0, 1], ['10.0.0.2', 0, 150], [null, 100, 0]);
    const judgement = judgeWithFallback(analysis, null, THRESHOLDS);
    assert.equal(judgement.latencyFlag, true);
    assert.equal(judgement.verdict, 'unreachable');
  });
});

describe('judgeWithFallback on a path where no hop answered (mtr 0.92 "hubs": [ }, 0.93+ "hubs": [])', () => {
  const dead = (): PathAnalysis => analysePath([], DEST, THRESHOLDS);

  it('is unreachable and flagged when the fallback gets no answer, trouble at hop 1 on the tunnel side', () => {
    const judgement = judgeWithFallback(dead(), { method: 'tcp', rttsMs: [null, null, null] }, THRESHOLDS);
    assert.equal(judgement.verdict, 'unreachable');
    assert.equal(judgement.lossFlag, true);
    assert.equal(judgement.lossPct, 100);
    assert.deepEqual(judgement.trouble, { kind: 'loss', hop: 1, host: null, side: 'tunnel' });
  });

  it('is measured by TCP when the port answers', () => {
    const judgement = judgeWithFallback(dead(), { method: 'tcp', rttsMs: [2, 4, 3] }, THRESHOLDS);
    assert.equal(judgement.verdict, 'ok');
    assert.equal(judgement.method, 'tcp');
    assert.equal(judgement.latencyMs, 3);
    assert.equal(judgement.lossFlag, false);
  });
});
