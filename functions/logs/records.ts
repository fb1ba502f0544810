/**
 * The log records written per host and round. Every record is one JSON line
 * with `record` naming its kind (Logs Insights filters on it) except the seed
 * line, which is the old tool's JSON line byte for byte so that the old metric
 * filter `{ ($.LATENCY_FLAG = "1") || ($.LOSS_FLAG = "1") }` keeps matching,
 * and the MTR text reports, which keep the old files' layout.
 */
import { type ErrorInfo, excerpt } from '../../common/errors.ts';
import { summariseResources } from '../../common/flag-rule.ts';
import { roundMtrTexts } from '../../common/mtr-report-text.ts';
import { parseResultDocument, type ResultDocument, ResultDocumentError } from '../../common/result-schema.ts';
import { serializeSeedRecord } from '../../common/seed-line.ts';
import type { HostMeasurement } from '../metrics/emit-metrics.ts';
import type { LogEvent } from './log-writer.ts';

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
 * What the metrics say about a checked host, derived from its resources by the
 * flag rule (common/flag-rule.ts), so HostFlagged, HostLossPct and WorstLossPct
 * agree with ResourceLossPct for the same resources: an unmeasured resource is
 * 100 % loss and flagged in all of them.
 */
export function measurementOf(instanceId: string, doc: ResultDocument): HostMeasurement {
  const summary = summariseResources(doc.resources);
  return {
    instanceId,
    flagged: summary.flagged > 0,
    worstLatencyMs: summary.worstLatencyMs,
    worstLossPct: summary.worstLossPct,
    resources: doc.resources.map((r) => ({ target: r.target, latencyMs: r.latencyMs, lossPct: r.lossPct })),
  };
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
 * Turns one terminal invocation into its log events and what it means for the
 * metrics. A host counts as checked only when SSM says Success and stdout holds
 * a valid result document whose outcome is `completed`; anything else is a
 * failure record carrying the status, the response code, the stderr excerpt
 * and why the document could not be used.
 */
export function buildInvocationRecords(
  o: InvocationOutput,
  recordId: string,
  at: number,
): { events: LogEvent[]; outcome: HostOutcome } {
  let doc: ResultDocument | null = null;
  let parseError: ErrorInfo | null = null;
  try {
    doc = parseResultDocument(o.stdout);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    parseError = { code: error instanceof ResultDocumentError ? error.code : 'E_INTERNAL', message };
  }

  const messages: string[] = [];
  if (doc !== null && o.status === 'Success' && doc.outcome === 'completed') {
    if (doc.seed !== null) messages.push(serializeSeedRecord(doc.seed));
    messages.push(...mtrReports(doc));
    messages.push(JSON.stringify({ record: 'result', ...doc, ...identity(o, recordId) }));
    return {
      events: stamp(messages, at),
      outcome: { kind: 'checked', measurement: measurementOf(o.instanceId, doc) },
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
    outcome: doc?.outcome ?? null,
    hostname: doc?.hostname ?? null,
    agentVersion: doc?.agentVersion ?? null,
    stderr: excerpt(o.stderr, STDERR_EXCERPT_CHARS),
    stdoutExcerpt: doc === null ? excerpt(o.stdout, STDOUT_EXCERPT_CHARS) : undefined,
  };
  messages.push(JSON.stringify(failure));
  return { events: stamp(messages, at), outcome: { kind: 'failed', status: o.status, error } };
}

/** A host whose invocation did not finish before the command's deadline. */
export function buildDeadlineRecord(
  o: { instanceId: string; commandId: string; roundId: string; lastStatus: string; deadline: number },
  recordId: string,
  at: number,
): LogEvent[] {
  return stamp(
    [
      JSON.stringify({
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
          message: `no terminal result by the collection deadline (last SSM status ${o.lastStatus})`,
        },
      }),
    ],
    at,
  );
}

/** Dispatch-side records: blind, misconfigured, or SendCommand / enqueue failed. */
export function buildDispatchRecord(
  kind: 'blind' | 'misconfigured' | 'dispatch-failed',
  fields: Record<string, unknown> & { instanceId: string; roundId: string },
  at: number,
): LogEvent[] {
  return stamp([JSON.stringify({ record: kind, ...fields })], at);
}

/** One millisecond apart so the reading order is the writing order. */
function stamp(messages: string[], at: number): LogEvent[] {
  return messages.map((message, i) => ({ timestamp: at + i, message }));
}
