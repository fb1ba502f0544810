/**
 * The parts of the result document's contract that code needs at run time:
 * its name and version, the size limit, the values of its enumerations, the
 * old tool's seed keys and the bounds the collector holds a document to.
 *
 * The agent imports this module; it imports only other agent modules
 * (limits and the round budget), never the validation library, so the agent
 * bundle (Node.js 12.22, no runtime dependencies) stays free of it. The
 * schema that checks a document, and the TypeScript types of a document, are built from these values in common/result-schema.ts.
 */
import { SSM_STDOUT_MAX_CHARS } from './aws-limits.ts';
import { MAX_ROUND_MS } from './round-budget.ts';
import { LIMITS } from './settings.ts';

export const RESULT_SCHEMA_NAME = 'cloudconnexa-monitor/result';
export const RESULT_SCHEMA_MAJOR = 1;
export const RESULT_SCHEMA = `${RESULT_SCHEMA_NAME}@${RESULT_SCHEMA_MAJOR}` as const;

/** The whole document, as printed: SSM returns only this much of a command's stdout. */
export const RESULT_MAX_CHARS = SSM_STDOUT_MAX_CHARS;

export const OUTCOMES = ['completed', 'invalid-input', 'environment', 'busy', 'internal-error'] as const;

/** Exit code of the agent for each outcome. */
export const EXIT_CODES: Record<(typeof OUTCOMES)[number], number> = {
  completed: 0,
  'invalid-input': 2,
  environment: 3,
  busy: 4,
  'internal-error': 1,
};

export const VERDICTS = [
  'ok',
  'latency',
  'loss',
  'latency+loss',
  'unreachable',
  'unmeasured',
  // ---- jitter (issue 10): the flagged kinds joined by `+` in this order (common/flag-rule.ts verdictOf).
  'jitter',
  'latency+jitter',
  'loss+jitter',
  'latency+loss+jitter',
] as const;
/**
 * The verdict agents before the flag rule gave a resource they could not
 * measure; read as `unmeasured` (see common/result-schema.ts).
 */
export const LEGACY_VERDICT_ERROR = 'error';
export const PROBE_METHODS = ['icmp', 'tcp', 'http'] as const;
export const LATENCY_BASES = ['icmp-echo', 'tcp-connect'] as const;
export const UNMEASURED_REASONS = ['dns', 'mtr-failed', 'mtr-timeout', 'mtr-output', 'probe-failed'] as const;
export const TROUBLE_KINDS = ['latency', 'loss', 'jitter'] as const;
export const TROUBLE_SIDES = ['tunnel', 'resource'] as const;
export const GATEWAY_SOURCES = ['option', 'openvpn3', 'openvpn2-management', 'openvpn2-log'] as const;
/** `history`: the round-history store (agent/history/history-store.ts), written every round. */
export const FILE_KINDS = ['report', 'mtr-resource', 'mtr-gateway', 'history'] as const;

export const SEED_KEYS = [
  'HOSTNAME',
  'RESOURCE(S)',
  'GATEWAY_IP',
  'LATENCY_FLAG',
  'LATENCY_(ms)',
  'LATENCY_THRESHOLD_(ms)',
  'LOSS_FLAG',
  'HOP_LOSS_(%)',
  'LOSS_THRESHOLD_(%)',
  'MTR-ID_(YYYYMMDDHHMMSS)',
] as const;

/**
 * What a valid document may hold. Each bound is at least what an honest agent
 * can print (tested against the agent's own documents), and keeps one host's
 * output from costing the collector, the log stream or the metrics more than
 * a host's share:
 * - numbers are finite; round-trip times in milliseconds from 0 to `maxMs`
 *   (no probe outlives a round, and CloudWatch accepts nothing above
 *   ~1.2e108), durations up to a day; percentages 0..100; ttl 1..255 (an
 *   IPv4 TTL / IPv6 hop limit);
 * - arrays: at most `LIMITS.maxResources` resources (what one host is sent),
 *   `maxHops` hops per path (mtr's largest max-ttl);
 * - identifiers (targets, addresses, names) within their grammar's length and
 *   without control characters; free text within the document's own limit.
 */
export const RESULT_LIMITS = {
  maxResources: LIMITS.maxResources,
  maxMs: MAX_ROUND_MS,
  maxDurationMs: 86_400_000,
  maxTtl: 255,
  maxHops: 255,
  /** A probe count (mtr's Snt): at most `count`, 500; kept loose. */
  maxSent: 1_000_000,
  maxTargetChars: LIMITS.maxUrlLength,
  /** IPv6 with a zone index is at most 45 + an interface name. */
  maxAddressChars: 64,
  /** A DNS name; also the limit of a host name read from the host. */
  maxNameChars: 255,
  /** A hop's name as mtr prints it (an address with -n; a name with `\DDD` escapes otherwise). */
  maxHopHostChars: 1024,
  maxErrors: 20,
  maxWarnings: 2 * LIMITS.maxResources + 20,
  /** The report, MTR-RESOURCE and MTR-GATEWAY files, with room to spare. */
  maxFiles: 10,
  maxCommandArgs: 64,
  maxPathChars: 4096,
  maxVersionChars: 64,
  /** Free text (messages, stderr, warnings): bounded by what a document can hold at all. */
  maxTextChars: RESULT_MAX_CHARS,
} as const;

// ---------------------------------------------------------------- tunnel (issue 10 §1)

/**
 * What the round saw of the tunnel (agent/tunnel/): `up` carries traffic;
 * `reconnecting` is a client trying to (re)establish it (connecting, waiting
 * for the server, authenticating); `down` is no client running, a client that
 * exited, paused or failed; `unknown` is no source that could tell.
 */
export const TUNNEL_STATES = ['up', 'down', 'reconnecting', 'unknown'] as const;
/** Where the state came from; `tun-device` is /sys/class/net when no OpenVPN source answered. */
export const TUNNEL_SOURCES = ['openvpn3', 'openvpn2-management', 'openvpn2-log', 'tun-device'] as const;
export const TUNNEL_LIMITS = {
  /** `tunnel.detail`, escaped (common/printable.ts) and clipped by the agent. */
  detailChars: 240,
  /** Counters (bytes, reconnects) are whole numbers a JSON reader keeps exact. */
  maxCount: Number.MAX_SAFE_INTEGER,
} as const;
