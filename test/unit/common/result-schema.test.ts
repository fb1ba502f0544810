/**
 * The result schema: what it accepts, how an old agent's document reads,
 * every bound it holds a document to, and how it says what is wrong (the
 * message goes into a host's failure record, so it is bounded too).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ISSUE_LIMITS,
  parseResultDocument,
  RESULT_LIMITS,
  type ResultDocument,
  ResultDocumentError,
} from '../../../common/result-schema.ts';
import { MAX_ROUND_MS } from '../../../common/round-budget.ts';
import { resultDocument } from '../functions/fixtures.ts';

// biome-ignore lint/suspicious/noExplicitAny: documents broken on purpose.
type Loose = any;

function changed(change: (doc: Loose) => void, flagged = true): string {
  const doc: Loose = JSON.parse(JSON.stringify(resultDocument({}, flagged)));
  change(doc);
  return JSON.stringify(doc);
}

function rejection(stdout: string): ResultDocumentError {
  try {
    parseResultDocument(stdout);
  } catch (error) {
    assert.ok(error instanceof ResultDocumentError, String(error));
    return error;
  }
  assert.fail('the document was accepted');
}

describe('parseResultDocument', () => {
  it('reads a valid document exactly as printed', () => {
    for (const flagged of [false, true]) {
      const doc = resultDocument({}, flagged);
      assert.deepEqual(parseResultDocument(`${JSON.stringify(doc)}\n`), doc);
    }
  });

  it('takes the last line that starts with {, whatever comes before', () => {
    const doc = resultDocument();
    const stdout = `{"schema":"cloudconnexa-monitor/result@1","hostname":"earlier"}\napt-get: installing mtr\n${JSON.stringify(doc)}\n`;
    assert.equal(parseResultDocument(stdout).hostname, 'connector-1');
  });

  it('drops keys it does not name, at every level', () => {
    const doc = parseResultDocument(
      changed((d) => {
        d.record = 'blind';
        d.LATENCY_FLAG = '1';
        d.instanceId = 'i-0000000000000beef';
        d.summary.extra = 1;
        d.resources[0].note = 'x';
        d.resources[0].hops[0].asn = 'AS1';
        d.resources[0].errors = [{ code: 'E_PROBE', message: 'm', private: 'p' }];
        d.gateway.extra = true;
        d.truncated = { hopsDroppedFor: [], extra: 1 };
      }),
    ) as unknown as Record<string, Loose>;
    for (const key of ['record', 'LATENCY_FLAG', 'instanceId']) assert.equal(key in doc, false, key);
    assert.equal('extra' in doc.summary, false);
    assert.equal('note' in doc.resources[0], false);
    assert.equal('asn' in doc.resources[0].hops[0], false);
    assert.deepEqual(doc.resources[0].errors, [{ code: 'E_PROBE', message: 'm' }]);
    assert.equal('extra' in doc.gateway, false);
    assert.deepEqual(doc.truncated, { hopsDroppedFor: [] });
  });

  it('reads an old agent’s document: missing fields are null, verdict `error` is `unmeasured` with its reason, flags as written', () => {
    // Prepare: a document printed before the flag rule (no latencyBasis, requestMs, unmeasured).
    const stdout = changed((d) => {
      for (const r of d.resources) {
        delete r.latencyBasis;
        delete r.requestMs;
        delete r.unmeasured;
      }
      d.resources.push({
        ...d.resources[0],
        target: 'db.corp.internal',
        address: null,
        method: null,
        latencyMs: null,
        lossPct: 100,
        latencyFlag: false,
        lossFlag: false,
        verdict: 'error',
        trouble: null,
        hops: null,
        errors: [{ code: 'E_RESOLVE', message: 'could not resolve "db.corp.internal": ENOTFOUND' }],
      });
      d.seed['RESOURCE(S)'].push('db.corp.internal');
    });
    // Act
    const doc = parseResultDocument(stdout);
    // Assess
    const [measured, old] = [doc.resources[0], doc.resources[1]];
    assert.deepEqual([measured?.latencyBasis, measured?.requestMs, measured?.unmeasured], [null, null, null]);
    assert.deepEqual(
      [old?.verdict, old?.unmeasured, old?.lossFlag, old?.lossPct],
      [
        'unmeasured',
        { reason: 'dns', detail: 'could not resolve "db.corp.internal": ENOTFOUND' },
        false,
        100,
      ],
    );
  });

  const bounds: [string, (d: Loose) => void, RegExp][] = [
    ['lossPct above 100', (d) => (d.resources[0].lossPct = 100.01), /^resources\[0\]\.lossPct: /],
    ['a negative latency', (d) => (d.resources[0].latencyMs = -0.5), /^resources\[0\]\.latencyMs: /],
    [
      'a latency above the longest round',
      (d) => (d.resources[0].latencyMs = MAX_ROUND_MS + 1),
      /^resources\[0\]\.latencyMs: /,
    ],
    ['a hop ttl of 256', (d) => (d.resources[0].hops[0].ttl = 256), /^resources\[0\]\.hops\[0\]\.ttl: /],
    [
      '256 hops',
      (d) => (d.resources[0].hops = Array.from({ length: 256 }, () => d.resources[0].hops[0])),
      /^resources\[0\]\.hops: Invalid length/,
    ],
    [
      `${RESULT_LIMITS.maxResources + 1} resources`,
      (d) => (d.resources = Array.from({ length: RESULT_LIMITS.maxResources + 1 }, () => d.resources[0])),
      /^resources: Invalid length/,
    ],
    ['a 513-character target', (d) => (d.resources[0].target = 'a'.repeat(513)), /^resources\[0\]\.target: /],
    [
      'a target with a tab',
      (d) => (d.resources[0].target = '10.0.0.1\t'),
      /control characters are not allowed/,
    ],
    ['an empty target', (d) => (d.resources[0].target = ''), /^resources\[0\]\.target: /],
    [
      '21 errors on one resource',
      (d) => (d.resources[0].errors = Array.from({ length: 21 }, () => ({ code: 'E_PROBE', message: '' }))),
      /^resources\[0\]\.errors: Invalid length/,
    ],
    ['an unknown error code', (d) => (d.error = { code: 'E_NOPE', message: '' }), /^error\.code: /],
    [
      `${RESULT_LIMITS.maxWarnings + 1} warnings`,
      (d) => (d.warnings = Array.from({ length: RESULT_LIMITS.maxWarnings + 1 }, () => 'w')),
      /^warnings: /,
    ],
    ['an unknown outcome', (d) => (d.outcome = 'great'), /^outcome: /],
    ['a method outside the list', (d) => (d.resources[0].method = 'udp'), /^resources\[0\]\.method: /],
    ['an MTR id that is not a time', (d) => (d.mtrId = '2026-01-01'), /^mtrId: /],
    ['a start time that is not ISO 8601', (d) => (d.startedAt = 'yesterday'), /^startedAt: /],
    ['an empty agent version', (d) => (d.agentVersion = ''), /^agentVersion: /],
    ['settings.hops 0', (d) => (d.settings = { ...SETTINGS, hops: 0 }), /^settings\.hops: /],
    ['summary.flagged 1.5', (d) => (d.summary.flagged = 1.5), /^summary\.flagged: /],
    ['a seed key more', (d) => (d.seed.EXTRA = '1'), /^seed\.EXTRA: /],
    ['a seed key less', (d) => delete d.seed.GATEWAY_IP, /^seed\.GATEWAY_IP: /],
    [
      'a seed measurement without its decimal',
      (d) => (d.seed['LATENCY_(ms)'] = '120'),
      /^seed\["LATENCY_\(ms\)"\]: /,
    ],
    ['a seed flag "yes"', (d) => (d.seed.LOSS_FLAG = 'yes'), /^seed\.LOSS_FLAG: /],
    [
      'seed flags that disagree with the resources',
      (d) => (d.seed.LOSS_FLAG = '0'),
      /^\(document\): seed LATENCY_FLAG \/ LOSS_FLAG disagree/,
    ],
    [
      'a truncated flag that is not a boolean',
      (d) => (d.truncated = { hopsDroppedFor: [], textShortened: 1 }),
      /^truncated\.textShortened: /,
    ],
  ];
  for (const [what, change, path] of bounds) {
    it(`rejects ${what}, naming where`, () => {
      const error = rejection(changed(change));
      assert.equal(error.code, 'E_RESULT_DOCUMENT');
      assert.match(error.issues[0] ? `${error.issues[0].path}: ${error.issues[0].message}` : '', path);
      assert.match(error.message, /^result document does not match cloudconnexa-monitor\/result@1: /);
    });
  }

  it('accepts every bound at its limit', () => {
    const doc = parseResultDocument(
      changed((d) => {
        d.resources[0].lossPct = 100;
        d.resources[0].latencyMs = MAX_ROUND_MS;
        d.resources[0].hops[0].ttl = 255;
        d.resources[0].target = 'a'.repeat(RESULT_LIMITS.maxTargetChars);
        d.seed['RESOURCE(S)'][0] = d.resources[0].target;
        d.warnings = Array.from({ length: RESULT_LIMITS.maxWarnings }, () => 'w');
        d.settings = { ...SETTINGS, count: 500, hops: 30, intervalSec: 0.1 };
      }),
    );
    assert.equal(doc.resources[0]?.latencyMs, MAX_ROUND_MS);
  });

  it('keeps its message bounded: the first issues, each clipped, and how many more', () => {
    // Prepare: 50 resources, each wrong three ways, one value 20,000 characters long.
    const stdout = changed((d) => {
      d.resources = Array.from({ length: 50 }, () => ({
        ...d.resources[0],
        lossPct: 'x',
        latencyMs: 'y',
        verdict: 'z',
      }));
      d.resources[0].lossPct = 'v'.repeat(20_000);
    });
    // Act
    const error = rejection(stdout);
    // Assess
    assert.equal(error.issues.length, ISSUE_LIMITS.count);
    for (const issue of error.issues) {
      assert.ok(issue.path.length <= ISSUE_LIMITS.pathChars);
      assert.ok(issue.message.length <= ISSUE_LIMITS.messageChars);
    }
    assert.match(error.message, /\(and \d+ more\)$/);
    assert.ok(error.message.length < 2000, `${error.message.length} characters`);
    assert.ok(error.excerpt.length <= 300);
  });

  it('says what is wrong before the schema: no document, not JSON, no schema, another version', () => {
    assert.match(rejection('').message, /stdout is empty/);
    assert.match(rejection('installing...\n').message, /holds no JSON object/);
    assert.match(rejection('{"schema": ').message, /not valid JSON/);
    assert.match(rejection('{"a":1}').message, /has no "schema" of cloudconnexa-monitor\/result/);
    assert.match(
      rejection(changed((d) => (d.schema = 'cloudconnexa-monitor/result@2'))).message,
      /schema "cloudconnexa-monitor\/result@2" is not supported \(expected cloudconnexa-monitor\/result@1\)/,
    );
  });

  it('parses 10,000-deep nesting without overflowing the stack', () => {
    const deep = `${'['.repeat(10_000)}${']'.repeat(10_000)}`;
    const ok = JSON.stringify(resultDocument()).replace('{"schema"', `{"deep":${deep},"schema"`);
    assert.equal('deep' in (parseResultDocument(ok) as unknown as Record<string, unknown>), false);
    assert.match(
      rejection(JSON.stringify(resultDocument()).replace('"warnings":[]', `"warnings":${deep}`)).message,
      /^result document does not match/,
    );
  });

  it('does not let __proto__ or constructor keys reach any prototype', () => {
    const stdout = JSON.stringify(resultDocument())
      .replace('{"schema"', '{"__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":1}},"schema"')
      .replace('"summary":{', '"summary":{"__proto__":{"flagged":99},');
    const doc: ResultDocument = parseResultDocument(stdout);
    assert.equal(Object.getPrototypeOf(doc), Object.prototype);
    assert.equal((Object.prototype as Record<string, unknown>).polluted, undefined);
    assert.equal(doc.summary.flagged, 0);
    assert.equal(Object.hasOwn(doc, '__proto__'), false);
  });
});

const SETTINGS = {
  count: 10,
  intervalSec: 1,
  latencyThresholdMs: 75,
  lossThresholdPct: 5,
  hops: 3,
  lossRule: 'persistent',
  tcpPort: 443,
  concurrency: 51,
};
