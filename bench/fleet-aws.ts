/**
 * The AWS side of the fleet benchmark: EC2, SSM, SQS and CloudWatch Logs as
 * aws-sdk-client-mock answers (after a real `latencyMs`, so wall times mean
 * something), and the claim table as DynamoDB answers its conditional writes
 * (bench/fake-dynamodb.ts), driven by a virtual clock so delays, deadlines and claim ages
 * pass without waiting, with faults injected at given rates:
 *
 * - throttle:          any call of dispatch or collection answers ThrottlingException
 *                      (past the SDK's retries: the mock replaces `send`);
 * - duplicateSend:     SQS stores one SendMessage twice (an SDK retry after a lost response);
 * - duplicateDelivery: SQS hands one message to two collector invocations at once;
 * - rejectedEvents:    PutLogEvents accepts the call but refuses every event (too old);
 * - lostPutResponse:   PutLogEvents stores the events but answers 503;
 * - terminated:        an instance terminates between discovery and SendCommand
 *                      (SendCommand then fails with InvalidInstanceId for its whole batch,
 *                      naming the instance as SSM does; dispatch isolates it and sends
 *                      the others again: functions/dispatch/send-isolating.ts);
 * - failedSendCommand: a SendCommand call fails (500);
 * - collectorCrash:    a collector invocation dies mid-batch (Lambda timeout): no further
 *                      call succeeds, its metrics after that point are lost and all its
 *                      messages come back after the visibility timeout.
 *
 * Discovery (DescribeInstances, DescribeInstanceInformation) and the round's
 * claim are not throttled: their failure fails the round as a whole, which the
 * dispatch-failing and blind alarms report.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import {
  CloudWatchLogsClient,
  CreateLogStreamCommand,
  GetLogEventsCommand,
  PutLogEventsCommand,
  ResourceAlreadyExistsException,
  ResourceNotFoundException,
} from '@aws-sdk/client-cloudwatch-logs';
import { DynamoDBClient, GetItemCommand, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import {
  DescribeInstanceInformationCommand,
  GetCommandInvocationCommand,
  ListCommandInvocationsCommand,
  SendCommandCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { CLAIMS_KEY_ATTRIBUTE } from '../functions/aws/claims-table.ts';
import { ROUND_CLAIM_PREFIX } from '../functions/dispatch/round-claim.ts';
import { FakeTable } from './fake-dynamodb.ts';

export interface FaultRates {
  throttle: number;
  duplicateSend: number;
  duplicateDelivery: number;
  rejectedEvents: number;
  lostPutResponse: number;
  terminated: number;
  failedSendCommand: number;
  collectorCrash: number;
}

export const NO_FAULTS: FaultRates = {
  throttle: 0,
  duplicateSend: 0,
  duplicateDelivery: 0,
  rejectedEvents: 0,
  lostPutResponse: 0,
  terminated: 0,
  failedSendCommand: 0,
  collectorCrash: 0,
};

export interface FleetShape {
  hosts: number;
  /** Share of hosts blind (ConnectionLost), still running at the first look, failed, flagged. */
  blind: number;
  slow: number;
  failed: number;
  flagged: number;
  /** Run time of a host's check, and of a slow one (ms of virtual time). */
  runMs: number;
  slowRunMs: number;
}

/** Where in each run of 1/rate opportunities a fault falls (spread so kinds do not coincide). */
const FAULT_OFFSETS: Record<keyof FaultRates, number> = {
  throttle: 37,
  duplicateSend: 11,
  duplicateDelivery: 23,
  rejectedEvents: 41,
  lostPutResponse: 59,
  terminated: 50,
  failedSendCommand: 7,
  collectorCrash: 3,
};

/** A message on the simulated queue. */
export interface QueuedMessage {
  messageId: string;
  body: string;
  visibleAt: number;
  receiveCount: number;
}

/** mulberry32: a small seeded generator, so a run is reproducible. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export const instanceIdOf = (n: number) => `i-${n.toString(16).padStart(17, '0')}`;
export const indexOf = (instanceId: string) => Number.parseInt(instanceId.slice(2), 16);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** An error as the SDK raises it. */
function awsError(name: string, message: string, status: number): Error {
  return Object.assign(new Error(message), {
    name,
    $fault: status >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode: status },
  });
}

/** What a collector invocation knows about itself, for crash injection. */
interface Invocation {
  killAfterCalls: number | null;
  calls: number;
  killed: boolean;
}

export class SimulatedAws {
  readonly clock: { now: number };
  readonly calls: Record<string, number> = {};
  readonly injected: Record<keyof FaultRates, number> = { ...NO_FAULTS };
  /** Calls per API that a fault answered (throttled, refused, answer lost): each costs a call again. */
  readonly faultedCalls: Record<string, number> = {};
  /** Events per stream of each log group. */
  readonly streams = new Map<string, Map<string, { timestamp: number; message: string }[]>>();
  readonly queue: QueuedMessage[] = [];
  /** The claim table of dispatch and the collectors. */
  readonly claimTable = new FakeTable(CLAIMS_KEY_ATTRIBUTE);
  logBytes = 0;
  readonly terminated = new Set<string>();
  private readonly commands = new Map<string, { ids: string[]; dispatchedAt: number }>();
  private readonly invocation = new AsyncLocalStorage<Invocation>();
  private readonly mocks: { restore(): void }[] = [];
  private messageSeq = 0;

  constructor(
    readonly shape: FleetShape,
    readonly faults: FaultRates,
    readonly options: {
      latencyMs: number;
      seed: number;
      monitorLogGroup: string;
      logGroupDeleted?: boolean;
      resultStdout: (hostIndex: number) => string;
    },
    readonly random = seeded(options.seed),
  ) {
    this.clock = { now: Date.parse('2026-01-01T12:00:00Z') };
    for (let n = 0; n < shape.hosts; n++)
      if (this.chance(faults.terminated, 'terminated')) this.terminated.add(instanceIdOf(n));
    this.install();
  }

  /** Runs a collector invocation; it dies after `killAfterCalls` calls when given. */
  runInvocation<T>(killAfterCalls: number | null, work: () => Promise<T>): Promise<T> {
    return this.invocation.run({ killAfterCalls, calls: 0, killed: false }, work);
  }

  /** Whether the current invocation has died (its output after that point is lost). */
  killed(): boolean {
    return this.invocation.getStore()?.killed === true;
  }

  restore(): void {
    for (const m of this.mocks) m.restore();
  }

  private readonly opportunities: Record<keyof FaultRates, number> = { ...NO_FAULTS };
  /** The opportunity (counted from 0) at which each kind's next fault falls. */
  private readonly nextFault: Partial<Record<keyof FaultRates, number>> = {};

  /**
   * Whether this opportunity for a fault gets it: exactly one in every block of
   * 1/rate opportunities, at a place in the block drawn from the seeded
   * generator (the first block's place is fixed per kind). A rate of 1 % thus
   * injects 1 % (at least one in 100 opportunities), and no call is hit in
   * every block just because the calls happen to repeat with the block's period.
   */
  private chance(rate: number, fault: keyof FaultRates): boolean {
    if (rate <= 0) return false;
    const period = Math.max(1, Math.round(1 / rate));
    const n = this.opportunities[fault]++;
    const at = this.nextFault[fault] ?? FAULT_OFFSETS[fault] % period;
    if (n !== at) return false;
    // The next fault: somewhere in the next block of `period` opportunities.
    this.nextFault[fault] = (Math.floor(n / period) + 1) * period + Math.floor(this.random() * period);
    this.injected[fault]++;
    return true;
  }

  /** Counts, waits the latency, and applies throttling and crashes before answering. */
  private async answer<T>(name: string, value: () => T, options: { throttle?: boolean } = {}): Promise<T> {
    const invocation = this.invocation.getStore();
    if (invocation?.killed) throw awsError('Killed', 'the invocation was killed (Lambda timeout)', 599);
    if (
      invocation !== undefined &&
      invocation.killAfterCalls !== null &&
      ++invocation.calls > invocation.killAfterCalls
    ) {
      invocation.killed = true;
      throw awsError('Killed', 'the invocation was killed (Lambda timeout)', 599);
    }
    this.calls[name] = (this.calls[name] ?? 0) + 1;
    await sleep(this.options.latencyMs);
    if (options.throttle !== false && this.chance(this.faults.throttle, 'throttle')) {
      this.faultedCalls[name] = (this.faultedCalls[name] ?? 0) + 1;
      throw awsError('ThrottlingException', 'Rate exceeded', 400);
    }
    return value();
  }

  private statusOf(instanceId: string, command: { dispatchedAt: number }): string {
    const n = indexOf(instanceId);
    const slow = n % Math.round(1 / this.shape.slow) === 3;
    const doneAt = command.dispatchedAt + (slow ? this.shape.slowRunMs : this.shape.runMs);
    if (this.clock.now < doneAt) return 'InProgress';
    return n % Math.round(1 / this.shape.failed) === 7 ? 'Failed' : 'Success';
  }

  private group(name: string) {
    let group = this.streams.get(name);
    if (group === undefined) {
      group = new Map();
      this.streams.set(name, group);
    }
    return group;
  }

  private install(): void {
    const { shape } = this;
    const ec2 = mockClient(EC2Client);
    const ssm = mockClient(SSMClient);
    const sqs = mockClient(SQSClient);
    const logs = mockClient(CloudWatchLogsClient);
    const dynamodb = mockClient(DynamoDBClient);
    this.mocks.push(ec2, ssm, sqs, logs, dynamodb);
    const blindEvery = Math.round(1 / shape.blind);

    ec2.on(DescribeInstancesCommand).callsFake((input: { NextToken?: string }) =>
      this.answer(
        'EC2 DescribeInstances',
        () => {
          const start = Number(input.NextToken ?? '0');
          const end = Math.min(shape.hosts, start + 1000);
          return {
            Reservations: [
              {
                Instances: Array.from({ length: end - start }, (_, i) => ({
                  InstanceId: instanceIdOf(start + i),
                  Tags: [{ Key: 'CloudConnexaMonitor', Value: 'enabled' }],
                })),
              },
            ],
            NextToken: end < shape.hosts ? String(end) : undefined,
          };
        },
        { throttle: false },
      ),
    );
    ssm.on(DescribeInstanceInformationCommand).callsFake((input: { Filters?: { Values?: string[] }[] }) =>
      this.answer(
        'SSM DescribeInstanceInformation',
        () => ({
          InstanceInformationList: (input.Filters?.[0]?.Values ?? []).map((instanceId) => ({
            InstanceId: instanceId,
            PingStatus: indexOf(instanceId) % blindEvery === 1 ? 'ConnectionLost' : 'Online',
          })),
        }),
        { throttle: false },
      ),
    );
    ssm.on(SendCommandCommand).callsFake((input: { InstanceIds?: string[] }) =>
      this.answer('SSM SendCommand', () => {
        const ids = input.InstanceIds ?? [];
        if (this.chance(this.faults.failedSendCommand, 'failedSendCommand'))
          throw awsError('InternalServerError', 'An internal error occurred', 500);
        const gone = ids.filter((id) => this.terminated.has(id));
        if (gone.length > 0) {
          // A fault answered the call: dispatch makes it again without the instances named.
          this.faultedCalls['SSM SendCommand'] = (this.faultedCalls['SSM SendCommand'] ?? 0) + 1;
          throw awsError(
            'InvalidInstanceId',
            `Instances [[${gone.join(', ')}]] not in a valid state for account 123456789012`,
            400,
          );
        }
        const commandId = `c0ffee00-0000-4000-8000-${String(this.commands.size + 1).padStart(12, '0')}`;
        this.commands.set(commandId, { ids, dispatchedAt: this.clock.now });
        return { Command: { CommandId: commandId } };
      }),
    );
    ssm.on(ListCommandInvocationsCommand).callsFake((input: { CommandId?: string }) =>
      this.answer('SSM ListCommandInvocations', () => {
        const command = this.commands.get(input.CommandId ?? '');
        if (command === undefined) return { CommandInvocations: [] };
        return {
          CommandInvocations: command.ids.map((instanceId) => {
            const status = this.statusOf(instanceId, command);
            return { InstanceId: instanceId, Status: status, StatusDetails: status };
          }),
        };
      }),
    );
    ssm.on(GetCommandInvocationCommand).callsFake((input: { CommandId?: string; InstanceId?: string }) =>
      this.answer('SSM GetCommandInvocation', () => {
        const command = this.commands.get(input.CommandId ?? '');
        const instanceId = input.InstanceId ?? '';
        if (command === undefined) throw awsError('InvocationDoesNotExist', 'no invocation', 400);
        const status = this.statusOf(instanceId, command);
        if (status === 'InProgress')
          return { Status: 'InProgress', StatusDetails: 'InProgress', StandardOutputContent: '' };
        return status === 'Failed'
          ? {
              Status: 'Failed',
              StatusDetails: 'Failed',
              ResponseCode: 3,
              StandardOutputContent: '',
              StandardErrorContent: 'mtr: command not found',
            }
          : {
              Status: 'Success',
              StatusDetails: 'Success',
              ResponseCode: 0,
              StandardOutputContent: this.options.resultStdout(indexOf(instanceId)),
              StandardErrorContent: '',
            };
      }),
    );
    sqs.on(SendMessageCommand).callsFake((input: { MessageBody?: string; DelaySeconds?: number }) =>
      this.answer('SQS SendMessage', () => {
        const copies = this.chance(this.faults.duplicateSend, 'duplicateSend') ? 2 : 1;
        for (let i = 0; i < copies; i++) {
          this.queue.push({
            messageId: `m-${++this.messageSeq}`,
            body: input.MessageBody ?? '',
            visibleAt: this.clock.now + (input.DelaySeconds ?? 0) * 1000,
            receiveCount: 0,
          });
        }
        return { MessageId: `m-${this.messageSeq}` };
      }),
    );

    const monitor = this.options.monitorLogGroup;
    const deleted = (groupName: string) =>
      this.options.logGroupDeleted === true && groupName === monitor
        ? new ResourceNotFoundException({ message: 'The specified log group does not exist.', $metadata: {} })
        : null;
    const apiName = (api: string, groupName: string) =>
      groupName === monitor ? `Logs ${api}` : `Logs ${api} (${groupName})`;

    logs
      .on(PutLogEventsCommand)
      .callsFake(
        (input: {
          logGroupName?: string;
          logStreamName?: string;
          logEvents?: { timestamp?: number; message?: string }[];
        }) =>
          this.answer(apiName('PutLogEvents', input.logGroupName ?? ''), () => {
            const groupName = input.logGroupName ?? '';
            const missing = deleted(groupName);
            if (missing !== null) throw missing;
            const stream = this.group(groupName).get(input.logStreamName ?? '');
            if (stream === undefined)
              throw new ResourceNotFoundException({
                message: 'The specified log stream does not exist.',
                $metadata: {},
              });
            const events = input.logEvents ?? [];
            const api = apiName('PutLogEvents', groupName);
            if (this.chance(this.faults.rejectedEvents, 'rejectedEvents')) {
              this.faultedCalls[api] = (this.faultedCalls[api] ?? 0) + 1;
              return { rejectedLogEventsInfo: { tooOldLogEventEndIndex: events.length } };
            }
            for (const e of events) {
              stream.push({ timestamp: e.timestamp ?? 0, message: e.message ?? '' });
              this.logBytes += Buffer.byteLength(e.message ?? '', 'utf8') + 26;
            }
            if (this.chance(this.faults.lostPutResponse, 'lostPutResponse')) {
              this.faultedCalls[api] = (this.faultedCalls[api] ?? 0) + 1;
              throw awsError('ServiceUnavailableException', 'Service unavailable (response lost)', 503);
            }
            return {};
          }),
      );
    logs.on(CreateLogStreamCommand).callsFake((input: { logGroupName?: string; logStreamName?: string }) =>
      this.answer(apiName('CreateLogStream', input.logGroupName ?? ''), () => {
        const groupName = input.logGroupName ?? '';
        const missing = deleted(groupName);
        if (missing !== null) throw missing;
        const group = this.group(groupName);
        const name = input.logStreamName ?? '';
        if (group.has(name))
          throw new ResourceAlreadyExistsException({
            message: 'The specified log stream already exists',
            $metadata: {},
          });
        group.set(name, []);
        return {};
      }),
    );
    logs
      .on(GetLogEventsCommand)
      .callsFake(
        (input: { logGroupName?: string; logStreamName?: string; startTime?: number; nextToken?: string }) =>
          this.answer(apiName('GetLogEvents', input.logGroupName ?? ''), () => {
            const stream = this.group(input.logGroupName ?? '').get(input.logStreamName ?? '');
            if (stream === undefined)
              throw new ResourceNotFoundException({
                message: 'The specified log stream does not exist.',
                $metadata: {},
              });
            return {
              events: stream.filter((e) => e.timestamp >= (input.startTime ?? 0)),
              nextForwardToken: 'end',
            };
          }),
      );
    // Claims: conditional writes answered as DynamoDB does; throttled and cut by crashes like any call.
    // The round's claim is not throttled, as discovery is not: failing it fails the round as a whole.
    dynamodb.on(PutItemCommand).callsFake((input) =>
      this.answer('DynamoDB PutItem (claims)', () => this.claimTable.put(input), {
        throttle: !(input.Item?.[CLAIMS_KEY_ATTRIBUTE]?.S ?? '').startsWith(ROUND_CLAIM_PREFIX),
      }),
    );
    dynamodb
      .on(UpdateItemCommand)
      .callsFake((input) => this.answer('DynamoDB UpdateItem (claims)', () => this.claimTable.update(input)));
    dynamodb
      .on(GetItemCommand)
      .callsFake((input) => this.answer('DynamoDB GetItem (claims)', () => this.claimTable.get(input)));
  }

  /** Takes the next wave: every message visible now (the clock jumps to the next one). */
  nextWave(): QueuedMessage[] {
    if (this.queue.length === 0) return [];
    const due = Math.min(...this.queue.map((m) => m.visibleAt));
    if (due > this.clock.now) this.clock.now = due;
    const wave = this.queue.filter((m) => m.visibleAt <= this.clock.now);
    for (const m of wave) this.queue.splice(this.queue.indexOf(m), 1);
    return wave;
  }

  /** Each delivery of a wave; some messages twice (at-least-once delivery). */
  deliveries(wave: QueuedMessage[]): QueuedMessage[] {
    const copies = wave.filter(() => this.chance(this.faults.duplicateDelivery, 'duplicateDelivery'));
    return [...wave, ...copies];
  }

  /** Whether to kill an invocation, and after how many calls. */
  crashPoint(): number | null {
    return this.chance(this.faults.collectorCrash, 'collectorCrash') ? Math.floor(this.random() * 60) : null;
  }
}
