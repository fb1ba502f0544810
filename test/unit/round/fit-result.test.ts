import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fitResult, serializeResult } from '../../../agent/round/fit-result.ts';
import { unmeasuredJudgement } from '../../../common/flag-rule.ts';
import {
  type Hop,
  RESULT_SCHEMA,
  type ResourceResult,
  type ResultDocument,
} from '../../../common/result-schema.ts';
import { assertCollectorAccepts } from '../../helpers/collector-accepts.ts';
import { brokenStrings } from '../../helpers/well-formed.ts';

const hop = (ttl: number): Hop => ({
  ttl,
  host: `10.20.${ttl}.1`,
  lossPct: 0,
  sent: 25,
  lastMs: 1.234,
  avgMs: 1.234,
  bestMs: 1.1,
  worstMs: 2.2,
  stdevMs: 0.1,
  jitterMs: 0.125,
});

const resource = (target: string, flagged: boolean): ResourceResult => ({
  target,
  address: target,
  method: 'icmp',
  latencyMs: flagged ? 120 : 3,
  latencyBasis: 'icmp-echo',
  requestMs: null,
  lossPct: 0,
  latencyFlag: flagged,
  lossFlag: false,
  verdict: flagged ? 'latency' : 'ok',
  unmeasured: null,
  trouble: null,
  hops: Array.from({ length: 30 }, (_, i) => hop(i + 1)),
  errors: [],
  durationMs: 1000,
  jitterMs: 0.25,
});

function documentWith(resources: ResourceResult[]): ResultDocument {
  return {
    schema: RESULT_SCHEMA,
    agentVersion: 'test',
    hostname: 'h',
    outcome: 'completed',
    error: null,
    mtrId: '0',
    startedAt: '2026-01-01T00:00:00.000Z',
    finishedAt: '2026-01-01T00:00:30.000Z',
    timings: { totalMs: 0, probesMs: 0, gatewayDiscoveryMs: 0 },
    settings: null,
    summary: {
      resources: resources.length,
      flagged: 0,
      latencyFlag: false,
      lossFlag: false,
      worstLatencyMs: null,
      worstLossPct: null,
      jitterFlag: false,
      worstJitterMs: null,
    },
    resources,
    gateway: {
      ip: '203.0.113.9',
      source: 'option',
      latencyMs: 9,
      lossPct: 0,
      hops: [hop(1), hop(2)],
      errors: [],
    },
    seed: null,
    files: [],
    warnings: [],
    truncated: null,
  };
}

describe('the printed document', () => {
  it('has no control character raw, so --json on a terminal is as safe as the table', () => {
    // Prepare: a hop name from reverse DNS and a log dir path with C1 and bidirectional controls,
    // which JSON.stringify leaves as they are (it escapes only C0).
    const doc = documentWith([resource('10.0.0.1', true)]);
    const first = doc.resources[0]?.hops?.[0];
    assert.ok(first);
    first.host = 'evil\u009b31m.example\u202e';
    doc.warnings = ['/home/ubuntu/Connexa-Logs\u0085/x is a symbolic link'];
    // Act
    const text = serializeResult(doc);
    const fitted = serializeResult(fitResult(doc, serializeResult(doc).length - 1));
    // Assess
    for (const printed of [text, fitted]) {
      assert.doesNotMatch(printed, /[\u0080-\u009f\u202a-\u202e]/);
      assert.equal(JSON.parse(printed).warnings[0], doc.warnings[0], 'the same JSON value');
    }
    assert.ok(text.includes('evil\\u009b31m.example\\u202e'));
  });
});

describe('fitting the result document into the SSM output limit', () => {
  it('leaves a document that fits untouched', () => {
    const doc = documentWith([resource('10.0.0.1', false)]);
    assert.equal(fitResult(doc), doc);
  });

  it('first leaves out null keys the collector reads as null: nothing dropped, nothing lost', () => {
    // Prepare: 50 resources without hop lists or jitter (an old agent's kind of figures), just over a limit.
    const resources = Array.from({ length: 50 }, (_, i) => ({
      ...resource(`10.0.${i}.1`, false),
      hops: null,
      latencyBasis: null,
      jitterMs: null,
    }));
    const doc = documentWith(resources);
    const limit = serializeResult(doc).length - 1;
    // Act
    const fitted = fitResult(doc, limit);
    // Assess
    const printed = serializeResult(fitted);
    assert.ok(printed.length <= limit);
    assert.deepEqual(fitted.truncated, { hopsDroppedFor: [], nullsOmitted: true });
    assert.deepEqual(fitted.warnings, [], 'nothing was dropped, so nothing to say');
    assert.ok(
      !/"(unmeasured|requestMs|latencyBasis|jitterMs|hops)":null/.test(printed),
      printed.slice(0, 300),
    );
    assert.deepEqual({ ...fitted, truncated: null }, doc, 'the document itself is as it was');
    assertCollectorAccepts(fitted);
  });

  it('drops hop lists of unflagged resources first, keeps flagged evidence, and says so', () => {
    const resources = Array.from({ length: 50 }, (_, i) => resource(`10.0.${i}.1`, i === 7));
    const doc = documentWith(resources);
    assert.ok(serializeResult(doc).length > 24_000, 'the fixture must overflow');

    const fitted = fitResult(doc);

    assertCollectorAccepts(fitted);
    assert.ok(serializeResult(fitted).length <= 24_000);
    assert.notEqual(fitted.resources[7]?.hops, null, 'the flagged resource keeps its path');
    assert.ok((fitted.truncated?.hopsDroppedFor.length ?? 0) > 0);
    assert.ok(!fitted.truncated?.hopsDroppedFor.includes('10.0.7.1'));
    assert.ok(fitted.warnings.some((w) => w.includes('hop lists dropped')));
    assert.equal(fitted.resources.length, 50, 'every resource is still reported');
    assert.notEqual(doc.resources[0]?.hops, null, 'the input document is not modified');
  });

  it('drops no more hop lists than needed, whatever the limit (the length it keeps by arithmetic is exact)', () => {
    // Prepare: hop lists of uneven lengths, so each drop frees a different amount.
    const resources = Array.from({ length: 50 }, (_, i) => {
      const r = resource(`10.0.${i}.1`, i === 7);
      return { ...r, hops: (r.hops ?? []).slice(0, 1 + (i % 4)) };
    });
    const doc = documentWith(resources);
    const full = serializeResult({ ...doc, truncated: { hopsDroppedFor: [], nullsOmitted: true } }).length;
    for (const maxChars of [full - 1, full - 500, full - 2_000, full - 4_000]) {
      // Act
      const fitted = fitResult(doc, maxChars);
      // Assess: it fits, and with the last hop list dropped put back it would not.
      const droppedFor = fitted.truncated?.hopsDroppedFor ?? [];
      assert.ok(droppedFor.length > 0, `${maxChars}`);
      assert.ok(serializeResult(fitted).length <= maxChars, `${maxChars}`);
      const last = droppedFor.at(-1);
      const index = fitted.resources.findIndex((r) => r.target === last);
      const putBack = {
        ...fitted,
        resources: fitted.resources.map((r, i) =>
          i === index ? { ...r, hops: doc.resources[i]?.hops ?? null } : r,
        ),
        truncated: { ...fitted.truncated, hopsDroppedFor: droppedFor.slice(0, -1), nullsOmitted: true },
      } as ResultDocument;
      assert.ok(serializeResult(putBack).length > maxChars, `${maxChars}: one hop list fewer would do`);
    }
  });

  it('stays under the limit with 50 URL resources of 512 characters, clipping texts and saying so', () => {
    const url = (i: number) =>
      `https://intranet.corp.example/${String(i).padStart(3, '0')}/${'a'.repeat(470)}`;
    const resources = Array.from({ length: 50 }, (_, i) => ({
      ...resource(url(i), i % 2 === 0),
      address: `10.0.0.${i}`,
      errors: [{ code: 'E_PROBE' as const, message: `tcp probe to 10.0.0.${i}: ${'timeout '.repeat(40)}` }],
    }));
    const doc = documentWith(resources);
    doc.seed = {
      HOSTNAME: 'h',
      'RESOURCE(S)': resources.map((r) => r.target),
      GATEWAY_IP: 'N/A',
      LATENCY_FLAG: '1',
      'LATENCY_(ms)': '120.0',
      'LATENCY_THRESHOLD_(ms)': '75',
      LOSS_FLAG: '0',
      'HOP_LOSS_(%)': '0.0',
      'LOSS_THRESHOLD_(%)': '5',
      'MTR-ID_(YYYYMMDDHHMMSS)': '20260101000000',
    };
    doc.warnings = resources.map((r) => `${r.target}: something to say`);

    const fitted = fitResult(doc);

    assertCollectorAccepts(fitted);
    assert.ok(serializeResult(fitted).length <= 24_000, `${serializeResult(fitted).length} characters`);
    assert.equal(fitted.resources.length, 50);
    assert.deepEqual(
      fitted.resources.map((r) => [r.latencyFlag, r.verdict]),
      resources.map((r) => [r.latencyFlag, r.verdict]),
      'every verdict survives',
    );
    assert.equal(fitted.truncated?.textShortened, true);
    assert.match(fitted.resources[0]?.target ?? '', /…\(504 chars\)$/);
    assert.ok(fitted.warnings.some((w) => w.includes('texts longer than')));
  });

  it('50 unresolvable URL resources: every one stays unmeasured, flagged and with its reason, details clipped', () => {
    // Prepare: 50 names of 512 characters that did not resolve; each error quotes its name.
    const url = (i: number) => `https://db${i}.corp.example/${'b'.repeat(480)}`;
    const resources = Array.from({ length: 50 }, (_, i): ResourceResult => {
      const message = `could not resolve "${url(i)}": EAI_AGAIN`;
      return {
        ...resource(url(i), false),
        address: null,
        hops: null,
        errors: [{ code: 'E_RESOLVE', message }],
        ...unmeasuredJudgement({ code: 'E_RESOLVE', message }),
      };
    });
    const doc = documentWith(resources);
    assert.ok(serializeResult(doc).length > 24_000, 'the fixture must overflow');
    // Act
    const fitted = fitResult(doc);
    // Assess
    assertCollectorAccepts(fitted);
    assert.ok(serializeResult(fitted).length <= 24_000, `${serializeResult(fitted).length} characters`);
    assert.deepEqual(
      fitted.resources.map((r) => [r.verdict, r.lossFlag, r.lossPct, r.unmeasured?.reason]),
      resources.map(() => ['unmeasured', true, 100, 'dns']),
    );
    assert.ok(fitted.resources.every((r) => (r.unmeasured?.detail.length ?? 0) <= 200));
    assert.equal(doc.resources[0]?.unmeasured?.detail.length, 536, 'the input document is not modified');
  });

  describe('path changes and baselines', () => {
    const v6 = (i: number, k: number) =>
      `2001:db8:ffff:ffff:ffff:ffff:${i.toString(16)}:${(0x1000 + k).toString(16)}`;
    const changed = (i: number, hops: number): ResourceResult => ({
      ...resource(`10.0.${i}.1`, false),
      hops: Array.from({ length: 3 }, (_, k) => hop(k + 1)),
      pathChange: {
        previousHops: Array.from({ length: hops }, (_, k) => v6(i, k)),
        hops: Array.from({ length: hops }, (_, k) => v6(i, k + 100)),
        firstDifferentHop: 2,
      },
      baseline: { ms: 2.5, spreadMs: 0.25, deviationMs: 0.5, far: false },
    });

    it('drops the previous paths of path changes before any hop list, and says so', () => {
      // Prepare: the smallest round of changed paths that overflows, and would fit without its previous paths.
      let count = 1;
      while (
        serializeResult(documentWith(Array.from({ length: count }, (_, i) => changed(i, 30)))).length <=
        24_000
      )
        count++;
      const doc = documentWith(Array.from({ length: count }, (_, i) => changed(i, 30)));
      // Act
      const fitted = fitResult(doc);
      // Assess
      assertCollectorAccepts(fitted);
      assert.ok(serializeResult(fitted).length <= 24_000);
      assert.ok(fitted.resources.every((r) => r.pathChange?.previousHops === null));
      assert.ok(fitted.resources.every((r) => r.pathChange?.hops?.length === 30 && r.hops !== null));
      assert.deepEqual(fitted.truncated?.hopsDroppedFor, []);
      assert.ok(
        fitted.warnings.some((w) => w.startsWith(`previous paths of ${count} path change(s) dropped`)),
      );
      assert.equal(
        doc.resources[0]?.pathChange?.previousHops?.length,
        30,
        'the input document is not modified',
      );
    });

    it('drops the new paths of path changes after every hop list, keeping where each change starts', () => {
      const doc = documentWith(Array.from({ length: 50 }, (_, i) => changed(i, 30)));
      const fitted = fitResult(doc);
      assertCollectorAccepts(fitted);
      assert.ok(serializeResult(fitted).length <= 24_000);
      assert.ok(fitted.resources.every((r) => r.hops === null));
      assert.ok(fitted.resources.some((r) => r.pathChange?.hops === null));
      assert.deepEqual(
        fitted.resources.map((r) => [r.pathChange?.firstDifferentHop, r.baseline]),
        doc.resources.map((r) => [r.pathChange?.firstDifferentHop, r.baseline]),
      );
    });
  });

  describe('when clipping texts is not enough', () => {
    /** The largest round the settings allow: 50 URL targets of 512 characters on IPv6 addresses. */
    function largeRound(o: { errors: number; messageChars: number; warnings: number }): ResultDocument {
      const url = (i: number) =>
        `https://intranet.corp.example/${String(i).padStart(3, '0')}/${'a'.repeat(470)}`;
      const resources = Array.from(
        { length: 50 },
        (_, i): ResourceResult => ({
          ...resource(url(i), i % 2 === 0),
          address: `2001:db8:ffff:ffff:ffff:ffff:ffff:${(0x1000 + i).toString(16)}`,
          lossPct: 12.5,
          trouble: {
            kind: 'latency',
            hop: 3,
            host: '2001:db8:ffff:ffff:ffff:ffff:ffff:ffff',
            side: i % 2 === 0 ? 'resource' : 'tunnel',
          },
          errors: Array.from({ length: o.errors }, (_, k) => ({
            code: k === 0 ? ('E_PROBE' as const) : ('E_MTR_TIMEOUT' as const),
            message: `probe ${k} of 10.0.0.${i}: ${'x'.repeat(o.messageChars)}`,
          })),
        }),
      );
      const doc = documentWith(resources);
      doc.seed = {
        HOSTNAME: 'h',
        'RESOURCE(S)': resources.map((r) => r.target),
        GATEWAY_IP: '203.0.113.9',
        LATENCY_FLAG: '1',
        'LATENCY_(ms)': '120.0',
        'LATENCY_THRESHOLD_(ms)': '75',
        LOSS_FLAG: '0',
        'HOP_LOSS_(%)': '12.5',
        'LOSS_THRESHOLD_(%)': '5',
        'MTR-ID_(YYYYMMDDHHMMSS)': '20260101000000',
      };
      doc.warnings = Array.from({ length: o.warnings }, (_, i) => `${url(i)}: ${'w'.repeat(300)}`);
      return doc;
    }

    /** Everything the round measured, per resource: what no shrink step may drop. */
    const measured = (doc: ResultDocument) =>
      doc.resources.map((r) => ({
        address: r.address,
        method: r.method,
        latencyMs: r.latencyMs,
        latencyBasis: r.latencyBasis,
        requestMs: r.requestMs,
        lossPct: r.lossPct,
        latencyFlag: r.latencyFlag,
        lossFlag: r.lossFlag,
        verdict: r.verdict,
        unmeasuredReason: r.unmeasured?.reason ?? null,
        trouble: r.trouble,
        durationMs: r.durationMs,
        jitterMs: r.jitterMs,
      }));

    it('drops error messages and keeps their codes, and the document fits', () => {
      const doc = largeRound({ errors: 1, messageChars: 300, warnings: 50 });
      assert.ok(serializeResult(doc).length > 24_000, 'the fixture must overflow');

      const fitted = fitResult(doc);

      assert.ok(serializeResult(fitted).length <= 24_000, `${serializeResult(fitted).length} characters`);
      assert.deepEqual(
        fitted.resources.map((r) => r.errors),
        doc.resources.map(() => [{ code: 'E_PROBE', message: '' }]),
        'the last step ran: codes kept, messages dropped',
      );
      assert.deepEqual(measured(fitted), measured(doc));
      assert.deepEqual(fitted.summary, doc.summary);
      assert.equal(fitted.resources.length, 50);
      assert.equal(fitted.seed?.['RESOURCE(S)'].length, 50);
      assert.deepEqual(
        fitted.resources.map((r) => r.hops),
        doc.resources.map(() => null),
      );
      assert.deepEqual(
        doc,
        largeRound({ errors: 1, messageChars: 300, warnings: 50 }),
        'the input document is not modified',
      );
    });

    it('keeps only what was measured for the largest round, with one warning saying what was dropped', () => {
      const doc = largeRound({ errors: 3, messageChars: 400, warnings: 60 });
      if (doc.gateway !== null) doc.gateway.errors = [{ code: 'E_GATEWAY', message: 'g'.repeat(1000) }];
      // The longest --log-dir the agent accepts.
      const logDir = `/${'d'.repeat(4095)}`;
      doc.files = ['LATENCY-LOSS-CONNEXA-REPORT.json', 'MTR-RESOURCE-20260101000000.txt'].map((name, i) => ({
        kind: i === 0 ? 'report' : 'mtr-resource',
        path: `${logDir}/${name}`,
      }));
      doc.hostname = `ip-10-20-30-40.${'h'.repeat(40)}.internal`;

      const fitted = fitResult(doc);

      assert.ok(serializeResult(fitted).length <= 24_000, `${serializeResult(fitted).length} characters`);
      assert.deepEqual(measured(fitted), measured(doc));
      assert.deepEqual(fitted.summary, doc.summary);
      assert.deepEqual(
        fitted.resources.map((r) => r.errors.map((e) => e.code)),
        doc.resources.map(() => ['E_PROBE']),
        'the first error code of every resource',
      );
      assert.deepEqual(fitted.gateway?.errors, [{ code: 'E_GATEWAY', message: '' }]);
      assert.equal(fitted.gateway?.ip, '203.0.113.9');
      assert.deepEqual(fitted.warnings, [
        'to keep this document under 24000 characters: hop lists of 51 path(s), error messages and warnings dropped, targets shortened; the files on the host keep them',
      ]);
      fitted.resources.forEach((r, i) => {
        assert.ok(r.target.startsWith(doc.resources[i]?.target.slice(0, 12) ?? '?'), r.target);
        assert.match(r.target, /…\(504 chars\)$/);
      });
      const [report, mtrFile] = fitted.files;
      assert.match(report?.path ?? '', /^\(4129 chars\)…d+\/LATENCY-LOSS-CONNEXA-REPORT\.json$/);
      assert.match(mtrFile?.path ?? '', /^\(4128 chars\)…d+\/MTR-RESOURCE-20260101000000\.txt$/);
      assert.ok(fitted.files.every((f) => f.path.length <= 80));
      assert.equal(fitted.hostname, doc.hostname);
      assert.deepEqual(
        { ...fitted.seed, 'RESOURCE(S)': [] },
        { ...doc.seed, 'RESOURCE(S)': [] },
        "the old script's fields as they were",
      );
    });

    it('fits the largest round measured by HTTP: connect and request times on every resource, the settings, long timings', () => {
      // Prepare: URL targets silent to ICMP are judged by the TCP connect time of their requests and
      // report the request time apart (requestMs): the largest figures a resource can carry.
      const doc = largeRound({ errors: 3, messageChars: 400, warnings: 60 });
      doc.resources = doc.resources.map((r) => ({
        ...r,
        method: 'http',
        latencyMs: 1234.567,
        latencyBasis: 'tcp-connect',
        requestMs: 12345.678,
        lossPct: 33.333,
        durationMs: 3_599_999,
      }));
      doc.settings = {
        count: 100,
        intervalSec: 0.25,
        latencyThresholdMs: 1000.5,
        lossThresholdPct: 12.5,
        hops: 10,
        lossRule: 'persistent',
        tcpPort: 65535,
        concurrency: 16,
        jitterThresholdMs: 0,
      };
      doc.startedAt = '2026-01-01T00:00:00.000Z';
      doc.finishedAt = '2026-01-01T00:59:59.999Z';
      doc.timings = { totalMs: 3_599_999, probesMs: 3_599_999, gatewayDiscoveryMs: 10_000 };
      doc.mtrId = '20260101000000';
      // Act
      const fitted = fitResult(doc);
      // Assess
      assert.ok(serializeResult(fitted).length <= 24_000, `${serializeResult(fitted).length} characters`);
      assert.deepEqual(measured(fitted), measured(doc));
      assert.deepEqual(fitted.settings, doc.settings);
    });

    /** The largest round, each resource with a changed path (30 IPv6 hops before and after) and a baseline. */
    function largeRoundWithHistory(o: { changed: number; far: boolean }): ResultDocument {
      const doc = largeRound({ errors: 3, messageChars: 400, warnings: 60 });
      const v6 = (i: number, k: number) =>
        `2001:db8:ffff:ffff:ffff:ffff:${i.toString(16)}:${(0x1000 + k).toString(16)}`;
      doc.resources = doc.resources.map((r, i) => ({
        ...r,
        pathChange:
          i < o.changed
            ? {
                previousHops: Array.from({ length: 30 }, (_, k) => v6(i, k)),
                hops: Array.from({ length: 30 }, (_, k) => v6(i, k + 100)),
                firstDifferentHop: 30,
              }
            : null,
        baseline: { ms: 1234.567, spreadMs: 123.456, deviationMs: -1234.567, far: o.far },
        // The largest round measures jitter on every resource too (never dropped: it is measured).
        jitterMs: 1234.567,
      }));
      return doc;
    }

    it('fits the largest round with a path change and a baseline on every resource: both dropped, last, and said', () => {
      const doc = largeRoundWithHistory({ changed: 50, far: true });
      // Act
      const fitted = fitResult(doc);
      // Assess
      assert.ok(serializeResult(fitted).length <= 24_000, `${serializeResult(fitted).length} characters`);
      assertCollectorAccepts(fitted);
      assert.deepEqual(measured(fitted), measured(doc));
      assert.ok(
        fitted.resources.every((r) => !('baseline' in r) && !('pathChange' in r)),
        'absent: not known',
      );
      assert.match(fitted.warnings[0] ?? '', /; baselines and path changes of this round dropped too/);
      assert.equal(doc.resources[0]?.baseline?.far, true, 'the input document is not modified');
    });

    it('in the largest round, drops the baselines that flag nothing before any path change', () => {
      const doc = largeRoundWithHistory({ changed: 10, far: false });
      const fitted = fitResult(doc);
      assert.ok(serializeResult(fitted).length <= 24_000, `${serializeResult(fitted).length} characters`);
      assertCollectorAccepts(fitted);
      assert.ok(fitted.resources.every((r) => !('baseline' in r)));
      assert.deepEqual(
        fitted.resources.map((r) => r.pathChange?.firstDifferentHop ?? null),
        doc.resources.map((_, i) => (i < 10 ? 30 : null)),
      );
      assert.match(fitted.warnings[0] ?? '', /; baselines of this round dropped too/);
    });

    it('cuts targets to 32 characters only when the last step needs it, then to their length alone, and still fits', () => {
      const doc = largeRound({ errors: 3, messageChars: 400, warnings: 60 });
      const targetLength = (limit: number) => fitResult(doc, limit).resources[0]?.target.length ?? 0;
      /** The largest limit at which the targets are cut to `chars` or shorter (shorter as the limit falls). */
      const largestLimitCutTo = (chars: number): number => {
        let [low, high] = [0, serializeResult(doc).length];
        while (low < high) {
          const mid = Math.ceil((low + high) / 2);
          if (targetLength(mid) <= chars) low = mid;
          else high = mid - 1;
        }
        return low;
      };
      // Where each cut starts, found from the document itself: how much room is left at the SSM
      // limit depends on every field the document carries, not on this test.
      const limit32 = largestLimitCutTo(32);
      const limit20 = largestLimitCutTo(20);

      for (const [limit, target] of [
        [limit32 + 1, (t: string) => `${t.slice(0, 28)}…(504 chars)`],
        [limit32, (t: string) => `${t.slice(0, 12)}…(504 chars)`],
        [limit20 + 1, (t: string) => `${t.slice(0, 12)}…(504 chars)`],
        [limit20, () => '…(504 chars)'],
      ] as const) {
        const fitted = fitResult(doc, limit);
        assert.ok(serializeResult(fitted).length <= limit, `${serializeResult(fitted).length} > ${limit}`);
        assert.deepEqual(
          fitted.resources.map((r) => r.target),
          doc.resources.map((r) => target(r.target)),
          `at a limit of ${limit}`,
        );
        assert.deepEqual(
          fitted.seed?.['RESOURCE(S)'],
          fitted.resources.map((r) => r.target),
        );
        assert.deepEqual(measured(fitted), measured(doc));
      }
    });

    // ---- jitter (issue 10)
    it('fits the largest round with jitter on every resource: the figure, the verdict and the settings kept', () => {
      // Prepare: the HTTP round above, each resource also flagged for jitter as large as its connect
      // time (the longest verdict, a jitter trouble spot), the jitter threshold set.
      const doc = largeRound({ errors: 3, messageChars: 400, warnings: 60 });
      doc.resources = doc.resources.map((r) => ({
        ...r,
        method: 'http',
        latencyMs: 1234.567,
        latencyBasis: 'tcp-connect',
        requestMs: 12345.678,
        lossPct: 33.333,
        latencyFlag: true,
        lossFlag: true,
        verdict: 'latency+loss+jitter',
        trouble: {
          kind: 'jitter',
          hop: 30,
          host: '2001:db8:ffff:ffff:ffff:ffff:ffff:ffff',
          side: 'resource',
        },
        durationMs: 3_599_999,
        jitterMs: 1234.567,
      }));
      doc.summary = {
        ...doc.summary,
        flagged: 50,
        latencyFlag: true,
        lossFlag: true,
        worstLatencyMs: 1234.567,
        worstLossPct: 33.333,
        jitterFlag: true,
        worstJitterMs: 1234.567,
      };
      doc.settings = {
        count: 100,
        intervalSec: 0.25,
        latencyThresholdMs: 1000.5,
        lossThresholdPct: 12.5,
        hops: 10,
        lossRule: 'persistent',
        tcpPort: 65535,
        concurrency: 16,
        jitterThresholdMs: 1000.5,
      };
      doc.timings = { totalMs: 3_599_999, probesMs: 3_599_999, gatewayDiscoveryMs: 10_000 };
      if (doc.seed !== null) doc.seed = { ...doc.seed, LOSS_FLAG: '1', 'HOP_LOSS_(%)': '33.3' };
      // Act
      const fitted = fitResult(doc);
      // Assess
      const printed = serializeResult(fitted);
      assert.ok(printed.length <= 24_000, `${printed.length} characters`);
      assert.deepEqual(measured(fitted), measured(doc), 'jitterMs and verdicts included');
      assert.deepEqual(fitted.settings, doc.settings);
      assert.deepEqual(fitted.summary, doc.summary);
      assertCollectorAccepts(fitted);
    });
  });

  it('never splits a character when it clips: targets, messages, warnings, seed and file paths', () => {
    // Prepare: texts of characters outside the BMP (two UTF-16 units each), behind prefixes of odd
    // and even lengths, so every clip length lands in the middle of a pair for some of them.
    const emoji = (n: number) => '\u{1F600}'.repeat(n);
    const resources = Array.from(
      { length: 50 },
      (_, i): ResourceResult => ({
        ...resource(`https://intranet.example/${'x'.repeat(i % 4)}/${emoji(240)}`, i % 2 === 0),
        address: `10.0.${i}.1`,
        errors: [{ code: 'E_PROBE', message: `${'m'.repeat(i % 3)}${emoji(300)}` }],
      }),
    );
    const doc = documentWith(resources);
    doc.seed = {
      HOSTNAME: 'h',
      'RESOURCE(S)': resources.map((r) => r.target),
      GATEWAY_IP: '203.0.113.9',
      LATENCY_FLAG: '1',
      'LATENCY_(ms)': '120.0',
      'LATENCY_THRESHOLD_(ms)': '75',
      LOSS_FLAG: '0',
      'HOP_LOSS_(%)': '0.0',
      'LOSS_THRESHOLD_(%)': '5',
      'MTR-ID_(YYYYMMDDHHMMSS)': '20260101000000',
    };
    doc.warnings = Array.from({ length: 60 }, (_, i) => `${'w'.repeat(i % 2)}${emoji(150)}`);
    doc.files = [{ kind: 'report', path: `/${emoji(100)}/LATENCY-LOSS-CONNEXA-REPORT.json` }];

    // Each limit ends in another step: texts clipped, messages emptied, targets cut to 32.
    for (const limit of [30_000, 20_000, 18_000]) {
      // Act
      const fitted = fitResult(doc, limit);

      // Assess
      assert.deepEqual(brokenStrings(fitted), [], `limit ${limit}`);
      assert.ok(
        fitted.resources.some((r) => r.target.includes('chars)')),
        'targets were clipped',
      );
    }
  });
});
