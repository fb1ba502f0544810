/**
 * Reads `mtr --json` output into hops.
 *
 * Two dialects exist on the hosts we target (see ui/report.c json_close):
 * - 0.94 and later build the document with jansson: `count`, `tos`, `tests` and
 *   the integer fields are JSON integers, times and `Loss%` are reals printed
 *   with 5 significant digits.
 * - 0.92/0.93 print it by hand: `"count": "1"`, `"tos": "0x0"`, `"tests": "10"`
 *   are strings, reals carry two decimals, and host names are not escaped.
 * In every version `count` is `at + 1`, i.e. the 1-based TTL, and mtr lists
 * only hops between its first and last TTL, so numbers can be skipped when
 * `--first-ttl` is used; we keep the number mtr printed.
 */
import { excerpt, MonitorError } from '../../common/errors.ts';
import type { Hop } from '../../common/result-schema.ts';

export interface MtrReport {
  dst: string;
  tests: number | null;
  hops: Hop[];
}

const EXCERPT_CHARS = 200;
const NUMBER_TEXT = /^-?\d+(\.\d+)?$/;

export function parseMtrJson(text: string): MtrReport {
  const trimmed = text.trim();
  if (trimmed === '') throw outputError('mtr printed no JSON (output is empty)', text);
  let document: unknown;
  try {
    document = JSON.parse(trimmed);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw outputError(`mtr output is not valid JSON (${reason})`, text);
  }
  if (!isRecord(document)) throw outputError('mtr JSON is not an object', text);
  const report = document.report;
  if (!isRecord(report)) throw outputError('mtr JSON has no "report" object', text);
  const header = report.mtr;
  if (!isRecord(header)) throw outputError('mtr JSON has no "report.mtr" object', text);
  const dst = header.dst;
  if (typeof dst !== 'string' || dst === '') {
    throw outputError('mtr JSON "report.mtr.dst" is missing or not a non-empty string', text);
  }
  const tests = readOptionalNumber(header.tests, 'report.mtr.tests', text);
  if (tests !== null && !isCount(tests)) {
    throw outputError(`mtr JSON "report.mtr.tests" ${tests} is not a positive integer`, text);
  }
  const hubs = report.hubs;
  if (!Array.isArray(hubs)) throw outputError('mtr JSON "report.hubs" is missing or not an array', text);
  const hops: Hop[] = [];
  hubs.forEach((hub: unknown, index: number) => {
    const hop = readHop(hub, index, text);
    const previous = hops[hops.length - 1];
    if (previous !== undefined && hop.ttl <= previous.ttl) {
      throw outputError(
        `mtr JSON hop ${index + 1} has count ${hop.ttl}, not above the previous count ${previous.ttl}`,
        text,
      );
    }
    hops.push(hop);
  });
  return { dst, tests, hops };
}

function readHop(hub: unknown, index: number, text: string): Hop {
  const where = `report.hubs[${index}]`;
  if (!isRecord(hub)) throw outputError(`mtr JSON ${where} is not an object`, text);
  const ttl = readOptionalNumber(hub.count, `${where}.count`, text);
  if (ttl === null || !isCount(ttl)) {
    throw outputError(`mtr JSON ${where}.count ${describe(hub.count)} is not a positive integer`, text);
  }
  const host = hub.host;
  if (typeof host !== 'string' || host === '') {
    throw outputError(`mtr JSON ${where}.host ${describe(host)} is not a non-empty string`, text);
  }
  const lossPct = readOptionalNumber(hub['Loss%'], `${where}.Loss%`, text);
  if (lossPct === null) {
    throw outputError(`mtr JSON ${where} has no "Loss%" (mtr must run with the L field)`, text);
  }
  if (lossPct < 0 || lossPct > 100) {
    throw outputError(`mtr JSON ${where}.Loss% ${lossPct} is outside 0..100`, text);
  }
  const sent = readOptionalNumber(hub.Snt, `${where}.Snt`, text);
  if (sent !== null && (!Number.isInteger(sent) || sent < 0)) {
    throw outputError(`mtr JSON ${where}.Snt ${sent} is not a whole number`, text);
  }
  // mtr prints 0 for the times of a hop that never replied; null says "no
  // measurement" instead of claiming a 0 ms round trip.
  const silent = lossPct >= 100;
  const time = (key: string): number | null => {
    const value = readOptionalNumber(hub[key], `${where}.${key}`, text);
    if (value !== null && value < 0) throw outputError(`mtr JSON ${where}.${key} ${value} is negative`, text);
    return silent ? null : value;
  };
  return {
    ttl,
    host: host === '???' ? null : host,
    lossPct,
    sent,
    lastMs: time('Last'),
    avgMs: time('Avg'),
    bestMs: time('Best'),
    worstMs: time('Wrst'),
    stdevMs: time('StDev'),
  };
}

/** Numbers arrive as JSON numbers (0.94+) or as decimal strings (0.92/0.93). */
function readOptionalNumber(value: unknown, where: string, text: string): number | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && NUMBER_TEXT.test(value.trim())) return Number(value.trim());
  throw outputError(`mtr JSON ${where} ${describe(value)} is not a number`, text);
}

function isCount(value: number): boolean {
  return Number.isInteger(value) && value >= 1;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === undefined) return '(missing)';
  return JSON.stringify(value) ?? String(value);
}

function outputError(message: string, text: string): MonitorError {
  const shown = excerpt(text.replace(/\s+/g, ' '), EXCERPT_CHARS);
  return new MonitorError('E_MTR_OUTPUT', `${message}; output: ${shown === '' ? '(empty)' : shown}`);
}
