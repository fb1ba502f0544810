/**
 * One scheduled round: discover enrolled hosts, work out each host's settings,
 * send the check to reachable hosts (one SendCommand per group of identical
 * settings and at most 50 hosts), and queue a collect job per command. Hosts
 * that cannot be checked (blind, misconfigured, SendCommand refused) get a
 * record in their own stream and a fleet metric: none is silently skipped.
 */

import { chunk, mapLimit } from '../../common/concurrency.ts';
import { type ErrorInfo, InvalidInputError, toErrorInfo } from '../../common/errors.ts';
import { MAX_ROUND_MS, roundExpectedMs, roundWorstCaseMs } from '../../common/round-budget.ts';
import { DEFAULTS } from '../../common/settings.ts';
import { describeAwsError, errorNameOf } from '../aws/aws-errors.ts';
import { type CollectorLog, consoleLog } from '../collect/host-writes.ts';
import type { CollectJob } from '../collect/job.ts';
import { clampDelay } from '../collect/job.ts';
import type { ClaimStore } from '../collect/job-claims.ts';
import type { HostSettings } from '../config.ts';
import type { BlindInstance, EnrolledInstance } from '../enrollment/discover-instances.ts';
import type { LogSink } from '../logs/log-writer.ts';
import { buildDispatchRecord, maintenanceFields } from '../logs/records.ts';
import type { RoundMetrics } from '../metrics/emit-metrics.ts';
import { type CommandTransport, InstancesRefusedError, type Inventory, type JobQueue } from '../ports.ts';
import { createDispatchRecordWriter, type DispatchRecordWriter } from './dispatch-records.ts';
import { resolveHostSettings, type SsmParameters, settingsKey, toSsmParameters } from './host-settings.ts';
import { decideMaintenance, inMaintenance, type MaintenanceNote, stageWindow } from './maintenance.ts';
import { type HostResourceLists, prepareResourceLists } from './resource-lists.ts';
import type { ParameterReader } from './resource-parameters.ts';
import { claimRound, finishRound, roundClaimKey } from './round-claim.ts';
import { sendIsolating } from './send-isolating.ts';
import { sendWithinBudget } from './time-budget.ts';

/** SendCommand accepts at most 50 InstanceIds. */
export const MAX_INSTANCES_PER_COMMAND = 50;

export interface DispatchPorts {
  inventory: Inventory;
  transport: CommandTransport;
  queue: JobQueue;
  logs: LogSink;
  metrics: RoundMetrics;
  now: () => number;
  /** Parameter Store, for resource lists named by tag or stage param; without it such hosts are misconfigured. */
  parameters?: ParameterReader;
  /** Time left before the Lambda timeout; commands stop in time to record the rest (time-budget.ts). */
  remainingMs?: () => number;
  /**
   * Where the round is claimed before anything is sent (round-claim.ts), so a
   * second invocation of the same scheduled event does nothing. Without it
   * every invocation dispatches.
   */
  claims?: ClaimStore;
  /** Defaults to consoleLog. */
  log?: CollectorLog;
}

export interface DispatchOptions {
  stage: string;
  roundId: string;
  /** The round's key in `claims` (round-claim.ts roundClaimKey); default: keyed by `roundId`. */
  roundClaimKey?: string;
  tagKey: string;
  defaults: HostSettings;
  /** Parameter holding the stage's default resource list (replaces defaults.resources). */
  defaultResourcesParameter?: string | null;
  /** Path prefix resource-list parameters must lie under (default common/stack-params.ts). */
  resourcesParameterPath?: string;
  /** Longest resource list the SSM document admits (default RESOURCES_MAX_CHARS). */
  resourcesMaxChars?: number;
  logDir: string;
  allowInstall: boolean;
  commandTimeoutSeconds: number;
  executionTimeoutSeconds: number;
  /** SendCommand and log writes in flight. */
  concurrency?: number;
  /** The stage's maintenance window end (stage param maintenanceUntil, ISO-8601); null or absent: none. */
  maintenanceUntil?: string | null;
}

export interface DispatchSummary {
  roundId: string;
  enrolled: number;
  blind: number;
  misconfigured: number;
  /** Hosts in a command that SSM accepted and whose collect job is queued. */
  dispatched: number;
  /** Hosts whose SendCommand or collect job failed. */
  failed: number;
  /** Of the blind hosts: those SSM refused at SendCommand (InvalidInstanceId), the others of their batch sent again. */
  refused: number;
  groups: number;
  commands: number;
  /** Records neither written nor handed to the collector (logged with their hosts; the round still completes). */
  recordWriteErrors: number;
  /** Set when another invocation had claimed this round: this one sent, recorded and counted nothing. */
  duplicateOf?: { claimedAt: number; finished: boolean };
}

interface Group {
  parameters: SsmParameters;
  instanceIds: string[];
}

/** The agent's defaults for what dispatch does not send (concurrency). */
function budgetOf(settings: HostSettings) {
  const paths = settings.resources.split(',').length + 1;
  return { settings: { ...settings, concurrency: DEFAULTS.concurrency }, paths };
}

/** Rough run time of the agent on a host, for the first look at the command: a healthy round plus start-up slack. */
export function expectedRunSeconds(settings: HostSettings): number {
  const b = budgetOf(settings);
  return Math.ceil(roundExpectedMs(b.settings, b.paths) / 1000) + 10;
}

/** The longest a round can take (common/round-budget.ts), in whole seconds. */
export function worstCaseRunSeconds(settings: HostSettings): number {
  const b = budgetOf(settings);
  return Math.ceil(roundWorstCaseMs(b.settings, b.paths) / 1000);
}

export async function dispatchRound(
  ports: DispatchPorts,
  options: DispatchOptions,
): Promise<DispatchSummary> {
  const concurrency = options.concurrency ?? 8;
  // Every send below, each part of an isolated batch included, stops in time to
  // record what it did not send (time-budget.ts).
  ports = { ...ports, transport: sendWithinBudget(ports.transport, ports.remainingMs) };
  const log = ports.log ?? consoleLog;
  const { online, blind } = await ports.inventory.discover();
  const summary: DispatchSummary = {
    roundId: options.roundId,
    enrolled: online.length + blind.length,
    blind: blind.length,
    misconfigured: 0,
    dispatched: 0,
    failed: 0,
    refused: 0,
    groups: 0,
    commands: 0,
    recordWriteErrors: 0,
  };
  // Claimed after discovery (which changes nothing) and before the first record,
  // command or metric: a duplicate invocation of this round stops here.
  const claimKey = options.roundClaimKey ?? roundClaimKey({}, options.roundId);
  let claimOwner: string | null = null;
  if (ports.claims !== undefined) {
    const claim = await claimRound(ports.claims, claimKey, ports.now());
    if (claim.kind === 'duplicate') {
      return {
        ...summary,
        enrolled: 0,
        blind: 0,
        duplicateOf: { claimedAt: claim.claimedAt, finished: claim.finished },
      };
    }
    claimOwner = claim.owner;
  }
  // Each record is written as soon as it is pushed, retried, and handed to the
  // collector if it still fails (dispatch-records.ts).
  const pendingWrites = createDispatchRecordWriter(ports, { roundId: options.roundId, concurrency, log });
  try {
    await sendRound(ports, options, summary, pendingWrites, online, blind);
  } finally {
    // Also when sendRound throws (a bug, not host input): the records that could not
    // be written are handed to the collector before the error propagates.
    summary.recordWriteErrors = (await pendingWrites.finish()).lost;
  }
  if (ports.claims !== undefined && claimOwner !== null) {
    try {
      await finishRound(ports.claims, claimKey, claimOwner);
    } catch (error) {
      // The round is done either way; an unfinished claim still stops a duplicate.
      log({
        level: 'error',
        message: 'dispatch: could not mark the round claim finished',
        roundId: options.roundId,
        error: describeAwsError(error),
      });
    }
  }
  return summary;
}

/** Records, commands and collect jobs of one claimed round. */
async function sendRound(
  ports: DispatchPorts,
  options: DispatchOptions,
  summary: DispatchSummary,
  pendingWrites: DispatchRecordWriter,
  online: EnrolledInstance[],
  blind: BlindInstance[],
): Promise<void> {
  const concurrency = options.concurrency ?? 8;
  const at = ports.now();
  const log = ports.log ?? consoleLog;
  // Maintenance is decided here, once per host and round, and carried to the
  // collector in the collect job: the collector never reads tags.
  const stage = stageWindow(options.maintenanceUntil, at);
  if (stage.error !== null) {
    // Packaging checks the param against its clock; a Lambda clock far behind it is the
    // only way here. The window is not applied: alarms stay on, and this line says why.
    log({
      level: 'error',
      message: `dispatch: the stage maintenance window is not applied: ${stage.error.message}`,
      roundId: options.roundId,
    });
  }
  const maintenanceOf = new Map<string, MaintenanceNote>();
  let hostsInMaintenance = 0;
  const noteMaintenance = (instanceId: string, note: MaintenanceNote | null): void => {
    if (note === null) return;
    maintenanceOf.set(instanceId, note);
    if (inMaintenance(note)) {
      hostsInMaintenance++;
      ports.metrics.inMaintenance(instanceId);
    }
  };
  /**
   * Said with every outcome counted: a host in a window is in HostsInMaintenance and
   * in none of the outcome metrics the alarms read (emit-metrics.ts).
   */
  const windowOf = (instanceId: string) => ({ inMaintenance: inMaintenance(maintenanceOf.get(instanceId)) });
  /** Hosts counted under HostsBlind / HostsMisconfigured at discovery (outside a window), for the round's zeroes. */
  const counted = { blind: 0, misconfigured: 0 };
  const recordFailure = (
    instanceIds: string[],
    status: 'SendCommandFailed' | 'EnqueueFailed' | 'ResourcesParameterUnreadable',
    commandId: string | undefined,
    errorName: string,
    error: ErrorInfo,
  ): void => {
    summary.failed += instanceIds.length;
    for (const instanceId of instanceIds) {
      ports.metrics.failed(instanceId, windowOf(instanceId));
      pendingWrites.push({
        stream: instanceId,
        events: buildDispatchRecord(
          'dispatch-failed',
          {
            instanceId,
            roundId: options.roundId,
            status,
            // The hosts run the command anyway: the id lets an operator fetch their output.
            ...(commandId === undefined ? {} : { commandId }),
            errorName,
            error,
            ...maintenanceFields(maintenanceOf.get(instanceId)),
          },
          ports.now(),
        ),
      });
    }
  };
  const recordMisconfigured = (instanceId: string, invalid: InvalidInputError): void => {
    summary.misconfigured++;
    const window = windowOf(instanceId);
    if (!window.inMaintenance) counted.misconfigured++;
    ports.metrics.misconfigured(instanceId, window);
    pendingWrites.push({
      stream: instanceId,
      events: buildDispatchRecord(
        'misconfigured',
        {
          instanceId,
          roundId: options.roundId,
          status: 'Misconfigured',
          field: invalid.field,
          value: invalid.value,
          allowed: invalid.allowed,
          error: invalid.toInfo(),
          ...maintenanceFields(maintenanceOf.get(instanceId)),
        },
        at,
      ),
    });
  };
  // Every round, 0 included: the blind alarm tells "nothing enrolled" from "no round ran" by it.
  ports.metrics.enrolled(summary.enrolled);

  for (const host of blind) {
    // A blind host is not sent anything: a bad MaintenanceUntil tag on it is reported once it is reachable.
    let note: MaintenanceNote | null = null;
    try {
      note = decideMaintenance(host.tags, options.tagKey, stage.until, at);
    } catch (error) {
      if (!(error instanceof InvalidInputError)) throw error;
    }
    noteMaintenance(host.instanceId, note);
    const window = windowOf(host.instanceId);
    if (!window.inMaintenance) counted.blind++;
    ports.metrics.blind(host.instanceId, window);
    pendingWrites.push({
      stream: host.instanceId,
      events: buildDispatchRecord(
        'blind',
        {
          instanceId: host.instanceId,
          roundId: options.roundId,
          status: 'Unreachable',
          pingStatus: host.pingStatus,
          lastPingAt: host.lastPingAt,
          message: `enrolled but SSM reports ${host.pingStatus}: not checked this round`,
          ...maintenanceFields(note),
        },
        at,
      ),
    });
  }

  const groups = new Map<string, Group>();
  const settingsByKey = new Map<string, HostSettings>();
  const resourceLists = await prepareResourceLists(ports.parameters, online, options);
  for (const host of online) {
    // Maintenance first: whatever else goes wrong for the host this round (an
    // unreadable list, another invalid tag), a window keeps it out of the alarmed
    // metrics. An invalid MaintenanceUntil tag is reported like any invalid tag.
    let note: MaintenanceNote | null;
    try {
      note = decideMaintenance(host.tags, options.tagKey, stage.until, at);
    } catch (error) {
      if (!(error instanceof InvalidInputError)) throw error;
      recordMisconfigured(host.instanceId, error);
      continue;
    }
    noteMaintenance(host.instanceId, note);
    const list = resourceLists(host);
    if (list.kind === 'unreadable') {
      recordFailure([host.instanceId], 'ResourcesParameterUnreadable', undefined, list.errorName, list.error);
      continue;
    }
    const resolved = list.kind === 'invalid' ? list.error : resolveHost(host, options, list);
    if (resolved instanceof InvalidInputError) {
      recordMisconfigured(host.instanceId, resolved);
      continue;
    }
    const key = settingsKey(resolved.parameters);
    const group = groups.get(key) ?? { parameters: resolved.parameters, instanceIds: [] };
    group.instanceIds.push(host.instanceId);
    groups.set(key, group);
    settingsByKey.set(key, resolved.settings);
  }
  ports.metrics.zeroDispatchCounters({
    blind: counted.blind,
    misconfigured: counted.misconfigured,
    inMaintenance: hostsInMaintenance,
  });
  summary.groups = groups.size;

  const commands = [...groups.entries()].flatMap(([key, group]) =>
    chunk(group.instanceIds, MAX_INSTANCES_PER_COMMAND).map((instanceIds) => ({ key, group, instanceIds })),
  );
  summary.commands = commands.length;

  // One command failing (throttled past retries, a refused parameter) must not
  // lose the others: each chunk is sent and recorded on its own, and instances
  // SSM refuses (InvalidInstanceId) are isolated so the rest of their chunk is
  // sent again without them (send-isolating.ts).
  await mapLimit(commands, concurrency, async ({ key, group, instanceIds }) => {
    const settings = settingsByKey.get(key) ?? options.defaults;
    const comment = `cc-monitor ${options.stage} round ${options.roundId}`;
    const outcome = await sendIsolating(
      instanceIds,
      (ids) => ports.transport.send({ instanceIds: ids, parameters: group.parameters, comment }),
      { recheck: ports.inventory.recheck?.bind(ports.inventory) },
    );
    for (const refused of outcome.refused) {
      summary.blind++;
      summary.refused++;
      ports.metrics.blind(refused.instanceId, windowOf(refused.instanceId));
      pendingWrites.push({
        stream: refused.instanceId,
        events: buildDispatchRecord(
          'blind',
          {
            instanceId: refused.instanceId,
            roundId: options.roundId,
            status: 'SendCommandRefused',
            pingStatus: refused.pingStatus,
            lastPingAt: refused.lastPingAt,
            errorName: refused.error.errorName,
            reason: refused.reason,
            message: `SSM refused the command for this instance (${refused.error.errorName}: terminating, terminated, no longer registered or SSM Agent not running): not checked this round; the other instances of its batch were sent`,
            error: refused.error.toInfo(),
            ...maintenanceFields(maintenanceOf.get(refused.instanceId)),
          },
          ports.now(),
        ),
      });
    }
    for (const failure of outcome.failed) {
      const errorName =
        failure.error instanceof InstancesRefusedError ? failure.error.errorName : errorNameOf(failure.error);
      recordFailure(
        failure.instanceIds,
        'SendCommandFailed',
        undefined,
        errorName,
        toErrorInfo(failure.error),
      );
    }
    for (const { commandId, instanceIds: sentIds } of outcome.sent) {
      try {
        const dispatchedAt = ports.now();
        const maintenance = Object.fromEntries(
          sentIds.flatMap((id) => {
            const note = maintenanceOf.get(id);
            return note === undefined ? [] : [[id, note] as const];
          }),
        );
        const job: CollectJob = {
          v: 1,
          commandId,
          roundId: options.roundId,
          instanceIds: sentIds,
          dispatchedAt,
          deadline:
            dispatchedAt + (options.commandTimeoutSeconds + options.executionTimeoutSeconds + 60) * 1000,
          attempt: 1,
          settings: Object.fromEntries(Object.entries(group.parameters).map(([k, v]) => [k, v[0]])),
          ...(Object.keys(maintenance).length > 0 ? { maintenance } : {}),
        };
        await ports.queue.enqueue(job, clampDelay(expectedRunSeconds(settings) + 5));
        summary.dispatched += sentIds.length;
      } catch (error) {
        recordFailure(sentIds, 'EnqueueFailed', commandId, errorNameOf(error), toErrorInfo(error));
      }
    }
  });
}

function resolveHost(
  host: EnrolledInstance,
  options: DispatchOptions,
  list: Extract<HostResourceLists, { kind: 'ok' }>,
): { settings: HostSettings; parameters: SsmParameters } | InvalidInputError {
  try {
    const settings = resolveHostSettings(
      { ...options.defaults, resources: list.resources },
      host.tags,
      options.tagKey,
    );
    // SSM would kill a round that outlives the document's execution timeout, and
    // the agent refuses rounds longer than its lock's stale age: refuse both here.
    const limit = Math.min(options.executionTimeoutSeconds, MAX_ROUND_MS / 1000);
    if (worstCaseRunSeconds(settings) > limit) {
      throw new InvalidInputError(
        `${options.tagKey}:Count × ${options.tagKey}:IntervalSec`,
        `${settings.count} × ${settings.intervalSec} s`,
        `a round whose worst case (${worstCaseRunSeconds(settings)} s: mtr, then the TCP/HTTP fallback, for every path) fits in ${limit} s (execution timeout ${options.executionTimeoutSeconds} s)`,
      );
    }
    const parameters = toSsmParameters(settings, options, options.tagKey);
    return { settings, parameters };
  } catch (error) {
    if (error instanceof InvalidInputError) return error;
    throw error;
  }
}
