/**
 * Reads the records the collector and dispatch write into the central log
 * group (functions/logs/records.ts) back into what a notification shows.
 *
 * A record is host output passed on (whoever is root on a host controls its
 * document), and anyone allowed to write to the log group can add lines: every
 * line is read as untrusted. A result record is checked against the result
 * schema again (common/result-schema.ts) after the collector's own keys are
 * set aside; a line that does not read is kept as a problem, never thrown.
 * Strings are bounded here; they are escaped where they are shown
 * (./safe-text.ts).
 *
 * The fields other engineers are adding (issue 10) are read by name and may be
 * absent: `tunnel` at the top level ({ state, source, detail, ... }) and
 * `pathChange` per resource ({ previousHops, hops, firstDifferentHop } or
 * null). Anything of another shape is ignored.
 */
import { checkResultDocument, type ResultDocument } from '../../common/result-schema.ts';
import type { buildDispatchRecord } from '../logs/records.ts';

/** The `record` kinds of the central log group: the collector's and dispatch's. */
export const RECORD_KINDS = ['result', 'failure', 'blind', 'misconfigured', 'dispatch-failed'] as const;
export type RecordKind = (typeof RECORD_KINDS)[number];
// Dispatch's kinds are written in records.ts: a new one must be added here too.
type DispatchKind = Parameters<typeof buildDispatchRecord>[0];
const dispatchKindsListed: [Exclude<DispatchKind, RecordKind>] extends [never] ? true : never = true;
void dispatchKindsListed;

/** Keys the collector adds around a document (records.ts identity and notes). */
const COLLECTOR_KEYS = [
  'record',
  'recordId',
  'instanceId',
  'commandId',
  'roundId',
  'status',
  'resourcesNotSent',
  'resourcesDuplicated',
  'resourcesMissing',
  'maintenance',
] as const;

/** Stream names are instance ids (the collector's and dispatch's writers); anything else is not a host. */
export const INSTANCE_STREAM = /^(i|mi)-[0-9a-f]{8,17}$/;
/** Dispatch's round ids (`20261126T171112Z-04cddcfb`); kept loose, only ordered and shown. */
const ROUND_ID = /^[A-Za-z0-9._:-]{1,64}$/;
/** What is kept of any string from a record before it is escaped and clipped for display. */
const KEEP_CHARS = 2_000;

export interface TunnelNote {
  state: string | null;
  source: string | null;
  detail: string | null;
  /** Other scalar fields (reconnects, bytes, since), at most five, as `key`, `value`. */
  extras: [string, string][];
}

export interface PathChangeNote {
  target: string;
  firstDifferentHop: number | null;
  previousHops: (string | null)[];
  hops: (string | null)[];
}

export interface HostRecord {
  instanceId: string;
  /** The event's timestamp, epoch ms. */
  at: number;
  kind: RecordKind;
  roundId: string | null;
  hostname: string | null;
  /** A result record's document, as the schema reads it; null for other kinds or when it does not read. */
  doc: ResultDocument | null;
  tunnel: TunnelNote | null;
  pathChanges: PathChangeNote[];
  status: string | null;
  /** The error or reason a failure, blind, misconfigured or dispatch-failed record gives. */
  message: string | null;
  stderr: string | null;
  /** Why the record could not be read in full (not JSON, not a known kind, schema problems). */
  problem: string | null;
  /**
   * The end of the maintenance window the host was in (the record's
   * `maintenance` with state `in`, functions/dispatch/maintenance.ts), as
   * written; null when it was not in one. Such a host is left out of the
   * flag alarms' notifications, as out of their metrics.
   */
  maintenanceUntil: string | null;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const keep = (v: unknown, max = KEEP_CHARS): string | null =>
  typeof v === 'string' ? v.slice(0, max) : typeof v === 'number' && Number.isFinite(v) ? String(v) : null;

function tunnelOf(value: unknown): TunnelNote | null {
  if (typeof value === 'string') return { state: keep(value, 40), source: null, detail: null, extras: [] };
  if (!isObject(value)) return null;
  const extras: [string, string][] = [];
  for (const [key, v] of Object.entries(value)) {
    if (extras.length >= 5) break;
    // `explains` is a judgement, not a reading of the tunnel: the record's cause line says it.
    if (key === 'state' || key === 'source' || key === 'detail' || key === 'explains') continue;
    if (!/^[A-Za-z][A-Za-z0-9_]{0,31}$/.test(key)) continue;
    const scalar = typeof v === 'boolean' ? String(v) : keep(v, 60);
    if (scalar !== null) extras.push([key, scalar]);
  }
  return { state: keep(value.state, 40), source: keep(value.source, 60), detail: keep(value.detail), extras };
}

function hopList(value: unknown): (string | null)[] {
  if (!Array.isArray(value)) return [];
  return value.slice(0, 64).map((h) => keep(h, 128));
}

function pathChangesOf(resources: unknown): PathChangeNote[] {
  if (!Array.isArray(resources)) return [];
  const notes: PathChangeNote[] = [];
  for (const r of resources.slice(0, 64)) {
    if (!isObject(r) || !isObject(r.pathChange)) continue;
    const change = r.pathChange;
    const first = change.firstDifferentHop;
    notes.push({
      target: keep(r.target, 512) ?? '?',
      firstDifferentHop: typeof first === 'number' && Number.isInteger(first) && first > 0 ? first : null,
      previousHops: hopList(change.previousHops),
      hops: hopList(change.hops),
    });
  }
  return notes;
}

function messageOf(record: Json): string | null {
  const error = isObject(record.error) ? record.error : null;
  const parts = [
    keep(record.message),
    keep(record.reason),
    error === null ? null : [keep(error.code, 40), keep(error.message)].filter((p) => p !== null).join(': '),
  ].filter((p): p is string => p !== null && p !== '');
  return parts.length === 0 ? null : parts.join(' / ').slice(0, KEEP_CHARS);
}

/**
 * One line of a host's stream, as a HostRecord; null for lines that are not
 * records (the seed line, MTR text) or not in an instance's stream.
 */
export function readHostRecord(stream: string, timestamp: number, line: string): HostRecord | null {
  if (!INSTANCE_STREAM.test(stream) || !line.startsWith('{')) return null;
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return null;
  }
  if (!isObject(value) || !(RECORD_KINDS as readonly string[]).includes(String(value.record))) return null;
  const kind = value.record as RecordKind;
  const roundId = typeof value.roundId === 'string' && ROUND_ID.test(value.roundId) ? value.roundId : null;
  const base: HostRecord = {
    instanceId: stream,
    at: timestamp,
    kind,
    roundId,
    hostname: keep(value.hostname, 255),
    doc: null,
    tunnel: tunnelOf(value.tunnel),
    pathChanges: pathChangesOf(value.resources),
    status: keep(value.status, 80),
    message: null,
    stderr: keep(value.stderr),
    problem: null,
    maintenanceUntil:
      isObject(value.maintenance) && value.maintenance.state === 'in'
        ? keep(value.maintenance.until, 40)
        : null,
  };
  if (kind !== 'result') {
    return { ...base, message: messageOf(value), problem: null };
  }
  const document: Json = { ...value };
  for (const key of COLLECTOR_KEYS) delete document[key];
  try {
    const doc = checkResultDocument(document, line);
    return { ...base, hostname: doc.hostname, doc };
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    return { ...base, problem: `the result record does not read as a result document: ${why.slice(0, 300)}` };
  }
}
