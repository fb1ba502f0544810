/**
 * One enrolled host must not be able to change anything outside its own
 * record. Each hostile document of the catalogue
 * (test/fixtures/hostile-documents/catalogue.ts) is the output of host 1 of a
 * 50-host job, run through the real collector handler
 * (functions/collect/handler.ts) with AWS mocked at the SDK boundary, metrics
 * at `resource` granularity. Against a run of the 49 honest hosts alone:
 * - the job succeeds (no batch item failure, no follow-up job);
 * - every honest host is written exactly once, with exactly the events of the
 *   run without the hostile host, and its per-host and per-resource metric
 *   lines are exactly those of that run;
 * - the shared fleet line holds the honest hosts' values unchanged plus at
 *   most one value per metric from the hostile host (HostsChecked or
 *   HostsFailed), so HostsChecked + HostsFailed is 50 and HostsFlagged counts
 *   the 7 flagged honest hosts;
 * - the hostile host has one record, of the collector's kind and identity;
 *   its metrics name only resources it was sent; every value emitted is
 *   finite and within CloudWatch's range, every dimension value valid; no
 *   event carries a raw control character or forges a line.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  CloudWatchLogsClient,
  CreateLogStreamCommand,
  FilterLogEventsCommand,
  GetLogEventsCommand,
  PutLogEventsCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import { DynamoDBClient, GetItemCommand, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { GetCommandInvocationCommand, ListCommandInvocationsCommand, SSMClient } from '@aws-sdk/client-ssm';
import type { SQSEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { FakeTable } from '../../../bench/fake-dynamodb.ts';
import { SEED_KEYS } from '../../../common/result-contract.ts';
import { CLAIMS_KEY_ATTRIBUTE } from '../../../functions/aws/claims-table.ts';
import { handler } from '../../../functions/collect/handler.ts';
import type { CollectJob } from '../../../functions/collect/job.ts';
import {
  honestDocument,
  hostileDocuments,
  SENT_RESOURCES,
} from '../../fixtures/hostile-documents/catalogue.ts';
import { instanceId } from './fixtures.ts';

const ENV: Record<string, string> = {
  AWS_REGION: 'eu-west-1',
  STAGE: 'test',
  LOG_GROUP_NAME: 'CloudConnexa-Monitor-Logs',
  DOCUMENT_NAME: 'cc-monitor-test-check',
  COLLECT_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/collect',
  METRIC_GRANULARITY: 'resource',
  ALLOW_INSTALL: 'false',
  DEFAULT_RESOURCES: SENT_RESOURCES.join(','),
  DEFAULT_COUNT: '10',
  DEFAULT_INTERVAL_SEC: '1',
  DEFAULT_LATENCY_THRESHOLD_MS: '75',
  DEFAULT_LOSS_THRESHOLD_PCT: '5',
  DEFAULT_HOPS: '3',
  DEFAULT_LOSS_RULE: 'persistent',
  DEFAULT_TCP_PORT: '443',
  DEFAULT_JITTER_THRESHOLD_MS: '0',
  LOG_DIR: '/home/ubuntu/Connexa-Logs',
  COMMAND_TIMEOUT_SECONDS: '600',
  EXECUTION_TIMEOUT_SECONDS: '900',
  // The claim table (stack/claims-table.ts), answered by a fake table below.
  CLAIMS_TABLE_NAME: 'cc-monitor-test-claims',
};

const ssmMock = mockClient(SSMClient);
const sqsMock = mockClient(SQSClient);
const logsMock = mockClient(CloudWatchLogsClient);
const ddbMock = mockClient(DynamoDBClient);

const COMMAND_ID = 'cmd-hostile-test';
const ROUND_ID = '20260101T120000Z-hostile';
const HOSTILE = instanceId(1);
const HONEST = Array.from({ length: 49 }, (_, i) => instanceId(i + 2));
/** Every 7th honest host is flagged: 7 of 49. */
const flaggedHonest = (n: number) => n % 7 === 0;
const HONEST_STDOUT = new Map(
  HONEST.map((id, i) => [
    id,
    `${JSON.stringify(honestDocument(`connector-${i + 2}`, flaggedHonest(i + 2), i + 2))}\n`,
  ]),
);

interface Emf {
  _aws: {
    Timestamp?: number;
    CloudWatchMetrics: { Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }[];
  };
  [key: string]: unknown;
}

interface Run {
  batchItemFailures: unknown[];
  followUps: number;
  /** Messages of each PutLogEvents call, per stream. */
  writes: Map<string, string[][]>;
  emf: Emf[];
}

function collectJob(ids: string[]): CollectJob {
  return {
    v: 1,
    commandId: COMMAND_ID,
    roundId: ROUND_ID,
    instanceIds: ids,
    dispatchedAt: Date.now() - 60_000,
    deadline: Date.now() + 600_000,
    attempt: 1,
    settings: { Resources: SENT_RESOURCES.join(','), Count: '10', IntervalSec: '1' },
  };
}

function sqsEvent(job: CollectJob): SQSEvent {
  return {
    Records: [
      {
        messageId: 'm-1',
        body: JSON.stringify(job),
        receiptHandle: 'h',
        attributes: {
          ApproximateReceiveCount: '1',
          SentTimestamp: '0',
          SenderId: 's',
          ApproximateFirstReceiveTimestamp: '0',
        },
        messageAttributes: {},
        md5OfBody: '',
        eventSource: 'aws:sqs',
        eventSourceARN: 'arn:aws:sqs:eu-west-1:123456789012:collect',
        awsRegion: 'eu-west-1',
      },
    ],
  };
}

/** What the handler prints on stdout (Powertools writes EMF there) while `fn` runs. */
async function captureStdout<T>(fn: () => Promise<T>): Promise<{ result: T; lines: string[] }> {
  const lines: string[] = [];
  const original = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array) => {
    lines.push(
      ...String(chunk)
        .split('\n')
        .filter((l) => l !== ''),
    );
    return true;
  }) as typeof process.stdout.write;
  try {
    return { result: await fn(), lines };
  } finally {
    process.stdout.write = original;
  }
}

async function runJob(ids: string[], stdoutOf: (id: string) => string): Promise<Run> {
  ssmMock.reset();
  sqsMock.reset();
  logsMock.reset();
  ssmMock.on(ListCommandInvocationsCommand).resolves({
    CommandInvocations: ids.map((id) => ({ InstanceId: id, Status: 'Success', StatusDetails: 'Success' })),
  });
  ssmMock.on(GetCommandInvocationCommand).callsFake((input: { InstanceId: string }) => ({
    Status: 'Success',
    StatusDetails: 'Success',
    ResponseCode: 0,
    StandardOutputContent: stdoutOf(input.InstanceId),
    StandardErrorContent: '',
  }));
  logsMock.on(PutLogEventsCommand).resolves({});
  logsMock.on(CreateLogStreamCommand).resolves({});
  // Each run is a new job: a fresh claim table.
  ddbMock.reset();
  const claims = new FakeTable(CLAIMS_KEY_ATTRIBUTE);
  ddbMock.on(PutItemCommand).callsFake((input) => claims.put(input));
  ddbMock.on(UpdateItemCommand).callsFake((input) => claims.update(input));
  ddbMock.on(GetItemCommand).callsFake((input) => claims.get(input));
  // Streams hold nothing of this command yet, should the collector look before writing.
  logsMock.on(GetLogEventsCommand).resolves({ events: [], nextForwardToken: 'f/end' });
  logsMock.on(FilterLogEventsCommand).resolves({ events: [] });
  sqsMock.on(SendMessageCommand).resolves({ MessageId: 'follow-up' });

  const { result, lines } = await captureStdout(() =>
    handler(sqsEvent(collectJob(ids)), { getRemainingTimeInMillis: () => 600_000 }),
  );
  const writes = new Map<string, string[][]>();
  for (const call of logsMock.commandCalls(PutLogEventsCommand)) {
    const input = call.args[0].input;
    const stream = input.logStreamName ?? '';
    writes.set(stream, [...(writes.get(stream) ?? []), (input.logEvents ?? []).map((e) => e.message ?? '')]);
  }
  const emf = lines
    .filter((line) => line.startsWith('{') && line.includes('"_aws"'))
    .map((line) => JSON.parse(line) as Emf);
  return {
    batchItemFailures: result.batchItemFailures,
    followUps: sqsMock.commandCalls(SendMessageCommand).length,
    writes,
    emf,
  };
}

const dimensionsOf = (line: Emf) => line._aws.CloudWatchMetrics[0]?.Dimensions[0] ?? [];
const isFleetLine = (line: Emf) => dimensionsOf(line).length === 1;

/** A per-host or per-resource line without its timestamp, as comparable text. */
function normalised(line: Emf): string {
  const { _aws, ...rest } = line;
  return JSON.stringify({ directive: _aws.CloudWatchMetrics, ...rest });
}

/** Every value of every fleet metric, over all fleet lines. */
function fleetValues(emf: Emf[]): Map<string, number[]> {
  const values = new Map<string, number[]>();
  for (const line of emf.filter(isFleetLine)) {
    for (const metric of line._aws.CloudWatchMetrics[0]?.Metrics ?? []) {
      const value = line[metric.Name];
      const list = Array.isArray(value) ? value : [value];
      values.set(metric.Name, [...(values.get(metric.Name) ?? []), ...(list as number[])]);
    }
  }
  return values;
}

/** `all` minus `part`, as multisets; fails when `part` is not contained in `all`. */
function without(all: number[], part: number[], what: string): number[] {
  const rest = [...all];
  for (const value of part) {
    const index = rest.indexOf(value);
    assert.ok(index >= 0, `${what}: the honest value ${value} is missing`);
    rest.splice(index, 1);
  }
  return rest;
}

const sum = (values: number[] | undefined) => (values ?? []).reduce((a, b) => a + b, 0);

/** CloudWatch's MetricDatum Value: finite, 0 or a magnitude within 8.515920e-109..1.174271e+108. */
function assertCloudWatchValue(value: unknown, what: string): void {
  assert.equal(typeof value, 'number', `${what} is a number`);
  const n = value as number;
  assert.ok(Number.isFinite(n), `${what} is finite`);
  const magnitude = Math.abs(n);
  assert.ok(n === 0 || (magnitude >= 8.51592e-109 && magnitude <= 1.174271e108), `${what} ${n} in range`);
}

/** CloudWatch's Dimension Value: 1..1024 ASCII characters, no control characters, not all whitespace. */
function assertDimensionValue(value: unknown, what: string): void {
  assert.equal(typeof value, 'string', what);
  assert.match(value as string, /^[\x20-\x7e]{1,1024}$/, what);
  assert.notEqual((value as string).trim(), '', what);
}

function assertEmfValid(emf: Emf[]): void {
  for (const line of emf) {
    const directive = line._aws.CloudWatchMetrics[0];
    assert.ok(directive !== undefined);
    for (const name of directive.Dimensions[0] ?? []) assertDimensionValue(line[name], `dimension ${name}`);
    for (const metric of directive.Metrics) {
      const value = line[metric.Name];
      const values = Array.isArray(value) ? value : [value];
      assert.ok(values.length <= 100, `${metric.Name}: at most 100 values per line`);
      for (const v of values) {
        assertCloudWatchValue(v, metric.Name);
        if (metric.Unit === 'Percent')
          assert.ok((v as number) >= 0 && (v as number) <= 100, `${metric.Name} ${v}`);
      }
    }
  }
}

/**
 * The first character that must never reach an event raw, by code: C0 but
 * LF (which only ends a line of MTR text), DEL, C1, U+2028/U+2029, the
 * bidirectional controls and unpaired surrogates (no UTF-8 form). Null when
 * there is none.
 */
function rawControlCharacter(text: string): string | null {
  for (const char of text) {
    const c = char.codePointAt(0) ?? 0;
    const bidi = c === 0x200e || c === 0x200f || (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069);
    const loneSurrogate = c >= 0xd800 && c <= 0xdfff;
    if (
      (c < 0x20 && c !== 0x0a) ||
      (c >= 0x7f && c <= 0x9f) ||
      c === 0x2028 ||
      c === 0x2029 ||
      bidi ||
      loneSurrogate
    ) {
      return `U+${c.toString(16).padStart(4, '0')}`;
    }
  }
  return null;
}
const MTR_TEXT_LINE =
  /^((RESOURCE|GATEWAY) MTR: (0|\d{14})( \S.*)? \(Hop, Avg, Loss%\)| {0,2}\d{1,3}\.\|-- .*)$/;

describe('hostile documents from one host of a 50-host job, through the collector handler', () => {
  const saved: Record<string, string | undefined> = {};
  let baseline: Run;
  before(async () => {
    for (const [name, value] of Object.entries(ENV)) {
      saved[name] = process.env[name];
      process.env[name] = value;
    }
    baseline = await runJob(HONEST, (id) => HONEST_STDOUT.get(id) ?? '');
  });
  after(() => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  it('the baseline: 49 honest hosts written once each, 7 of them flagged', () => {
    assert.deepEqual(baseline.batchItemFailures, []);
    assert.equal(baseline.followUps, 0);
    assert.deepEqual([...baseline.writes.keys()].sort(), [...HONEST].sort());
    for (const id of HONEST) assert.equal(baseline.writes.get(id)?.length, 1);
    const fleet = fleetValues(baseline.emf);
    assert.equal(sum(fleet.get('HostsChecked')), 49);
    assert.equal(sum(fleet.get('HostsFlagged')), 7);
    assert.equal(fleet.get('HostsFailed'), undefined);
    assert.equal(baseline.emf.filter((l) => dimensionsOf(l).includes('Resource')).length, 49 * 3);
    assertEmfValid(baseline.emf);
  });

  const catalogue = hostileDocuments();

  it('the catalogue holds at least 30 distinct documents, each changed from a valid one', () => {
    assert.ok(catalogue.length >= 30, `${catalogue.length} documents`);
    assert.equal(new Set(catalogue.map((c) => c.name)).size, catalogue.length);
    const valid = [false, true].map((f) => JSON.stringify(honestDocument('hostile-host', f, 3)));
    for (const entry of catalogue) assert.ok(!valid.includes(entry.stdout.trim()), entry.name);
  });

  for (const entry of catalogue) {
    it(`${entry.name} (${entry.expect}): ${entry.attacks}`, async () => {
      // Act
      const run = await runJob([HOSTILE, ...HONEST], (id) =>
        id === HOSTILE ? entry.stdout : (HONEST_STDOUT.get(id) ?? ''),
      );

      // Assess: the job.
      assert.deepEqual(run.batchItemFailures, [], 'the job does not fail');
      assert.equal(run.followUps, 0, 'every host written: nothing left for a follow-up job');

      // The honest hosts: written once, exactly as without the hostile host.
      for (const id of HONEST) {
        assert.equal(run.writes.get(id)?.length, 1, `${id} written once`);
        assert.deepEqual(run.writes.get(id), baseline.writes.get(id), `${id}: the same events`);
      }
      const honestLines = (emf: Emf[]) =>
        emf
          .filter((l) => !isFleetLine(l) && l.InstanceId !== HOSTILE)
          .map(normalised)
          .sort();
      assert.deepEqual(
        honestLines(run.emf),
        honestLines(baseline.emf),
        'honest per-host and per-resource lines',
      );

      // The shared fleet line: the honest values, plus one host-round of the hostile host.
      const fleet = fleetValues(run.emf);
      const before = fleetValues(baseline.emf);
      const extra = new Map<string, number[]>();
      for (const name of new Set([...fleet.keys(), ...before.keys()])) {
        const rest = without(fleet.get(name) ?? [], before.get(name) ?? [], name);
        assert.ok(rest.length <= 1, `${name}: at most one value from the hostile host`);
        if (rest.length > 0) extra.set(name, rest);
      }
      if (entry.expect === 'failure') {
        assert.deepEqual(Object.fromEntries(extra), { HostsFailed: [1] });
      } else {
        assert.deepEqual(extra.get('HostsChecked'), [1]);
        assert.equal(extra.has('HostsFailed'), false);
      }
      assert.equal(sum(fleet.get('HostsChecked')) + sum(fleet.get('HostsFailed')), 50);
      assert.equal(sum(fleet.get('HostsFlagged')) - sum(extra.get('HostsFlagged')), 7);
      assertEmfValid(run.emf);

      // The hostile host: one write, one record of the collector's kind and identity.
      const writes = run.writes.get(HOSTILE) ?? [];
      assert.equal(writes.length, 1, 'the hostile host is written once');
      const messages = writes[0] ?? [];
      const parsed = messages.map((m) =>
        m.startsWith('{') ? (JSON.parse(m) as Record<string, unknown>) : null,
      );
      const records = parsed.filter(
        (p): p is Record<string, unknown> => p !== null && 'record' in p && p.record !== 'path-change',
      );
      assert.equal(records.length, 1, 'one record');
      // Path-change records: the collector's identity, only for resources the host was sent, and
      // as many as the PathChanges value of its host-round.
      const changes = parsed.filter((p) => p !== null && p.record === 'path-change');
      if (entry.expect === 'checked') assert.deepEqual(extra.get('PathChanges'), [changes.length]);
      for (const change of changes) {
        assert.deepEqual(
          [change?.instanceId, change?.commandId, change?.roundId],
          [HOSTILE, COMMAND_ID, ROUND_ID],
        );
        assert.ok(
          (SENT_RESOURCES as readonly unknown[]).includes(change?.target),
          `${String(change?.target)} was sent`,
        );
      }
      const record = records[0] as Record<string, unknown>;
      assert.equal(record.record, entry.expect === 'failure' ? 'failure' : 'result');
      assert.deepEqual(
        [record.recordId, record.instanceId, record.commandId, record.roundId, record.status],
        [`${COMMAND_ID}/${HOSTILE}`, HOSTILE, COMMAND_ID, ROUND_ID, 'Success'],
      );
      if (entry.expect === 'failure') {
        const error = record.error as { code: string; message: string };
        assert.equal(error.code, 'E_RESULT_DOCUMENT');
        assert.ok(error.message.length <= 1600, `a bounded message (${error.message.length})`);
        assert.ok(((record.issues as unknown[] | undefined) ?? []).length <= 5);
      }
      // The old metric filter matches the seed line only, once.
      const withLegacyFlag = parsed.filter((p) => p !== null && ('LATENCY_FLAG' in p || 'LOSS_FLAG' in p));
      assert.ok(withLegacyFlag.length <= 1, 'at most one line for the old metric filter');
      const legacy = withLegacyFlag[0];
      if (legacy !== undefined && legacy !== null) assert.deepEqual(Object.keys(legacy), [...SEED_KEYS]);
      // Text is escaped: no raw control character, no forged line.
      for (const message of messages) {
        assert.equal(rawControlCharacter(message), null, 'no raw control character');
        if (!message.startsWith('{')) {
          for (const line of message.replace(/\n$/, '').split('\n')) {
            if (line !== '') assert.match(line, MTR_TEXT_LINE, 'an MTR text line in the old layout');
          }
        }
      }
      // Metrics of the hostile host only for what it was sent.
      const hostileLines = run.emf.filter((l) => l.InstanceId === HOSTILE);
      if (entry.expect === 'failure') assert.deepEqual(hostileLines, []);
      for (const line of hostileLines.filter((l) => 'Resource' in l)) {
        assert.ok(
          (SENT_RESOURCES as readonly unknown[]).includes(line.Resource),
          `${String(line.Resource)} was sent`,
        );
      }
      assert.ok(hostileLines.length <= 1 + SENT_RESOURCES.length);
      // Nothing leaked into shared objects.
      assert.equal((Object.prototype as Record<string, unknown>).polluted, undefined);
      assert.equal(({} as Record<string, unknown>).record, undefined);
      SPECIFIC[entry.name]?.({ record, messages, hostileLines });
    });
  }
});

interface HostileRun {
  record: Record<string, unknown>;
  messages: string[];
  hostileLines: Emf[];
}

/** What particular documents must lead to, beyond what every one must. */
const SPECIFIC: Record<string, (run: HostileRun) => void> = {
  'hop names with ESC, CR and LF': ({ messages }) => {
    // Escaped, then cut at column 33 like every name in mtr's report layout.
    const text = messages.filter((m) => !m.startsWith('{')).join('');
    assert.match(text, /^ {2}2\.\|-- 10\.0\.0\.3\\x1b\[2J\\x0d\\x0aRE +153\.0 +0\.0%$/m);
    assert.match(text, /^ {2}1\.\|-- \\x1b\]0;owned\\x07100\.96\.0\. +1\.2 +0\.0%$/m);
    assert.doesNotMatch(text, /forged/);
    const record = messages.find((m) => m.startsWith('{"record"')) ?? '';
    assert.ok(
      record.includes('"host":"10.0.0.3\\u001b[2J\\r\\nRESOURCE MTR: 0 forged"'),
      'kept whole, JSON-escaped',
    );
  },
  'a hop name with a right-to-left override': ({ messages }) => {
    // In the MTR text and in the JSON record alike, the override is written as an escape.
    assert.ok(messages.some((m) => !m.startsWith('{') && m.includes('\\u202e1.0.69.001')));
    assert.ok(messages.some((m) => m.startsWith('{"record"') && m.includes('\\u202e1.0.69.001')));
  },
  'a resource that was not sent': ({ record, hostileLines }) => {
    assert.deepEqual(record.resourcesNotSent, ['evil.example']);
    assert.deepEqual(record.resourcesMissing, ['10.0.0.1']);
    assert.deepEqual(
      hostileLines
        .map((l) => l.Resource)
        .filter(Boolean)
        .sort(),
      ['10.0.0.2', 'db.corp.internal'],
    );
  },
  '50 resources, none of them sent': ({ record, hostileLines }) => {
    assert.equal((record.resourcesNotSent as unknown[]).length, 50);
    assert.deepEqual(record.resourcesMissing, [...SENT_RESOURCES]);
    assert.deepEqual(
      hostileLines.filter((l) => 'Resource' in l),
      [],
    );
  },
  'one sent resource reported three times': ({ record, hostileLines }) => {
    assert.deepEqual(record.resourcesDuplicated, ['10.0.0.1', '10.0.0.1']);
    const lines = hostileLines.filter((l) => l.Resource === '10.0.0.1');
    assert.equal(lines.length, 1);
    assert.deepEqual([lines[0]?.ResourceLatencyMs, lines[0]?.ResourceLossPct], [23, 0], 'the first report');
  },
  'latencyMs 1e-200': ({ hostileLines }) => {
    const line = hostileLines.find((l) => l.Resource === '10.0.0.1');
    assert.equal(line?.ResourceLatencyMs, 0);
  },
  'top-level LATENCY_FLAG "1" and LOSS_FLAG "1"': ({ record, messages }) => {
    assert.equal('LATENCY_FLAG' in record, false);
    const seed = JSON.parse(messages[0] ?? '{}') as Record<string, unknown>;
    assert.deepEqual([seed.LATENCY_FLAG, seed.LOSS_FLAG], ['0', '0']);
  },
  'hop names with an unpaired surrogate and an emoji at the column cut': ({ messages }) => {
    const text = messages.filter((m) => !m.startsWith('{')).join('');
    assert.match(text, /^ {2}1\.\|-- 100\.96\.0\.1\\ud800 +1\.2 +0\.0%$/m);
    assert.match(text, /^ {2}2\.\|-- a{24} {2}153\.0 +0\.0%$/m, 'the cut emoji is a space');
  },
  '__proto__ keys at the top and in a resource': ({ messages }) => {
    assert.ok(messages.every((m) => !m.includes('polluted') && !m.includes('__proto__')));
  },
  'constructor.prototype keys': ({ messages }) => {
    assert.ok(messages.every((m) => !m.includes('polluted')));
  },
  'a 20,000-character warning': ({ record }) => {
    assert.equal((record.warnings as string[])[0]?.length, 20_000);
  },
  'an earlier fake document line, then the real one': ({ record }) => {
    assert.equal(record.hostname, 'hostile-host');
    assert.equal((record.summary as { resources: number }).resources, 3);
  },
  'schema version @2': ({ record }) => {
    assert.match((record.error as { message: string }).message, /result@2" is not supported/);
  },
  'collector keys inside tunnel and a forged top-level cause': ({ record, messages }) => {
    assert.equal('cause' in record, false, 'an up tunnel explains nothing: no cause');
    assert.deepEqual(Object.keys(record.tunnel as object).sort(), [
      'bytesIn',
      'bytesOut',
      'detail',
      'explains',
      'reconnects',
      'since',
      'source',
      'state',
    ]);
    assert.ok(messages.every((m) => !m.includes('forged') && !m.includes('i-00000000000000099')));
  },
  'summary.worstLatencyMs is the string "abc"': ({ record }) => {
    const error = record.error as { message: string };
    assert.match(error.message, /summary\.worstLatencyMs: Invalid type: Expected/);
    assert.deepEqual(
      (record.issues as { path: string }[]).map((i) => i.path),
      ['summary.worstLatencyMs'],
    );
  },
};
