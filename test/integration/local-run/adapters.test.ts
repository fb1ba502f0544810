/**
 * The local adapters on their own: the transport running the SSM document's
 * script for real (with stand-in agent bundles), the file log sink, the
 * in-memory queue and the EMF file metrics.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { InvalidInputError } from '../../../common/errors.ts';
import { RESULT_SCHEMA } from '../../../common/result-schema.ts';
import type { CollectJob } from '../../../functions/collect/job.ts';
import type { SsmParameters } from '../../../functions/dispatch/host-settings.ts';
import { createFileLogSink } from '../../../functions/local/file-log-sink.ts';
import { createFileEmfMetrics } from '../../../functions/local/file-metrics.ts';
import { createLocalJobQueue } from '../../../functions/local/local-queue.ts';
import {
  createLocalTransport,
  SSM_STDERR_MAX_CHARS,
  SSM_STDOUT_MAX_CHARS,
} from '../../../functions/local/local-transport.ts';
import type { InvocationOutputs } from '../../../functions/ports.ts';
import { halfwayMs } from '../../helpers/deadline.ts';

const INSTANCE = 'i-0123456789abcdef0';

/**
 * A stand-in agent: waits for a release file, records its pid and argv, then
 * prints a result document with `PAD` characters of padding and `ERR` of stderr.
 */
const STAND_IN = `'use strict';
const fs = require('fs');
const out = process.env.STANDIN_DIR;
fs.writeFileSync(out + '/pid', String(process.pid));
fs.writeFileSync(out + '/argv.json', JSON.stringify(process.argv.slice(2)));
fs.writeFileSync(out + '/env.json', JSON.stringify(process.env));
if (process.env.STANDIN_HOLDER) {
  // A leftover that leaves the process group (setsid) and keeps the run's
  // stderr open (the script captures only the agent's stdout).
  const holder = require('child_process').spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], {
    detached: true,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  holder.unref();
  fs.writeFileSync(out + '/holder', String(holder.pid));
  fs.writeFileSync(out + '/release', '');
}
const pad = Number(process.env.STANDIN_PAD || '0');
process.stderr.write('e'.repeat(Number(process.env.STANDIN_ERR || '0')));
const finish = () => {
  const doc = { schema: '${RESULT_SCHEMA}', agentVersion: 'stand-in', hostname: 'h', outcome: 'completed', error: null,
    mtrId: '0', startedAt: '2026-01-01T00:00:00.000Z', finishedAt: '2026-01-01T00:00:01.000Z', timings: { totalMs: 1, probesMs: 1, gatewayDiscoveryMs: 0 }, settings: null,
    summary: { resources: 0, flagged: 0, latencyFlag: false, lossFlag: false, worstLatencyMs: null, worstLossPct: null },
    resources: [], gateway: null, seed: null, files: [], warnings: ['x'.repeat(pad)], truncated: null };
  process.stdout.write(JSON.stringify(doc) + '\\n');
};
const wait = () => (fs.existsSync(out + '/release') ? finish() : setTimeout(wait, 20));
wait();
`;

function parameters(overrides: Partial<Record<keyof SsmParameters, string>> = {}): SsmParameters {
  const values = {
    Resources: '127.0.0.1',
    Count: '2',
    IntervalSec: '0.2',
    LatencyThresholdMs: '75',
    LossThresholdPct: '5',
    Hops: '3',
    LossRule: 'persistent',
    TcpPort: '443',
    LogDir: '/tmp/ccm-unused',
    AllowInstall: 'false',
    ...overrides,
  };
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [k, [v]])) as SsmParameters;
}

/**
 * Polls `probe` until it gives a value. No time limit of its own: what it waits for either comes
 * or is the fault the test guards against (a process never killed, a run never ended), and the
 * runner's hang guard (scripts/run-tests.mjs) ends that test.
 */
async function until<T>(probe: () => Promise<T | null>): Promise<T> {
  for (;;) {
    const value = await probe();
    if (value !== null) return value;
    await new Promise((r) => setTimeout(r, 25));
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('local transport runs the SSM document script', () => {
  let scratch: string;
  let agentPath: string;
  before(() => {
    scratch = mkdtempSync(join(tmpdir(), 'ccm-local-transport-'));
    agentPath = join(scratch, 'stand-in-agent.js');
    writeFileSync(agentPath, STAND_IN);
  });
  after(() => rmSync(scratch, { recursive: true, force: true }));

  it('an invocation is InProgress until the script ends, then Success with SSM-capped stdout and stderr', async () => {
    const standIn = mkdtempSync(join(scratch, 'run-'));
    const transport = createLocalTransport({
      agentPath,
      workDir: join(standIn, 'ssm'),
      executionTimeoutSeconds: 60,
      env: { STANDIN_DIR: standIn, STANDIN_PAD: '30000', STANDIN_ERR: '9000' },
    });
    try {
      const { commandId } = await transport.send({
        instanceIds: [INSTANCE],
        parameters: parameters({ Resources: '127.0.0.1,::1' }),
        comment: 'test',
      });
      await until(async () => {
        const pid = readFileOr(join(standIn, 'pid'));
        return pid !== '' && alive(Number(pid)) ? true : null;
      });
      assert.deepEqual(await transport.listInvocations(commandId), [
        { instanceId: INSTANCE, status: 'InProgress', statusDetails: 'InProgress' },
      ]);
      assert.equal((await transport.getInvocation(commandId, INSTANCE))?.status, 'InProgress');

      writeFileSync(join(standIn, 'release'), '');
      const done = await until(async () => {
        const outputs = await transport.getInvocation(commandId, INSTANCE);
        return outputs !== null && outputs.status !== 'InProgress' ? outputs : null;
      });

      assert.equal(done.status, 'Success');
      assert.equal(done.statusDetails, 'Success');
      assert.equal(done.responseCode, 0);
      assert.equal(done.stdout.length, SSM_STDOUT_MAX_CHARS);
      assert.ok(done.stdout.startsWith(`{"schema":"${RESULT_SCHEMA}"`));
      assert.ok(done.stderr.length <= SSM_STDERR_MAX_CHARS && done.stderr.length > 7000);
      const argv = JSON.parse(readFileSync(join(standIn, 'argv.json'), 'utf8')) as string[];
      assert.deepEqual(argv.slice(argv.indexOf('--resources'), argv.indexOf('--resources') + 2), [
        '--resources',
        '127.0.0.1,::1',
      ]);
      assert.equal(argv[argv.indexOf('--count') + 1], '2');
    } finally {
      transport.close();
    }
  });

  it('a run past the execution timeout is killed with its agent and reported TimedOut', async () => {
    const standIn = mkdtempSync(join(scratch, 'timeout-'));
    const transport = createLocalTransport({
      agentPath,
      workDir: join(standIn, 'ssm'),
      executionTimeoutSeconds: 1,
      env: { STANDIN_DIR: standIn },
    });
    try {
      const { commandId } = await transport.send({
        instanceIds: [INSTANCE],
        parameters: parameters(),
        comment: 'test',
      });
      const done: InvocationOutputs = await until(async () => {
        const outputs = await transport.getInvocation(commandId, INSTANCE);
        return outputs !== null && !['Pending', 'InProgress'].includes(outputs.status) ? outputs : null;
      });
      assert.equal(done.status, 'TimedOut');
      assert.equal(done.statusDetails, 'ExecutionTimedOut');
      const pid = Number(readFileSync(join(standIn, 'pid'), 'utf8'));
      await until(async () => (alive(pid) ? null : true));
    } finally {
      transport.close();
    }
  });

  it('the script gets only the variables the transport names, never the rest of this process environment', async () => {
    const standIn = mkdtempSync(join(scratch, 'env-'));
    const transport = createLocalTransport({
      agentPath,
      workDir: join(standIn, 'ssm'),
      executionTimeoutSeconds: 60,
      env: { STANDIN_DIR: standIn },
    });
    const saved = {
      MTR_OPTIONS: process.env.MTR_OPTIONS,
      CCM_TEST_HOST_ONLY: process.env.CCM_TEST_HOST_ONLY,
    };
    process.env.MTR_OPTIONS = '-o LS';
    process.env.CCM_TEST_HOST_ONLY = 'must not leak';
    try {
      writeFileSync(join(standIn, 'release'), '');
      const { commandId } = await transport.send({
        instanceIds: [INSTANCE],
        parameters: parameters(),
        comment: 'test',
      });
      const done = await until(async () => {
        const outputs = await transport.getInvocation(commandId, INSTANCE);
        return outputs !== null && !['Pending', 'InProgress'].includes(outputs.status) ? outputs : null;
      });
      assert.equal(done.status, 'Success', done.stderr);
      const env = JSON.parse(readFileSync(join(standIn, 'env.json'), 'utf8')) as Record<string, string>;
      assert.equal(env.MTR_OPTIONS, undefined);
      assert.equal(env.CCM_TEST_HOST_ONLY, undefined);
      assert.equal(env.SSM_Resources, '127.0.0.1');
      assert.equal(env.AWS_SSM_INSTANCE_ID, INSTANCE);
      assert.equal(env.STANDIN_DIR, standIn);
      assert.equal(env.LC_ALL, 'C');
    } finally {
      for (const [key, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
      transport.close();
    }
  });

  it('close() stops a run in progress with SIGTERM and reports it Cancelled', async () => {
    const standIn = mkdtempSync(join(scratch, 'cancel-'));
    const transport = createLocalTransport({
      agentPath,
      workDir: join(standIn, 'ssm'),
      executionTimeoutSeconds: 60,
      env: { STANDIN_DIR: standIn },
    });
    const { commandId } = await transport.send({
      instanceIds: [INSTANCE],
      parameters: parameters(),
      comment: 'test',
    });
    const pid = await until(async () => {
      const text = readFileOr(join(standIn, 'pid'));
      return text !== '' && alive(Number(text)) ? Number(text) : null;
    });
    transport.close();
    await transport.idle();
    const done = await transport.getInvocation(commandId, INSTANCE);
    assert.equal(done?.status, 'Cancelled');
    assert.equal(done?.responseCode, null);
    await until(async () => (alive(pid) ? null : true));
  });

  it('a leftover that leaves the process group and holds the output open does not keep the invocation running', async () => {
    const standIn = mkdtempSync(join(scratch, 'holder-'));
    const executionTimeoutSeconds = 60;
    const transport = createLocalTransport({
      agentPath,
      workDir: join(standIn, 'ssm'),
      executionTimeoutSeconds,
      env: { STANDIN_DIR: standIn, STANDIN_HOLDER: '1' },
    });
    const started = Date.now();
    try {
      const { commandId } = await transport.send({
        instanceIds: [INSTANCE],
        parameters: parameters(),
        comment: 'test',
      });
      await transport.idle();
      const elapsedMs = Date.now() - started;
      const done = await transport.getInvocation(commandId, INSTANCE);
      assert.equal(done?.status, 'Success', done?.stderr);
      assert.ok(done?.stdout.startsWith(`{"schema":"${RESULT_SCHEMA}"`));
      // Waiting on the leftover, the invocation would end only at its execution timeout.
      assert.ok(
        elapsedMs < halfwayMs(0, executionTimeoutSeconds * 1000),
        `the invocation ended after ${elapsedMs} ms, nearer its ${executionTimeoutSeconds} s execution timeout: waiting on the leftover`,
      );
    } finally {
      transport.close();
      const holder = Number(readFileOr(join(standIn, 'holder')));
      if (holder > 0 && alive(holder)) process.kill(holder, 'SIGKILL');
    }
  });

  it('a parameter outside the document allowedPattern is refused and nothing runs', async () => {
    const standIn = mkdtempSync(join(scratch, 'refused-'));
    const transport = createLocalTransport({
      agentPath,
      workDir: join(standIn, 'ssm'),
      executionTimeoutSeconds: 60,
      env: { STANDIN_DIR: standIn },
    });
    try {
      await assert.rejects(
        transport.send({
          instanceIds: [INSTANCE],
          parameters: parameters({ Resources: '127.0.0.1;touch /tmp/x' }),
          comment: 'test',
        }),
        (error: unknown) => error instanceof InvalidInputError && /Resources/.test(error.message),
      );
      await transport.idle();
      assert.equal(readFileOr(join(standIn, 'pid')), '', 'the agent never started');
      assert.equal(await transport.getInvocation('no-such-command', INSTANCE), null);
    } finally {
      transport.close();
    }
  });
});

function readFileOr(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

describe('file log sink', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'ccm-file-sink-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('writes JSON lines per stream and finds a marker only at or after the given time', async () => {
    const sink = createFileLogSink(join(dir, 'group'));
    await sink.write(INSTANCE, [
      { timestamp: 2000, message: 'second "recordId":"c1/i"' },
      { timestamp: 1000, message: 'first' },
    ]);

    assert.deepEqual(
      readFileSync(sink.streamPath(INSTANCE), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l)),
      [
        { timestamp: 1000, message: 'first' },
        { timestamp: 2000, message: 'second "recordId":"c1/i"' },
      ],
    );
    assert.equal(await sink.findRecord(INSTANCE, 1500, '"recordId":"c1/i"'), 'second "recordId":"c1/i"');
    assert.equal(await sink.findRecord(INSTANCE, 2001, '"recordId":"c1/i"'), null);
    assert.equal(await sink.findRecord('i-00000000000000000', 0, 'first'), null);
  });

  it('refuses a stream name that would leave the log group directory', async () => {
    const sink = createFileLogSink(join(dir, 'group2'));
    await assert.rejects(sink.write('../escape', [{ timestamp: 1, message: 'x' }]), InvalidInputError);
  });
});

describe('local job queue', () => {
  const job: CollectJob = {
    v: 1,
    commandId: 'c-1',
    roundId: 'r-1',
    instanceIds: [INSTANCE],
    dispatchedAt: 1,
    deadline: 2,
    attempt: 1,
    settings: {},
  };

  it('delivers a failing job again as redelivered, then dead-letters it after maxReceiveCount', async () => {
    const queue = createLocalJobQueue({ pollSeconds: 0.01, maxReceiveCount: 3 });
    await queue.enqueue(job, 900);
    const deliveries: boolean[] = [];

    const report = await queue.drain(async (_job, delivery) => {
      deliveries.push(delivery.redelivered);
      throw new Error('collector crashed');
    });

    assert.deepEqual(deliveries, [false, true, true]);
    assert.equal(report.deadLetters.length, 1);
    assert.equal(report.deadLetters[0]?.receiveCount, 3);
    assert.match(report.deadLetters[0]?.error ?? '', /collector crashed/);
    assert.equal(queue.size(), 0);
  });

  it('delivers follow-ups enqueued by the handler until the queue is empty, shortening their delay', async () => {
    const queue = createLocalJobQueue({ pollSeconds: 0.05 });
    await queue.enqueue(job, 900);
    const attempts: number[] = [];
    const started = Date.now();

    await queue.drain(async (delivered) => {
      attempts.push(delivered.attempt);
      if (delivered.attempt < 3) await queue.enqueue({ ...delivered, attempt: delivered.attempt + 1 }, 120);
    });

    assert.deepEqual(attempts, [1, 2, 3]);
    const tookMs = Date.now() - started;
    assert.ok(
      tookMs < halfwayMs(0, 120_000),
      `took ${tookMs} ms: delays of 900 s and 120 s were not cut to the poll interval`,
    );
  });
});

describe('file EMF metrics', () => {
  it('writes the Lambda EMF lines to the file, one per publish', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ccm-file-metrics-'));
    try {
      const path = join(dir, 'metrics.emf.jsonl');
      const metrics = createFileEmfMetrics(
        { namespace: 'CloudConnexa', serviceName: 's', stage: 'local', granularity: 'fleet' },
        path,
      );
      metrics.failed(INSTANCE, { inMaintenance: false });
      metrics.blind(INSTANCE, { inMaintenance: false });
      metrics.flush();

      const lines = readFileSync(path, 'utf8').trim().split('\n');
      assert.equal(lines.length, 1);
      const emf = JSON.parse(lines[0] ?? '{}') as Record<string, unknown>;
      assert.equal(emf.HostsFailed, 1);
      assert.equal(emf.HostsBlind, 1);
      assert.equal(emf.Stage, 'local');
      assert.deepEqual(metrics.lines(), lines);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
