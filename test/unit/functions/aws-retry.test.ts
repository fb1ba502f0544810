/**
 * aws-sdk-client-mock replaces `send`, which also skips the SDK's retry
 * middleware; to prove that throttling is ridden out by the SDK retry, this
 * file answers at the HTTP layer instead (a request handler returning SSM's
 * JSON error), so the real retry strategy runs.
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { SSMClient } from '@aws-sdk/client-ssm';
import { ConfiguredRetryStrategy } from '@smithy/core/retry';
import { createSsmTransport } from '../../../functions/aws/ssm-transport.ts';
import { dispatchRound } from '../../../functions/dispatch/dispatch-round.ts';
import { DEFAULTS, instanceId, MemoryLogSink, RecordingMetrics } from './fixtures.ts';

interface FakeResponse {
  status: number;
  body: unknown;
}

function httpSsm(answers: FakeResponse[]) {
  const targets: string[] = [];
  const requestHandler = {
    async handle(request: { headers: Record<string, string> }) {
      targets.push(request.headers['x-amz-target'] ?? '');
      const answer = answers.shift() ?? { status: 500, body: { __type: 'InternalServerError' } };
      return {
        response: {
          statusCode: answer.status,
          reason: '',
          headers: { 'content-type': 'application/x-amz-json-1.1' },
          body: Readable.from([Buffer.from(JSON.stringify(answer.body))]),
        },
      };
    },
    updateHttpClientConfig() {},
    httpHandlerConfigs: () => ({}),
  };
  const client = new SSMClient({
    region: 'eu-west-1',
    credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' },
    requestHandler,
    retryStrategy: new ConfiguredRetryStrategy(8, 1),
  });
  return { client, targets };
}

const throttled: FakeResponse = {
  status: 400,
  body: { __type: 'ThrottlingException', message: 'Rate exceeded' },
};

describe('SSM throttling', () => {
  it('sends a command after two ThrottlingException answers, through the SDK retry', async () => {
    // Prepare
    const { client, targets } = httpSsm([
      throttled,
      throttled,
      { status: 200, body: { Command: { CommandId: 'cmd-9' } } },
    ]);
    const logs = new MemoryLogSink();
    const metrics = new RecordingMetrics();
    // Act
    const summary = await dispatchRound(
      {
        inventory: {
          discover: async () => ({ online: [{ instanceId: instanceId(1), tags: {} }], blind: [] }),
        },
        transport: createSsmTransport(client, { documentName: 'doc', timeoutSeconds: 60 }),
        queue: { enqueue: async () => {} },
        logs,
        metrics,
        now: Date.now,
      },
      {
        stage: 'test',
        roundId: 'r',
        tagKey: 'CloudConnexaMonitor',
        defaults: DEFAULTS,
        logDir: '/var/log/cc',
        allowInstall: false,
        commandTimeoutSeconds: 60,
        executionTimeoutSeconds: 300,
      },
    );
    // Assess
    assert.deepEqual(targets, Array(3).fill('AmazonSSM.SendCommand'));
    assert.equal(summary.dispatched, 1);
    assert.equal(summary.failed, 0);
  });

  it('treats InvocationDoesNotExist from the real SDK error parsing as pending', async () => {
    const { client } = httpSsm([{ status: 400, body: { __type: 'InvocationDoesNotExist', message: 'x' } }]);
    const transport = createSsmTransport(client, { documentName: 'doc', timeoutSeconds: 60 });
    assert.equal(await transport.getInvocation('cmd-1', instanceId(1)), null);
  });
});
