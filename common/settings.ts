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
import { InvalidInputError, WrittenValue } from './errors.ts';

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
  /** 0 turns the jitter flag off (the default); a threshold of 0 ms would flag every path. */
  jitterThresholdMs: { min: 0, max: 60_000 },
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
  /** `--baseline-flag`: off, so only the fixed threshold flags latency unless a user opts in. */
  baselineFlag: false,
  /** Off: jitter is reported, never flagged, unless a threshold is set. */
  jitterThresholdMs: 0,
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

/**
 * Characters a resource may contain (a regular-expression class body): what IP
 * literals, DNS names and http(s) URLs without credentials, spaces, quotes or
 * shell characters need. The SSM document's Resources allowedPattern is this
 * class plus the comma that separates items (common/ssm-parameters.ts).
 */
export const RESOURCE_CHARS = 'A-Za-z0-9.:/\\[\\]%_~?=+\\-';
const RESOURCE_CHARS_SHOWN = '. : / [ ] % _ ~ ? = + -';

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
  // Only the characters the SSM document's Resources pattern admits: anything a
  // URL parser would percent-encode, a shell would read or a fragment is refused
  // outright, so that what is probed is exactly what the user typed and no
  // SendCommand is refused for it.
  if (!new RegExp(`^[${RESOURCE_CHARS}]+$`).test(target) || url.username !== '' || url.password !== '') {
    throw new InvalidInputError(
      field,
      target,
      `${allowed}, without credentials, spaces, fragments or shell characters (letters, digits and ${RESOURCE_CHARS_SHOWN} only)`,
    );
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

/**
 * The one grammar for every numeric setting, wherever it comes from (flag,
 * config file, tag, stage parameter, SSM document parameter): unsigned decimal
 * digits, optionally a point and at most NUMBER_FRACTION_DIGITS more digits. No
 * sign, exponent, whitespace, bare point or hexadecimal. The SSM document's
 * allowedPattern for each number is generated from it (numberPattern), so a
 * value one accepts the other accepts; the range is the validator's part (a
 * regular expression cannot say 0.1 to 60 readably).
 */
export const NUMBER_FRACTION_DIGITS = 3;

export type NumberKind = 'integer' | 'decimal';

/** Which numeric settings are whole numbers; the ranges are LIMITS'. */
export const NUMBER_KINDS = {
  count: 'integer',
  intervalSec: 'decimal',
  latencyThresholdMs: 'decimal',
  lossThresholdPct: 'decimal',
  hops: 'integer',
  concurrency: 'integer',
  tcpPort: 'integer',
  jitterThresholdMs: 'decimal',
} as const satisfies Record<string, NumberKind>;

/**
 * The grammar as an anchored regular expression (JavaScript and Java agree on
 * this subset) for values up to `max`: as many integer digits as `max` has.
 */
export function numberPattern(kind: NumberKind, max: number): string {
  const digits = String(Math.trunc(max)).length;
  const integer = `[0-9]{1,${digits}}`;
  return kind === 'integer' ? `^${integer}$` : `^${integer}(\\.[0-9]{1,${NUMBER_FRACTION_DIGITS}})?$`;
}

/** Longest text numberPattern admits for `max`. */
export function numberMaxLength(kind: NumberKind, max: number): number {
  const digits = String(Math.trunc(max)).length;
  return kind === 'integer' ? digits : digits + 1 + NUMBER_FRACTION_DIGITS;
}

/** A number as the grammar writes it: no exponent, no trailing zeros, at most NUMBER_FRACTION_DIGITS decimals. */
export function formatNumber(n: number): string {
  return String(Number(n.toFixed(NUMBER_FRACTION_DIGITS)));
}

/** What the grammar and `range` allow, as every refusal of a number says it. */
export function numberAllowed(kind: NumberKind, range: { min: number; max: number }): string {
  return kind === 'integer'
    ? `an integer from ${range.min} to ${range.max}, in digits (no sign, exponent, point or spaces)`
    : `a number from ${range.min} to ${range.max} with at most ${NUMBER_FRACTION_DIGITS} decimals, in digits (no sign, exponent or spaces)`;
}

/**
 * The text a number is judged by. A string is its own text (a flag, a tag, an
 * environment variable, a config-file string). A number from a JSON config
 * file arrives as a WrittenValue holding the text written in the file, so
 * `"count": 1e2` is refused as `--count 1e2` is. A bare JavaScript number
 * (a value built in code or read from YAML, whose text is gone) is judged by
 * how JavaScript writes it: -0 as "-0", 1e21 as "1e+21", Infinity as
 * "Infinity", all refused. Null for anything else.
 */
function numberText(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (value instanceof WrittenValue) return typeof value.value === 'number' ? value.text : null;
  if (typeof value === 'number') return Object.is(value, -0) ? '-0' : String(value);
  return null;
}

/**
 * Parses a number in the grammar above and checks its range, whatever the
 * source (numberText). Throws InvalidInputError naming the field, the value
 * as it was written and what is allowed (numberAllowed).
 */
export function parseBoundedNumber(
  field: string,
  value: unknown,
  kind: NumberKind,
  range: { min: number; max: number },
): number {
  const text = numberText(value);
  const n =
    text !== null && new RegExp(numberPattern(kind, range.max)).test(text) ? Number(text) : Number.NaN;
  if (!(n >= range.min && n <= range.max) || (kind === 'integer' && !Number.isInteger(n))) {
    throw new InvalidInputError(field, value, numberAllowed(kind, range));
  }
  return n;
}

/** Parses the numeric setting `name` (grammar above, range from LIMITS). */
function parseSetting(name: keyof typeof NUMBER_KINDS, field: string, value: unknown): number {
  return parseBoundedNumber(field, value, NUMBER_KINDS[name], LIMITS[name]);
}

export const parseCount = (v: unknown, field = '--count') => parseSetting('count', field, v);
export const parseIntervalSec = (v: unknown, field = '--interval') => parseSetting('intervalSec', field, v);
export const parseLatencyThresholdMs = (v: unknown, field = '--latency-threshold') =>
  parseSetting('latencyThresholdMs', field, v);
export const parseLossThresholdPct = (v: unknown, field = '--loss-threshold') =>
  parseSetting('lossThresholdPct', field, v);
export const parseHops = (v: unknown, field = '--hops') => parseSetting('hops', field, v);
export const parseConcurrency = (v: unknown, field = '--concurrency') =>
  parseSetting('concurrency', field, v);
export const parseTcpPort = (v: unknown, field = '--tcp-port') => parseSetting('tcpPort', field, v);
/** Milliseconds of mean jitter above which a resource is flagged; 0 = off. */
export const parseJitterThresholdMs = (v: unknown, field = '--jitter-threshold') =>
  parseSetting('jitterThresholdMs', field, v);

export function parseLossRule(value: unknown, field = '--loss-rule'): LossRule {
  if (value === 'persistent' || value === 'any-hop') return value;
  throw new InvalidInputError(field, value, `one of ${LOSS_RULES.join(', ')}`);
}

/** The values of on/off settings (`--baseline-flag`), as flags, config keys, tags and SSM parameters write them. */
export const SWITCH_VALUES = ['on', 'off'] as const;

/** `--baseline-flag on|off`: flag a round far above its own baseline (agent/history/baseline.ts). */
export function parseBaselineFlag(value: unknown, field = '--baseline-flag'): boolean {
  if (value === 'on' || value === 'off') return value === 'on';
  throw new InvalidInputError(field, value, `one of ${SWITCH_VALUES.join(', ')}`);
}

/** An on/off setting as written in flags, tags and SSM parameters. */
export function formatSwitch(on: boolean): (typeof SWITCH_VALUES)[number] {
  return on ? 'on' : 'off';
}

/** As written: spaces around the address are refused, as for every setting. */
export function parseIpAddress(value: unknown, field = '--gateway-ip'): string {
  if (typeof value === 'string' && isIP(value) !== 0) return value;
  throw new InvalidInputError(field, value, 'an IPv4 or IPv6 address');
}

export function parsePath(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.trim() === '' || value.includes('\0') || value.length > 4096) {
    throw new InvalidInputError(field, value, 'a non-empty file system path');
  }
  return value;
}
