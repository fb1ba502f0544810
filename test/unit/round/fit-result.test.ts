import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fitResult, serializeResult } from '../../../agent/round/fit-result.ts';
import {
  type Hop,
  RESULT_SCHEMA,
  type ResourceResult,
  type ResultDocument,
} from '../../../common/result-schema.ts';

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
});

const resource = (target: string, flagged: boolean): ResourceResult => ({
  target,
  address: target,
  method: 'icmp',
  latencyMs: flagged ? 120 : 3,
  lossPct: 0,
  latencyFlag: flagged,
  lossFlag: false,
  verdict: flagged ? 'latency' : 'ok',
  trouble: null,
  hops: Array.from({ length: 30 }, (_, i) => hop(i + 1)),
  errors: [],
  durationMs: 1000,
});

function documentWith(resources: ResourceResult[]): ResultDocument {
  return {
    schema: RESULT_SCHEMA,
    agentVersion: 'test',
    hostname: 'h',
    outcome: 'completed',
    error: null,
    mtrId: '0',
    startedAt: '',
    finishedAt: '',
    timings: { totalMs: 0, probesMs: 0, gatewayDiscoveryMs: 0 },
    settings: null,
    summary: {
      resources: resources.length,
      flagged: 0,
      latencyFlag: false,
      lossFlag: false,
      worstLatencyMs: null,
      worstLossPct: null,
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

describe('fitting the result document into the SSM output limit', () => {
  it('leaves a document that fits untouched', () => {
    const doc = documentWith([resource('10.0.0.1', false)]);
    assert.equal(fitResult(doc), doc);
  });

  it('drops hop lists of unflagged resources first, keeps flagged evidence, and says so', () => {
    const resources = Array.from({ length: 50 }, (_, i) => resource(`10.0.${i}.1`, i === 7));
    const doc = documentWith(resources);
    assert.ok(serializeResult(doc).length > 24_000, 'the fixture must overflow');

    const fitted = fitResult(doc);

    assert.ok(serializeResult(fitted).length <= 24_000);
    assert.notEqual(fitted.resources[7]?.hops, null, 'the flagged resource keeps its path');
    assert.ok((fitted.truncated?.hopsDroppedFor.length ?? 0) > 0);
    assert.ok(!fitted.truncated?.hopsDroppedFor.includes('10.0.7.1'));
    assert.ok(fitted.warnings.some((w) => w.includes('hop lists dropped')));
    assert.equal(fitted.resources.length, 50, 'every resource is still reported');
    assert.notEqual(doc.resources[0]?.hops, null, 'the input document is not modified');
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
        lossPct: r.lossPct,
        latencyFlag: r.latencyFlag,
        lossFlag: r.lossFlag,
        verdict: r.verdict,
        trouble: r.trouble,
        durationMs: r.durationMs,
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

    it('cuts targets to 32 characters when a tighter limit needs it, then to their length alone, and still fits', () => {
      // Room for fields the document may gain: each cut frees 600 characters or more for 50 targets.
      const doc = largeRound({ errors: 3, messageChars: 400, warnings: 60 });
      const limit32 = serializeResult(fitResult(doc)).length - 1_000;

      const at32 = fitResult(doc, limit32);
      const limit20 = serializeResult(at32).length - 1;
      const at20 = fitResult(doc, limit20);

      for (const [fitted, limit, target] of [
        [at32, limit32, (t: string) => `${t.slice(0, 12)}…(504 chars)`],
        [at20, limit20, () => '…(504 chars)'],
      ] as const) {
        assert.ok(serializeResult(fitted).length <= limit, `${serializeResult(fitted).length} > ${limit}`);
        assert.deepEqual(
          fitted.resources.map((r) => r.target),
          doc.resources.map((r) => target(r.target)),
        );
        assert.deepEqual(
          fitted.seed?.['RESOURCE(S)'],
          fitted.resources.map((r) => r.target),
        );
        assert.deepEqual(measured(fitted), measured(doc));
      }
    });
  });
});
