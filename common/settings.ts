/**
 * Validation of everything a user can set: CLI flags, config-file keys, SSM
 * parameters and EC2 tag overrides all pass through these functions, so a value
 * the agent would reject is rejected the same way before a command is sent.
 *
 * Resources are checked against a strict grammar (IP literal, DNS name, http(s)
 * URL) because they end up as process arguments on hosts: nothing that could be
 * read as an option or a shell word gets through.
 */
import { isIP } from 'node:net';
import { InvalidInputError } from './errors.ts';

export const LIMITS = {
  maxResources: 50,
  maxHostnameLength: 253,
  maxUrlLength: 512,
  count: { min: 1, max: 500 },
  intervalSec: { min: 0.1, max: 60 },
  latencyThresholdMs: { min: 0.1, max: 60_000 },
  lossThresholdPct: { min: 0, max: 100 },
  hops: { min: 1, max: 30 },
  concurrency: { min: 1, max: 51 },
  tcpPort: { min: 1, max: 65_535 },
} as const;

export const DEFAULTS = {
  count: 25,
  intervalSec: 1,
  latencyThresholdMs: 75,
  lossThresholdPct: 5,
  hops: 3,
  lossRule: 'persistent' as LossRule,
  tcpPort: 443,
  // Every path of a full round (50 resources and the gateway) at once: a round then
  // takes one mtr run whatever the count; 51 mtr processes cost ~2 MB and <1 CPU s.
  concurrency: 51,
  logDir: '/home/ubuntu/Connexa-Logs',
} as const;

export const LOSS_RULES = ['persistent', 'any-hop'] as const;

/** How loss is judged along a path (agent/analysis/analyse-path.ts). */
export type LossRule = (typeof LOSS_RULES)[number];

export type ResourceKind = 'ipv4' | 'ipv6' | 'hostname' | 'url';

export interface ResourceSpec {
  /** Exactly as the user wrote it (after trimming). */
  target: string;
  kind: ResourceKind;
  /** IP literal or DNS name to probe. */
  host: string;
  /** Port given in a URL, if any. */
  port: number | null;
  /** For URLs: the URL to time with an HTTP(S) request. */
  url: string | null;
}

const LABEL = /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/;

function isHostname(value: string): boolean {
  if (value.length === 0 || value.length > LIMITS.maxHostnameLength) return false;
  const name = value.endsWith('.') ? value.slice(0, -1) : value;
  const labels = name.split('.');
  if (!labels.every((label) => LABEL.test(label))) return false;
  // A name whose last label is all digits would be read as a (malformed) IPv4 address.
  const last = labels[labels.length - 1] ?? '';
  return !/^\d+$/.test(last);
}

/** Parses one resource; `field` names where it came from in error messages. */
export function parseResource(raw: string, field = '--resources'): ResourceSpec {
  const target = raw.trim();
  const allowed = 'an IPv4 or IPv6 address, a DNS host name, or an http(s):// URL';
  if (target === '') throw new InvalidInputError(field, raw, `empty item; each item must be ${allowed}`);
  if (target.length > LIMITS.maxUrlLength) {
    throw new InvalidInputError(field, target, `at most ${LIMITS.maxUrlLength} characters; ${allowed}`);
  }
  if (isIP(target) === 4) return { target, kind: 'ipv4', host: target, port: null, url: null };
  if (isIP(target) === 6) return { target, kind: 'ipv6', host: target, port: null, url: null };
  if (/^https?:\/\//i.test(target)) return parseUrlResource(target, field, allowed);
  if (isHostname(target))
    return { target, kind: 'hostname', host: target.toLowerCase(), port: null, url: null };
  throw new InvalidInputError(field, target, allowed);
}

function parseUrlResource(target: string, field: string, allowed: string): ResourceSpec {
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    throw new InvalidInputError(field, target, allowed);
  }
  // Characters a URL parser would percent-encode are refused outright so that
  // what is probed is exactly what the user typed.
  if (/[\s"'`$;|&<>\\{}^]/.test(target) || url.username !== '' || url.password !== '') {
    throw new InvalidInputError(field, target, `${allowed}, without credentials, spaces or shell characters`);
  }
  const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  if (isIP(hostname) === 0 && !isHostname(hostname)) throw new InvalidInputError(field, target, allowed);
  const port = url.port === '' ? null : Number(url.port);
  return {
    target,
    kind: 'url',
    host: hostname.toLowerCase(),
    port,
    url: url.toString(),
  };
}

/** Parses a comma-separated list (or an array, from a config file) of resources. */
export function parseResourceList(value: unknown, field = '--resources'): ResourceSpec[] {
  const items = typeof value === 'string' ? value.split(',') : value;
  if (!Array.isArray(items) || !items.every((item) => typeof item === 'string')) {
    throw new InvalidInputError(
      field,
      value,
      'a comma-separated list of resources (or a JSON array of strings)',
    );
  }
  if (items.length === 0 || (items.length === 1 && items[0]?.trim() === '')) {
    throw new InvalidInputError(field, value, 'at least one resource');
  }
  if (items.length > LIMITS.maxResources) {
    throw new InvalidInputError(
      field,
      `${items.length} items`,
      `at most ${LIMITS.maxResources} resources per host and round`,
    );
  }
  const specs = items.map((item) => parseResource(item, field));
  const seen = new Set<string>();
  for (const spec of specs) {
    if (seen.has(spec.target))
      throw new InvalidInputError(field, spec.target, 'each resource once (duplicate)');
    seen.add(spec.target);
  }
  return specs;
}

function parseNumber(
  field: string,
  value: unknown,
  integer: boolean,
  range: { min: number; max: number },
): number {
  const allowed = `${integer ? 'an integer' : 'a number'} from ${range.min} to ${range.max}`;
  let n: number;
  if (typeof value === 'number') n = value;
  else if (typeof value === 'string' && /^\s*[+]?(\d+(\.\d*)?|\.\d+)\s*$/.test(value)) n = Number(value);
  else throw new InvalidInputError(field, value, allowed);
  if (!Number.isFinite(n) || n < range.min || n > range.max || (integer && !Number.isInteger(n))) {
    throw new InvalidInputError(field, value, allowed);
  }
  return n;
}

export const parseCount = (v: unknown, field = '--count') => parseNumber(field, v, true, LIMITS.count);
export const parseIntervalSec = (v: unknown, field = '--interval') =>
  parseNumber(field, v, false, LIMITS.intervalSec);
export const parseLatencyThresholdMs = (v: unknown, field = '--latency-threshold') =>
  parseNumber(field, v, false, LIMITS.latencyThresholdMs);
export const parseLossThresholdPct = (v: unknown, field = '--loss-threshold') =>
  parseNumber(field, v, false, LIMITS.lossThresholdPct);
export const parseHops = (v: unknown, field = '--hops') => parseNumber(field, v, true, LIMITS.hops);
export const parseConcurrency = (v: unknown, field = '--concurrency') =>
  parseNumber(field, v, true, LIMITS.concurrency);
export const parseTcpPort = (v: unknown, field = '--tcp-port') => parseNumber(field, v, true, LIMITS.tcpPort);

export function parseLossRule(value: unknown, field = '--loss-rule'): LossRule {
  if (value === 'persistent' || value === 'any-hop') return value;
  throw new InvalidInputError(field, value, `one of ${LOSS_RULES.join(', ')}`);
}

export function parseIpAddress(value: unknown, field = '--gateway-ip'): string {
  if (typeof value === 'string' && isIP(value.trim()) !== 0) return value.trim();
  throw new InvalidInputError(field, value, 'an IPv4 or IPv6 address');
}

export function parsePath(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.trim() === '' || value.includes('\0') || value.length > 4096) {
    throw new InvalidInputError(field, value, 'a non-empty file system path');
  }
  return value;
}
