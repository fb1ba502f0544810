/**
 * Resource lists in SSM Parameter Store, named by a host tag or the stage
 * default: read once per round in GetParameters calls of at most 10 names,
 * validated like the Resources tag, and a bad or missing parameter makes only
 * its hosts misconfigured. SSM is mocked at the SDK boundary; dispatch runs
 * with the real Parameter Store reader and SSM transport.
 */
import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import {
  GetParametersCommand,
  type GetParametersCommandInput,
  SendCommandCommand,
  type SendCommandCommandInput,
  SSMClient,
  SSMServiceException,
} from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { RESOURCES_MAX_CHARS } from '../../../common/ssm-parameters.ts';
import { createSqsClient, createSsmClient } from '../../../functions/aws/clients.ts';
import { createParameterStoreReader } from '../../../functions/aws/parameter-store.ts';
import { createSqsJobQueue } from '../../../functions/aws/sqs-queue.ts';
import { createSsmTransport } from '../../../functions/aws/ssm-transport.ts';
import type { CollectJob } from '../../../functions/collect/job.ts';
import { type DispatchOptions, dispatchRound } from '../../../functions/dispatch/dispatch-round.ts';
import { GET_PARAMETERS_MAX_NAMES } from '../../../functions/dispatch/resource-parameters.ts';
import type { EnrolledInstance } from '../../../functions/enrollment/discover-instances.ts';
import { sentResourcesOf } from '../../../functions/logs/sent-resources.ts';
import { DEFAULTS, instanceId, MemoryLogSink, RecordingMetrics } from './fixtures.ts';

const ssmMock = mockClient(SSMClient);
const sqsMock = mockClient(SQSClient);
const TAG = 'CloudConnexaMonitor';
const PARAM_TAG = `${TAG}:ResourcesParameter`;

/** Parameter Store contents: name -> [type, value]. */
let store: Map<string, [string, string]>;
let commandSeq = 0;

function installMocks(): void {
  ssmMock.on(GetParametersCommand).callsFake((input: GetParametersCommandInput) => {
    const names = input.Names ?? [];
    if (names.length < 1 || names.length > GET_PARAMETERS_MAX_NAMES) {
      throw new SSMServiceException({
        name: 'ValidationException',
        $fault: 'client',
        $metadata: {},
        message: `1 validation error detected: Value at 'names' failed to satisfy constraint: Member must have length less than or equal to 10`,
      });
    }
    return {
      Parameters: names.flatMap((name) => {
        const found = store.get(name);
        return found === undefined ? [] : [{ Name: name, Type: found[0] as 'String', Value: found[1] }];
      }),
      InvalidParameters: names.filter((name) => !store.has(name)),
    };
  });
  ssmMock.on(SendCommandCommand).callsFake(() => ({ Command: { CommandId: `cmd-${++commandSeq}` } }));
}

function run(hosts: EnrolledInstance[], extra: Partial<DispatchOptions> = {}) {
  const ssm = createSsmClient({ region: 'eu-west-1' });
  const logs = new MemoryLogSink();
  const metrics = new RecordingMetrics();
  const summary = dispatchRound(
    {
      inventory: { discover: async () => ({ online: hosts, blind: [] }) },
      transport: createSsmTransport(ssm, { documentName: 'CC-Monitor', timeoutSeconds: 120 }),
      queue: createSqsJobQueue(createSqsClient({ region: 'eu-west-1' }), 'https://sqs.example/q'),
      logs,
      metrics,
      now: () => Date.parse('2026-01-01T12:00:00Z'),
      parameters: createParameterStoreReader(ssm),
    },
    {
      stage: 'test',
      roundId: 'r1',
      tagKey: TAG,
      defaults: DEFAULTS,
      resourcesParameterPath: '/cloudconnexa/',
      logDir: '/home/ubuntu/Connexa-Logs',
      allowInstall: false,
      commandTimeoutSeconds: 120,
      executionTimeoutSeconds: 600,
      ...extra,
    },
  );
  return { summary, logs, metrics };
}

const host = (n: number, tags: Record<string, string> = {}): EnrolledInstance => ({
  instanceId: instanceId(n),
  tags: { [TAG]: 'enabled', ...tags },
});
const sent = () =>
  ssmMock.commandCalls(SendCommandCommand).map((c) => c.args[0].input as SendCommandCommandInput);
const resourcesSentTo = (id: string) =>
  sent().find((i) => i.InstanceIds?.includes(id))?.Parameters?.Resources?.[0];
const getCalls = () => ssmMock.commandCalls(GetParametersCommand).map((c) => c.args[0].input.Names ?? []);

/** 40 private addresses: far more than a 256-character tag holds. */
const LONG_LIST = Array.from({ length: 40 }, (_, i) => `10.20.${Math.floor(i / 10)}.${100 + i}`);

describe('resource lists in Parameter Store', () => {
  beforeEach(() => {
    ssmMock.reset();
    sqsMock.reset();
    commandSeq = 0;
    store = new Map();
    sqsMock.on(SendMessageCommand).resolves({ MessageId: 'm' });
    installMocks();
  });

  it('sends a host the 40-resource StringList its tag names, longer than any tag could hold', async () => {
    // Prepare
    assert.ok(LONG_LIST.join(',').length > 256);
    store.set('/cloudconnexa/resources/db-hosts', ['StringList', LONG_LIST.join(',')]);
    // Act
    const { summary } = run([host(1, { [PARAM_TAG]: '/cloudconnexa/resources/db-hosts' }), host(2)]);
    const result = await summary;
    // Assess
    assert.equal(result.dispatched, 2);
    assert.equal(resourcesSentTo(instanceId(1)), LONG_LIST.join(','));
    assert.equal(
      resourcesSentTo(instanceId(2)),
      DEFAULTS.resources,
      'an untagged host keeps the stage default',
    );
    assert.deepEqual(getCalls(), [['/cloudconnexa/resources/db-hosts']]);
    // The collector matches a host's report against the list it was sent, not the parameter's name.
    const jobs = sqsMock
      .commandCalls(SendMessageCommand)
      .map((c) => JSON.parse(c.args[0].input.MessageBody ?? '') as CollectJob);
    const job = jobs.find((j) => j.instanceIds.includes(instanceId(1)));
    assert.deepEqual(sentResourcesOf(job?.settings ?? {}), LONG_LIST);
  });

  it('reads each distinct name once per round, at most 10 names per GetParameters call', async () => {
    // Prepare: 30 hosts sharing 12 lists, plus the stage default list.
    for (let i = 0; i < 12; i++)
      store.set(`/cloudconnexa/site-${i}`, ['String', `10.30.${i}.1,10.30.${i}.2`]);
    store.set('/cloudconnexa/default', ['String', '10.40.0.1']);
    const hosts = Array.from({ length: 30 }, (_, i) =>
      host(i + 1, { [PARAM_TAG]: `/cloudconnexa/site-${i % 12}` }),
    );
    hosts.push(host(31));
    // Act
    const { summary } = run(hosts, { defaultResourcesParameter: '/cloudconnexa/default' });
    const result = await summary;
    // Assess
    assert.equal(result.dispatched, 31);
    const calls = getCalls();
    assert.equal(calls.length, 2, `13 names in ${calls.length} calls`);
    assert.ok(calls.every((names) => names.length <= GET_PARAMETERS_MAX_NAMES));
    assert.equal(new Set(calls.flat()).size, calls.flat().length, 'no name read twice');
    assert.equal(resourcesSentTo(instanceId(13)), '10.30.0.1,10.30.0.2');
    assert.equal(resourcesSentTo(instanceId(31)), '10.40.0.1', 'the stage default list');
  });

  it('accepts one resource per line, blank lines and line-ending commas included', async () => {
    store.set('/cloudconnexa/lines', [
      'String',
      '\n10.0.0.1,\n  db.corp.internal\n\nhttps://wiki.corp.internal/\n',
    ]);
    const { summary } = run([host(1, { [PARAM_TAG]: '/cloudconnexa/lines' })]);
    await summary;
    assert.equal(resourcesSentTo(instanceId(1)), '10.0.0.1,db.corp.internal,https://wiki.corp.internal/');
  });

  const misconfigured: [string, () => void, string, RegExp][] = [
    ['missing', () => undefined, '/cloudconnexa/nope', /existing Parameter Store parameter/],
    [
      'holding an invalid resource',
      () => store.set('/cloudconnexa/bad', ['String', '10.0.0.1,10.0.0.2;reboot']),
      '/cloudconnexa/bad',
      /parameter \/cloudconnexa\/bad\) "10\.0\.0\.2;reboot" is not allowed/,
    ],
    [
      'holding 51 resources',
      () =>
        store.set('/cloudconnexa/many', [
          'StringList',
          Array.from({ length: 51 }, (_, i) => `10.1.0.${i + 1}`).join(','),
        ]),
      '/cloudconnexa/many',
      /at most 50 resources/,
    ],
    [
      'a SecureString',
      () => store.set('/cloudconnexa/secret', ['SecureString', 'AQICAHh...']),
      '/cloudconnexa/secret',
      /a String or StringList parameter \(this one is SecureString/,
    ],
    [
      `longer than the ${RESOURCES_MAX_CHARS} characters the command carries`,
      () =>
        store.set('/cloudconnexa/huge', [
          'String',
          Array.from({ length: 50 }, (_, i) => `https://service-${i}.corp.internal/${'p'.repeat(140)}`).join(
            '\n',
          ),
        ]),
      '/cloudconnexa/huge',
      new RegExp(`at most ${RESOURCES_MAX_CHARS} characters in all`),
    ],
    ['outside the readable path', () => undefined, '/other-team/list', /a parameter under \/cloudconnexa\//],
    ['not a parameter name', () => undefined, 'db hosts', /a Parameter Store parameter name under/],
    [
      'named with a space before it (tags are taken as written, not trimmed)',
      () => store.set('/cloudconnexa/spaced', ['String', '10.0.0.1']),
      ' /cloudconnexa/spaced',
      /^CloudConnexaMonitor:ResourcesParameter " \/cloudconnexa\/spaced" is not allowed: a Parameter Store parameter name under/,
    ],
  ];
  for (const [what, prepare, name, message] of misconfigured) {
    it(`reports a host whose parameter is ${what} as misconfigured, naming it, and sends the others`, async () => {
      // Prepare
      prepare();
      // Act
      const { summary, logs, metrics } = run([host(1, { [PARAM_TAG]: name }), host(2)]);
      const result = await summary;
      // Assess
      assert.equal(result.misconfigured, 1);
      assert.equal(result.dispatched, 1);
      assert.deepEqual(metrics.misconfiguredHosts, [instanceId(1)]);
      assert.ok(sent().every((i) => !i.InstanceIds?.includes(instanceId(1))));
      const record = logs.records(instanceId(1))[0];
      assert.equal(record?.record, 'misconfigured');
      assert.ok(String(record?.field).startsWith(PARAM_TAG), String(record?.field));
      assert.match(String((record?.error as { message: string } | undefined)?.message), message);
      assert.ok(JSON.stringify(record).includes(name), 'the record names the parameter');
    });
  }

  it('holds lists to the room the deployed document leaves beside the agent (RESOURCES_MAX_CHARS)', async () => {
    // Prepare: a document that admits 2,500 characters; one list under it, one over.
    const short = Array.from({ length: 50 }, (_, i) => `app-${i}.corp.internal`).join(',');
    const long = Array.from(
      { length: 50 },
      (_, i) => `application-server-${i}.datacenter-one.corp.internal`,
    ).join(',');
    assert.ok(short.length < 2_500 && long.length > 2_500);
    store.set('/cloudconnexa/short', ['StringList', short]);
    store.set('/cloudconnexa/long', ['StringList', long]);
    // Act
    const { summary, logs } = run(
      [host(1, { [PARAM_TAG]: '/cloudconnexa/short' }), host(2, { [PARAM_TAG]: '/cloudconnexa/long' })],
      { resourcesMaxChars: 2_500 },
    );
    const result = await summary;
    // Assess
    assert.equal(result.dispatched, 1);
    assert.equal(resourcesSentTo(instanceId(1)), short);
    assert.match(String(logs.records(instanceId(2))[0]?.allowed), /a list of at most 2500 characters in all/);
  });

  it('reports every host misconfigured, naming the stage param, when the stage list outgrows the document', async () => {
    const stageList = Array.from({ length: 50 }, (_, i) => `10.100.${i}.${100 + i}`).join(',');
    const { summary, logs } = run([host(1), host(2)], {
      defaults: { ...DEFAULTS, resources: stageList },
      resourcesMaxChars: 600,
    });
    const result = await summary;
    assert.equal(result.misconfigured, 2);
    assert.equal(logs.records(instanceId(1))[0]?.field, 'resources (stage param)');
    assert.equal(sent().length, 0);
  });

  it('does not call Parameter Store for names it can refuse itself', async () => {
    const { summary } = run([host(1, { [PARAM_TAG]: '/other-team/list' })]);
    await summary;
    assert.equal(getCalls().length, 0);
  });

  it('refuses a host tagged with both Resources and ResourcesParameter', async () => {
    store.set('/cloudconnexa/x', ['String', '10.0.0.1']);
    const { summary, logs } = run([
      host(1, { [PARAM_TAG]: '/cloudconnexa/x', [`${TAG}:Resources`]: '10.0.0.2' }),
    ]);
    const result = await summary;
    assert.equal(result.misconfigured, 1);
    assert.match(String(logs.records(instanceId(1))[0]?.allowed), /one of them/);
  });

  it('makes only the hosts that need a broken stage default list misconfigured', async () => {
    // Prepare: the stage list is missing; host 2 has its own Resources tag.
    const { summary, logs } = run([host(1), host(2, { [`${TAG}:Resources`]: '10.9.9.9' })], {
      defaultResourcesParameter: '/cloudconnexa/default',
    });
    // Act
    const result = await summary;
    // Assess
    assert.equal(result.misconfigured, 1);
    assert.equal(logs.records(instanceId(1))[0]?.field, 'resourcesParameter (stage param)');
    assert.equal(logs.records(instanceId(1))[0]?.value, '/cloudconnexa/default');
    assert.equal(resourcesSentTo(instanceId(2)), '10.9.9.9');
  });

  it('records the hosts whose list could not be read (throttled past retries) as dispatch failures', async () => {
    // Prepare
    ssmMock.on(GetParametersCommand).rejects(
      new SSMServiceException({
        name: 'ThrottlingException',
        $fault: 'client',
        $metadata: {},
        message: 'Rate exceeded',
      }),
    );
    // Act
    const { summary, logs, metrics } = run([host(1, { [PARAM_TAG]: '/cloudconnexa/x' }), host(2)]);
    const result = await summary;
    // Assess
    assert.equal(result.failed, 1);
    assert.deepEqual(metrics.failedHosts, [instanceId(1)]);
    const record = logs.records(instanceId(1))[0];
    assert.equal(record?.record, 'dispatch-failed');
    assert.equal(record?.status, 'ResourcesParameterUnreadable');
    assert.equal(record?.errorName, 'ThrottlingException');
    assert.equal(result.dispatched, 1);
  });

  it('reports a parameter-named list as misconfigured where no Parameter Store is plugged in (local run)', async () => {
    // Prepare
    const logs = new MemoryLogSink();
    // Act
    const result = await dispatchRound(
      {
        inventory: {
          discover: async () => ({ online: [host(1, { [PARAM_TAG]: '/cloudconnexa/x' })], blind: [] }),
        },
        transport: createSsmTransport(createSsmClient({ region: 'eu-west-1' }), {
          documentName: 'd',
          timeoutSeconds: 60,
        }),
        queue: { enqueue: async () => {} },
        logs,
        metrics: new RecordingMetrics(),
        now: Date.now,
      },
      {
        stage: 'test',
        roundId: 'r2',
        tagKey: TAG,
        defaults: DEFAULTS,
        logDir: '/var/log/cc',
        allowInstall: false,
        commandTimeoutSeconds: 60,
        executionTimeoutSeconds: 300,
      },
    );
    // Assess
    assert.equal(result.misconfigured, 1);
    assert.match(String(logs.records(instanceId(1))[0]?.allowed), /no Parameter Store here/);
    assert.equal(getCalls().length, 0);
  });
});
