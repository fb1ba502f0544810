/**
 * Gathers what a notification shows, per alarm kind, from the records in the
 * central log group (and, for two kinds, elsewhere):
 *
 * | alarm                          | evidence                                                     |
 * | ------------------------------ | ------------------------------------------------------------ |
 * | hosts flagged, other           | the latest round with flagged results: those hosts           |
 * | worst host latency / loss      | the contributor's host: its latest record                     |
 * | tunnels down / paths changed   | the latest round with such results: those hosts              |
 * | latency anomaly of a host      | that host (the alarm's InstanceId dimension): latest record  |
 * | latency anomaly of the fleet   | the latest round's results, slowest host first               |
 * | monitoring blind (ALARM)       | the latest round's failure, blind and dispatch-failed records |
 * | monitoring blind (no data)     | the dispatch function's error lines                          |
 * | dispatch failing               | the dispatch function's error lines                          |
 * | dead-letter queue              | the jobs in the queue: round, hosts, last error              |
 * | any recovery (OK)              | the hosts affected before, and what their latest records say |
 *
 * "The latest round" is found without reading the whole window: the window is
 * searched one alarm period at a time from its end backwards until a slice
 * holds a match; the newest round id there is the round, and that round alone
 * is then read (its id narrows the pattern), so a fleet of thousands of hosts
 * costs a few calls and at most EVIDENCE_LIMITS.maxEvents records.
 *
 * Nothing here throws for lack of evidence: every failure (an AWS error, the
 * time budget running out, unreadable lines) becomes a note the message shows,
 * and the notification goes out with what was found.
 */
import { errnoOf } from '../../common/errno.ts';
import { describeAwsError } from '../aws/aws-errors.ts';
import type { AlarmChange } from './alarm-event.ts';
import type { KnownAlarm } from './alarm-kinds.ts';
import type { DeadLetterNote, DeadLetterPeek } from './dead-letters.ts';
import { type HostRecord, INSTANCE_STREAM, readHostRecord } from './host-records.ts';
import { EVIDENCE_LIMITS, NOTIFY_LIMITS } from './limits.ts';
import type { FoundEvent, LogSearch } from './log-search.ts';
import { inRound, PATTERNS } from './record-patterns.ts';

export interface EvidencePorts {
  logs: LogSearch;
  deadLetters: DeadLetterPeek | null;
}

export interface EvidenceSettings {
  monitorLogGroup: string;
  dispatchLogGroup: string;
  /** The alarms' period (and the schedule's), ms. */
  periodMs: number;
  /** How far back records are searched: the alarms' evaluation window plus a round's collection. */
  lookbackMs: number;
}

export interface Evidence {
  /** The round the hosts were taken from; null when per host or none. */
  round: string | null;
  /** One record per host, the most severe first; at most NOTIFY_LIMITS.hostsListed. */
  hosts: HostRecord[];
  /** Hosts found (before that bound). */
  total: number;
  /** More records matched than were read. */
  incomplete: boolean;
  /** A recovery: what the affected hosts showed in the last round before it (hosts then show their latest). */
  before: HostRecord[];
  /** A recovery: hosts affected before (before the NOTIFY_LIMITS.hostsListed bound on `before`). */
  beforeTotal: number;
  /**
   * A recovery: each host's latest record at or before the change, what the
   * alarm saw (`hosts` may hold later ones: the notifier can run late). The
   * collector stamps a record before it writes the host's metrics, so a record
   * after the change cannot be why the alarm changed.
   */
  atChange: HostRecord[];
  dispatchLog: FoundEvent[];
  deadLetters: DeadLetterNote[];
  /** What could not be gathered, and why; shown in the message. */
  notes: string[];
}

export function emptyEvidence(): Evidence {
  return {
    round: null,
    hosts: [],
    total: 0,
    incomplete: false,
    before: [],
    beforeTotal: 0,
    atChange: [],
    dispatchLog: [],
    deadLetters: [],
    notes: [],
  };
}

/** `20261126T171112Z-...` (dispatch's round ids) -> epoch ms of the round's start; null for other forms. */
export function roundStartOf(roundId: string): number | null {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z/.exec(roundId);
  if (m === null) return null;
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
  return Number.isFinite(ms) ? ms : null;
}

/** The host a contributor event is about: its InstanceId attribute, if it is one. */
export function contributorInstance(change: Pick<AlarmChange, 'contributor'>): string | null {
  const id = change.contributor?.attributes.InstanceId;
  return id !== undefined && INSTANCE_STREAM.test(id) ? id : null;
}

/** Most severe first: records that are not results, then by worst loss, worst latency, flagged count. */
export function bySeverity(a: HostRecord, b: HostRecord): number {
  const rank = (r: HostRecord) =>
    r.kind !== 'result' ? 3 : r.doc === null ? 1 : r.doc.summary.flagged > 0 ? 2 : 0;
  const loss = (r: HostRecord) => r.doc?.summary.worstLossPct ?? -1;
  const latency = (r: HostRecord) => r.doc?.summary.worstLatencyMs ?? -1;
  return (
    rank(b) - rank(a) ||
    loss(b) - loss(a) ||
    latency(b) - latency(a) ||
    (b.doc?.summary.flagged ?? 0) - (a.doc?.summary.flagged ?? 0) ||
    a.instanceId.localeCompare(b.instanceId)
  );
}

/**
 * Slowest first: result records by worst latency, then the rest as bySeverity
 * orders them (a latency anomaly is about latency, not flags).
 */
export function bySlowest(a: HostRecord, b: HostRecord): number {
  const latency = (r: HostRecord) => r.doc?.summary.worstLatencyMs ?? null;
  const la = latency(a);
  const lb = latency(b);
  if (la !== null && lb !== null && la !== lb) return lb - la;
  if ((la === null) !== (lb === null)) return la === null ? 1 : -1;
  return bySeverity(a, b);
}

/** The host a latency anomaly alarm watches: the InstanceId dimension of its metric; null for the fleet's. */
export function anomalyInstance(change: Pick<AlarmChange, 'dimensions'>): string | null {
  const id = change.dimensions.InstanceId;
  return id !== undefined && INSTANCE_STREAM.test(id) ? id : null;
}

/** Newer first: by round id (sortable), then by time. */
function newer(a: HostRecord, b: HostRecord): number {
  return (b.roundId ?? '').localeCompare(a.roundId ?? '') || b.at - a.at;
}

/** One record per host: its newest. */
export function latestPerHost(records: readonly HostRecord[]): HostRecord[] {
  const byHost = new Map<string, HostRecord>();
  for (const r of [...records].sort(newer)) if (!byHost.has(r.instanceId)) byHost.set(r.instanceId, r);
  return [...byHost.values()];
}

function describe(error: unknown): string {
  if (error instanceof Error && (error.name === 'AbortError' || error.name === 'TimeoutError')) {
    return 'stopped: the evidence time budget ran out';
  }
  const { name, message } = describeAwsError(error);
  const code = errnoOf(error);
  return `${name}${code === undefined ? '' : ` (${code})`}: ${message.slice(0, 200)}`;
}

class Gatherer {
  readonly evidence = emptyEvidence();
  constructor(
    private readonly ports: EvidencePorts,
    private readonly settings: EvidenceSettings,
    private readonly signal: AbortSignal,
  ) {}

  private read(events: readonly FoundEvent[]): HostRecord[] {
    const records: HostRecord[] = [];
    let unreadable = 0;
    for (const e of events) {
      const record = readHostRecord(e.stream, e.timestamp, e.message);
      if (record === null) unreadable++;
      else records.push(record);
    }
    if (unreadable > 0) {
      this.evidence.notes.push(
        `${unreadable} matching log line(s) were not records of an instance's stream and were skipped`,
      );
    }
    return records;
  }

  /** Runs one step; a failure becomes a note naming the step. */
  async step<T>(what: string, fallback: T, run: () => Promise<T>): Promise<T> {
    if (this.signal.aborted) {
      this.evidence.notes.push(`${what}: not read, the evidence time budget ran out`);
      return fallback;
    }
    try {
      return await run();
    } catch (error) {
      this.evidence.notes.push(`${what}: ${describe(error)}`);
      return fallback;
    }
  }

  /** The newest round in [start, end] with records matching `pattern`, and its matching records. */
  async latestRound(
    pattern: string,
    start: number,
    end: number,
    keep: (r: HostRecord) => boolean = () => true,
  ): Promise<{ round: string | null; records: HostRecord[]; incomplete: boolean }> {
    const { logs } = this.ports;
    const group = this.settings.monitorLogGroup;
    const slice = Math.max(60_000, this.settings.periodMs);
    for (let sliceEnd = end; sliceEnd > start; sliceEnd -= slice) {
      const found = await logs.search(
        {
          logGroupName: group,
          pattern,
          start: Math.max(start, sliceEnd - slice),
          end: sliceEnd,
          maxEvents: EVIDENCE_LIMITS.pageEvents,
        },
        this.signal,
      );
      const records = this.read(found.events).filter(keep);
      if (records.length === 0) continue;
      const round = [...records].sort(newer)[0]?.roundId ?? null;
      if (round === null) return { round, records: latestPerHost(records), incomplete: !found.complete };
      // The whole round: its records spread over its collection (minutes), maybe over two slices.
      const roundStart = roundStartOf(round);
      const all = await logs.search(
        {
          logGroupName: group,
          pattern: inRound(pattern, round) ?? pattern,
          start: roundStart === null ? start : Math.max(start, roundStart - 60_000),
          end,
          maxEvents: EVIDENCE_LIMITS.maxEvents,
        },
        this.signal,
      );
      const ofRound = this.read(all.events).filter((r) => r.roundId === round && keep(r));
      return { round, records: latestPerHost(ofRound), incomplete: !all.complete };
    }
    return { round: null, records: [], incomplete: false };
  }

  /** The latest record of each of these hosts in [start, end]. */
  async latestOf(instanceIds: readonly string[], start: number, end: number): Promise<HostRecord[]> {
    return latestPerHost(await this.recordsOf(instanceIds, start, end));
  }

  /** The records of these hosts in [start, end] (oldest first when the search was cut: `incomplete`). */
  async recordsOf(instanceIds: readonly string[], start: number, end: number): Promise<HostRecord[]> {
    const ids = instanceIds.filter((id) => INSTANCE_STREAM.test(id)).slice(0, EVIDENCE_LIMITS.maxStreams);
    if (ids.length === 0) return [];
    const found = await this.ports.logs.search(
      {
        logGroupName: this.settings.monitorLogGroup,
        pattern: PATTERNS.anyRecord,
        start,
        end,
        streams: ids,
        maxEvents: Math.min(EVIDENCE_LIMITS.maxEvents, ids.length * 8),
      },
      this.signal,
    );
    if (!found.complete) this.evidence.incomplete = true;
    return this.read(found.events);
  }

  /** For a recovery: `hosts` (their latest records) and `atChange` (their latest at or before it). */
  private setRecovered(records: readonly HostRecord[], change: AlarmChange, order = bySeverity): void {
    this.evidence.hosts = latestPerHost(records).sort(order);
    this.evidence.atChange = latestPerHost(records.filter((r) => r.at <= change.at));
    this.evidence.total = this.evidence.hosts.length;
  }

  async dispatchLog(start: number, end: number): Promise<void> {
    this.evidence.dispatchLog = await this.step('the dispatch function log', [] as FoundEvent[], async () => {
      const found = await this.ports.logs.search(
        {
          logGroupName: this.settings.dispatchLogGroup,
          pattern: PATTERNS.dispatchErrors,
          start,
          end,
          maxEvents: EVIDENCE_LIMITS.pageEvents,
        },
        this.signal,
      );
      return found.events.slice(-NOTIFY_LIMITS.dispatchLogLines);
    });
  }

  /**
   * Hosts of the latest round matching `pattern` (before `end`), in `order`
   * (most severe first by default); for a recovery, also what they show now.
   */
  async roundEvidence(
    pattern: string,
    change: AlarmChange,
    now: number,
    keep: (r: HostRecord) => boolean = () => true,
    order: (a: HostRecord, b: HostRecord) => number = bySeverity,
  ): Promise<void> {
    const start = change.at - this.settings.lookbackMs;
    const recovery = change.state === 'OK';
    const found = await this.step(
      'the latest round',
      { round: null, records: [] as HostRecord[], incomplete: false },
      () => this.latestRound(pattern, start, recovery ? change.at : now, keep),
    );
    this.evidence.round = found.round;
    this.evidence.incomplete ||= found.incomplete;
    const affected = found.records.sort(order).slice(0, NOTIFY_LIMITS.hostsListed);
    if (!recovery) {
      this.evidence.hosts = affected;
      this.evidence.total = found.records.length;
      return;
    }
    this.evidence.before = affected;
    this.evidence.beforeTotal = found.records.length;
    const since = change.at - this.settings.periodMs * 2;
    const records = await this.step(
      'the latest records of the hosts affected before',
      [] as HostRecord[],
      () =>
        this.recordsOf(
          affected.map((r) => r.instanceId),
          since,
          now,
        ),
    );
    this.setRecovered(records, change, order);
  }

  async hostEvidence(instanceId: string, change: AlarmChange, now: number): Promise<void> {
    const records = await this.step(`the records of ${instanceId}`, [] as HostRecord[], () =>
      this.recordsOf([instanceId], change.at - this.settings.lookbackMs, now),
    );
    if (change.state === 'OK') this.setRecovered(records, change);
    else {
      this.evidence.hosts = latestPerHost(records);
      this.evidence.total = this.evidence.hosts.length;
    }
  }

  async deadLetterEvidence(queueName: string | undefined): Promise<void> {
    const peek = this.ports.deadLetters;
    if (peek === null) return;
    if (queueName === undefined) {
      this.evidence.notes.push('the dead-letter queue: the alarm event names no QueueName dimension');
      return;
    }
    this.evidence.deadLetters = await this.step('the dead-letter queue', [] as DeadLetterNote[], () =>
      peek.peek(queueName, this.signal),
    );
  }
}

/**
 * Every alarm's host evidence leaves out hosts in a maintenance window: they
 * are in none of the metrics the alarms watch either, their flags nor their
 * failures (emit-metrics.ts).
 */
const outsideMaintenance = (r: HostRecord): boolean => r.maintenanceUntil === null;

/** The evidence for one alarm change (see the module comment); never throws. */
export async function gatherEvidence(
  change: AlarmChange,
  alarm: KnownAlarm,
  ports: EvidencePorts,
  settings: EvidenceSettings,
  signal: AbortSignal,
  now: number,
): Promise<Evidence> {
  const g = new Gatherer(ports, settings, signal);
  const recentStart = change.at - settings.lookbackMs;
  switch (alarm.kind) {
    case 'worst-host-latency':
    case 'worst-host-loss': {
      const host = contributorInstance(change);
      if (host !== null) await g.hostEvidence(host, change, now);
      else await g.roundEvidence(PATTERNS.flagged, change, now, outsideMaintenance);
      break;
    }
    case 'hosts-flagged':
    case 'other':
      await g.roundEvidence(PATTERNS.flagged, change, now, outsideMaintenance);
      break;
    case 'tunnels-down':
      await g.roundEvidence(PATTERNS.tunnelNotUp, change, now, outsideMaintenance);
      break;
    case 'path-changes':
      await g.roundEvidence(PATTERNS.pathChanged, change, now, outsideMaintenance);
      break;
    case 'latency-anomaly': {
      const host = anomalyInstance(change);
      if (host !== null) await g.hostEvidence(host, change, now);
      else await g.roundEvidence(PATTERNS.result, change, now, outsideMaintenance, bySlowest);
      break;
    }
    case 'monitoring-blind':
      if (change.state === 'ALARM')
        await g.roundEvidence(PATTERNS.notChecked, change, now, outsideMaintenance);
      else if (change.state === 'INSUFFICIENT_DATA') await g.dispatchLog(recentStart, now);
      break;
    case 'dispatch-failing':
      if (change.state === 'ALARM') await g.dispatchLog(recentStart, now);
      break;
    case 'dead-letter':
      if (change.state === 'ALARM') await g.deadLetterEvidence(change.dimensions.QueueName);
      break;
  }
  return g.evidence;
}
