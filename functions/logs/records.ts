/**
 * The log records written per host and round. Every record is one JSON line
 * with `record` naming its kind (Logs Insights filters on it) except the seed
 * line, which is the old tool's JSON line byte for byte so that the old metric
 * filter `{ ($.LATENCY_FLAG = "1") || ($.LOSS_FLAG = "1") }` keeps matching
 * (with one key added last for a host in a maintenance window, which the
 * stack's filter leaves out: common/stream-seed-line.ts),
 * and the MTR text reports, which keep the old files' layout. Kinds: `result`,
 * `path-change` (one per resource whose path changed, beside the result),
 * `failure`, `blind`, `misconfigured`, `dispatch-failed`.
 *
 * A host's output is untrusted: its document is read through the result
 * schema (common/result-schema.ts), JSON lines carry no control character raw
 * (stringifyPrintable) and MTR text shows them escaped (common/printable.ts).
 */
import { type ErrorInfo, excerpt, toErrorInfo } from '../../common/errors.ts';
import { summariseResources } from '../../common/flag-rule.ts';
import { roundMtrTexts } from '../../common/mtr-report-text.ts';
import { stringifyPrintable } from '../../common/printable.ts';
import type { SEED_KEYS } from '../../common/result-contract.ts';
import {
  type DocumentIssue,
  parseResultDocument,
  type ResourceResult,
  type ResultDocument,
  ResultDocumentError,
  type TunnelResult,
} from '../../common/result-schema.ts';
import { type SEED_MAINTENANCE_KEY, serializeStreamSeedLine } from '../../common/stream-seed-line.ts';
import { tunnelCause, tunnelIsDown } from '../../common/tunnel-rule.ts';
import { inMaintenance, type MaintenanceNote } from '../dispatch/maintenance.ts';
import type { HostMeasurement } from '../metrics/emit-metrics.ts';
import type { LogEvent } from './log-writer.ts';
import { matchSentResources, type ResourceMatch } from './sent-resources.ts';

/** SSM returns up to 8,000 characters of stderr; a record keeps the start, where the cause usually is. */
export const STDERR_EXCERPT_CHARS = 1000;
const STDOUT_EXCERPT_CHARS = 500;

export interface InvocationOutput {
  instanceId: string;
  commandId: string;
  roundId: string;
  /** The most specific terminal status SSM gave (StatusDetails when finer than Status). */
  status: string;
  responseCode: number | null;
  stdout: string;
  stderr: string;
  /**
   * The targets this host was sent (sentResourcesOf in ./sent-resources.ts);
   * null when the job does not say. Metrics are made only of these.
   */
  sentResources: readonly string[] | null;
  /** Dispatch's maintenance decision for this host (collect job `maintenance`); null or absent: none. */
  maintenance?: MaintenanceNote | null;
}

export type HostOutcome =
  | { kind: 'checked'; measurement: HostMeasurement }
  | { kind: 'failed'; status: string; error: ErrorInfo };

/** The MTR text reports of a flagged round, as the agent wrote them into its files. */
function mtrReports(doc: ResultDocument): string[] {
  const texts = roundMtrTexts(doc.mtrId, doc.resources, doc.gateway);
  return [texts.resource, texts.gateway].filter((text): text is string => text !== null);
}

/**
 * What the metrics say about a checked host, derived by the flag rule
 * (common/flag-rule.ts) from the resources it was sent and reported (see
 * matchSentResources), so HostFlagged, HostLossPct and WorstLossPct agree
 * with ResourceLossPct for the same resources: an unmeasured resource is
 * 100 % loss and flagged in all of them. Resources carry the target as sent.
 * `tunnel` (the document's) gives TunnelsDown; none in older documents.
 */
export function measurementOf(
  instanceId: string,
  measured: readonly { target: string; result: ResourceResult }[],
  tunnel: TunnelResult | null = null,
): HostMeasurement {
  const summary = summariseResources(measured.map((m) => m.result));
  return {
    instanceId,
    flagged: summary.flagged > 0,
    worstLatencyMs: summary.worstLatencyMs,
    worstLossPct: summary.worstLossPct,
    resources: measured.map(({ target, result }) => ({
      target,
      latencyMs: result.latencyMs,
      lossPct: result.lossPct,
      jitterMs: result.jitterMs,
    })),
    ...(tunnel === null ? {} : { tunnelDown: tunnelIsDown(tunnel.state) }),
    pathChanges: measured.filter(({ result }) => result.pathChange != null).length,
    worstJitterMs: summary.worstJitterMs,
  };
}

/** The record's `cause`: the tunnel, when the document says it explains the flags. */
function causeOf(doc: ResultDocument) {
  return doc.tunnel?.explains === true ? { cause: tunnelCause(doc.tunnel) } : {};
}

/** `a > b > * > d`: a path as one line a log query can show (`*` a silent hop; `?` not known). */
function pathText(hops: readonly (string | null)[] | null): string {
  return hops === null ? '?' : hops.map((hop) => hop ?? '*').join(' > ');
}

/**
 * One `path-change` record per resource sent whose path changed, so a Logs
 * Insights query (the dashboard's) lists them without unpacking the result
 * record's resources. Written before the result record: a result record found
 * in the stream means these were stored too.
 */
function pathChangeRecords(
  o: InvocationOutput,
  measured: readonly { target: string; result: ResourceResult }[],
): string[] {
  return measured.flatMap(({ target, result }) => {
    const change = result.pathChange;
    if (change == null) return [];
    return [
      stringifyPrintable({
        record: 'path-change',
        instanceId: o.instanceId,
        commandId: o.commandId,
        roundId: o.roundId,
        target,
        address: result.address,
        firstDifferentHop: change.firstDifferentHop,
        previousPath: pathText(change.previousHops),
        path: pathText(change.hops),
      }),
    ];
  });
}

function identity(o: InvocationOutput, recordId: string) {
  return {
    recordId,
    instanceId: o.instanceId,
    commandId: o.commandId,
    roundId: o.roundId,
    status: o.status,
  };
}

/**
 * The `maintenance` note of a host's record (only when dispatch made one): in
 * a window, or a MaintenanceUntil tag whose time has passed, with what to do.
 */
export function maintenanceFields(note: MaintenanceNote | null | undefined) {
  if (note === null || note === undefined) return {};
  return {
    maintenance:
      note.state === 'in'
        ? {
            ...note,
            message: `in a maintenance window until ${note.until} (${note.source === 'tag' ? 'MaintenanceUntil tag' : 'maintenanceUntil stage param'}): measured and recorded, kept out of the flag alarms`,
          }
        : {
            ...note,
            message: `the MaintenanceUntil tag's window ended at ${note.until}: the host is alarmed as usual; remove the tag`,
          },
  };
}

/** What the collector notes in a result record about the resources reported (only what is not empty). */
function resourceNotes(match: ResourceMatch) {
  return {
    ...(match.notSent.length > 0 ? { resourcesNotSent: match.notSent } : {}),
    ...(match.duplicated.length > 0 ? { resourcesDuplicated: match.duplicated } : {}),
    ...(match.missing.length > 0 ? { resourcesMissing: match.missing } : {}),
  };
}

/**
 * Keys the collector writes into a host's records. A document can never
 * supply one: the schema keeps only the keys it names (common/result-schema.ts),
 * and none of them is here, which this declaration checks at compile time. So
 * a document cannot relabel its record (`"record": "blind"`), claim another
 * identity, or add a second `LATENCY_FLAG` for the old metric filter to count.
 */
type CollectorKey =
  | 'record'
  | keyof ReturnType<typeof identity>
  | 'resourcesNotSent'
  | 'resourcesDuplicated'
  | 'resourcesMissing'
  | 'maintenance'
  | 'cause'
  | (typeof SEED_KEYS)[number]
  | typeof SEED_MAINTENANCE_KEY;
const documentKeysAreNotCollectorKeys: [Extract<keyof ResultDocument, CollectorKey>] extends [never]
  ? true
  : never = true;
void documentKeysAreNotCollectorKeys;

/**
 * Turns one terminal invocation into its log events and what it means for the
 * metrics. A host counts as checked only when SSM says Success and stdout holds
 * a valid result document whose outcome is `completed`; anything else is a
 * failure record carrying the status, the response code, the stderr excerpt
 * and why the document could not be used.
 *
 * Never throws: whatever one host printed, it yields that host's records
 * only (a fault here becomes the host's failure record, E_INTERNAL), so it
 * cannot fail the collect job of the other hosts.
 */
export function buildInvocationRecords(
  o: InvocationOutput,
  recordId: string,
  at: number,
): { events: LogEvent[]; outcome: HostOutcome } {
  try {
    return buildRecords(o, recordId, at);
  } catch (fault) {
    const error: ErrorInfo = {
      code: 'E_INTERNAL',
      message: `the collector could not build this host's records: ${excerpt(toErrorInfo(fault).message, 300)}`,
    };
    const failure = {
      record: 'failure',
      ...identity(o, recordId),
      responseCode: o.responseCode,
      error,
      ...maintenanceFields(o.maintenance),
    };
    return {
      events: stamp([stringifyPrintable(failure)], at),
      outcome: { kind: 'failed', status: o.status, error },
    };
  }
}

function buildRecords(
  o: InvocationOutput,
  recordId: string,
  at: number,
): { events: LogEvent[]; outcome: HostOutcome } {
  let doc: ResultDocument | null = null;
  let parseError: ErrorInfo | null = null;
  let issues: DocumentIssue[] = [];
  try {
    doc = parseResultDocument(o.stdout);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    parseError = { code: error instanceof ResultDocumentError ? error.code : 'E_INTERNAL', message };
    if (error instanceof ResultDocumentError) issues = error.issues;
  }

  const messages: string[] = [];
  // The agent measured every path but could not write its files (outcome
  // environment with a seed record, e.g. a full disk; SSM status Failed, exit 3):
  // the measurements and flags stand, and the record carries the file error.
  const measuredWithFileError = doc !== null && doc.outcome === 'environment' && doc.seed !== null;
  if (doc !== null && ((o.status === 'Success' && doc.outcome === 'completed') || measuredWithFileError)) {
    const match = matchSentResources(doc.resources, o.sentResources);
    // In a window the line says so, and the legacy metric filter leaves it out (common/metric-names.ts).
    const windowEnd = o.maintenance != null && inMaintenance(o.maintenance) ? o.maintenance.until : null;
    if (doc.seed !== null) messages.push(serializeStreamSeedLine(doc.seed, windowEnd));
    messages.push(...mtrReports(doc));
    messages.push(...pathChangeRecords(o, match.measured));
    messages.push(
      stringifyPrintable({
        record: 'result',
        ...doc,
        ...identity(o, recordId),
        ...resourceNotes(match),
        ...maintenanceFields(o.maintenance),
        ...causeOf(doc),
      }),
    );
    return {
      events: stamp(messages, at),
      outcome: { kind: 'checked', measurement: measurementOf(o.instanceId, match.measured, doc.tunnel) },
    };
  }

  const error: ErrorInfo =
    parseError ??
    doc?.error ??
    (doc !== null && doc.outcome !== 'completed'
      ? { code: 'E_INTERNAL', message: `agent outcome ${doc.outcome}` }
      : { code: 'E_PROCESS', message: `SSM invocation ended ${o.status}` });
  const failure = {
    record: 'failure',
    ...identity(o, recordId),
    responseCode: o.responseCode,
    error,
    ...(issues.length > 0 ? { issues } : {}),
    outcome: doc?.outcome ?? null,
    hostname: doc?.hostname ?? null,
    agentVersion: doc?.agentVersion ?? null,
    stderr: excerpt(o.stderr, STDERR_EXCERPT_CHARS),
    stdoutExcerpt: doc === null ? excerpt(o.stdout, STDOUT_EXCERPT_CHARS) : undefined,
    ...maintenanceFields(o.maintenance),
  };
  messages.push(stringifyPrintable(failure));
  return { events: stamp(messages, at), outcome: { kind: 'failed', status: o.status, error } };
}

/**
 * What a record line found in a host's stream means for the metrics: a result
 * record is the host checked (its measurement read back from the record),
 * anything else a failure. A line that does not read back as a result counts
 * as a failure too.
 */
export function outcomeOfRecordLine(
  instanceId: string,
  line: string,
  sentResources: readonly string[] | null = null,
): HostOutcome {
  const failed: HostOutcome = {
    kind: 'failed',
    status: 'Recorded',
    error: { code: 'E_RESULT_DOCUMENT', message: 'the record found is not a result record' },
  };
  if (!line.startsWith('{"record":"result"')) return failed;
  try {
    const {
      record: _r,
      recordId: _id,
      instanceId: _i,
      commandId: _c,
      roundId: _round,
      status: _s,
      ...doc
    } = JSON.parse(line) as Record<string, unknown>;
    const read = parseResultDocument(JSON.stringify(doc));
    return {
      kind: 'checked',
      measurement: measurementOf(
        instanceId,
        matchSentResources(read.resources, sentResources).measured,
        read.tunnel,
      ),
    };
  } catch {
    return failed;
  }
}

/**
 * A host whose invocation did not finish before the command's deadline;
 * `lastError` is the last failure reading it (e.g. GetCommandInvocation denied).
 */
export function buildDeadlineRecord(
  o: {
    instanceId: string;
    commandId: string;
    roundId: string;
    lastStatus: string;
    deadline: number;
    lastError?: string;
    maintenance?: MaintenanceNote | null;
  },
  recordId: string,
  at: number,
): LogEvent[] {
  return stamp(
    [
      stringifyPrintable({
        record: 'failure',
        recordId,
        instanceId: o.instanceId,
        commandId: o.commandId,
        roundId: o.roundId,
        status: 'CollectorDeadline',
        lastStatus: o.lastStatus,
        deadline: new Date(o.deadline).toISOString(),
        error: {
          code: 'E_PROCESS_TIMEOUT',
          message: `no terminal result by the collection deadline (last SSM status ${o.lastStatus}${o.lastError === undefined ? '' : `; last error ${o.lastError}`})`,
        },
        ...(o.lastError === undefined ? {} : { lastError: o.lastError }),
        ...maintenanceFields(o.maintenance),
      }),
    ],
    at,
  );
}

/** The id in a host's one dispatch-side record of a round, looked up before writing it again. */
export function dispatchRecordId(roundId: string, instanceId: string): string {
  return `dispatch/${roundId}/${instanceId}`;
}

/** Dispatch-side records: blind, misconfigured, or SendCommand / enqueue failed. `record` is the kind's alone. */
export function buildDispatchRecord(
  kind: 'blind' | 'misconfigured' | 'dispatch-failed',
  fields: Record<string, unknown> & { instanceId: string; roundId: string; record?: never },
  at: number,
): LogEvent[] {
  return stamp(
    [
      stringifyPrintable({
        record: kind,
        ...fields,
        recordId: dispatchRecordId(fields.roundId, fields.instanceId),
      }),
    ],
    at,
  );
}

/** One millisecond apart so the reading order is the writing order. */
function stamp(messages: string[], at: number): LogEvent[] {
  return messages.map((message, i) => ({ timestamp: at + i, message }));
}
