/**
 * The agent's result document: printed by `agent check --json`, carried back by
 * SSM Run Command, read by the collector. One definition for both sides.
 *
 * Versioning: `schema` is `cloudconnexa-monitor/result@<major>`. A reader accepts
 * its own major version and rejects others, so a fleet running a mix of agent
 * versions during a rollout produces a clear E_RESULT_DOCUMENT record rather
 * than silently misread numbers. Adding optional fields does not bump the major.
 *
 * The agent and the collector ship in one stack (the SSM document embeds the
 * agent bundle the same deploy builds), so changes made in lockstep stay at
 * @1: the verdict `error` became `unmeasured` (now flagged, with `unmeasured`
 * giving the reason), and `latencyBasis` / `requestMs` were added. A command
 * already running when a stack update lands may still return one old document:
 * its `error` resource is read as written (unflagged, loss 100) for that round.
 */
import type { ErrorInfo } from './errors.ts';

export const RESULT_SCHEMA_NAME = 'cloudconnexa-monitor/result';
export const RESULT_SCHEMA_MAJOR = 1;
export const RESULT_SCHEMA = `${RESULT_SCHEMA_NAME}@${RESULT_SCHEMA_MAJOR}` as const;

/** SSM GetCommandInvocation returns only the first 24,000 characters of stdout. */
export const RESULT_MAX_CHARS = 24_000;

export type LossRule = 'persistent' | 'any-hop';
export type ProbeMethod = 'icmp' | 'tcp' | 'http';
/**
 * `unreachable`: measured, and nothing answered (mtr, then TCP/HTTP).
 * `unmeasured`: the round could not measure the resource at all (see
 * UnmeasuredReason); flagged like `unreachable` (common/flag-rule.ts).
 */
export type Verdict = 'ok' | 'latency' | 'loss' | 'latency+loss' | 'unreachable' | 'unmeasured';
export type Outcome = 'completed' | 'invalid-input' | 'environment' | 'busy' | 'internal-error';

/** Exit code of the agent for each outcome. */
export const EXIT_CODES: Record<Outcome, number> = {
  completed: 0,
  'invalid-input': 2,
  environment: 3,
  busy: 4,
  'internal-error': 1,
};

export interface Hop {
  /** 1-based position on the path (mtr's `count`). */
  ttl: number;
  /** Responding address, or null for a hop that never answered (`???`). */
  host: string | null;
  lossPct: number;
  sent: number | null;
  lastMs: number | null;
  avgMs: number | null;
  bestMs: number | null;
  worstMs: number | null;
  stdevMs: number | null;
}

/**
 * Why a resource could not be measured, from the failure kinds of one path:
 * - `dns`: its name did not resolve (NXDOMAIN, EAI_AGAIN, no answer in time);
 * - `mtr-failed`: mtr could not start, exited non-zero or was killed;
 * - `mtr-timeout`: mtr did not finish by its hard timeout and was stopped;
 * - `mtr-output`: mtr exited 0 but printed nothing readable as a report;
 * - `probe-failed`: anything else (the TCP/HTTP fallback failing to run, an
 *   unexpected error), with the error in `errors`.
 */
export type UnmeasuredReason = 'dns' | 'mtr-failed' | 'mtr-timeout' | 'mtr-output' | 'probe-failed';

export interface Unmeasured {
  reason: UnmeasuredReason;
  /** The failure as one line, e.g. `could not resolve "db.corp.internal": EAI_AGAIN`. */
  detail: string;
}

/**
 * What `latencyMs` measures, so every method is judged by a figure comparable
 * with the latency threshold (one network round trip):
 * - `icmp-echo`: mtr's average echo round trip at the destination;
 * - `tcp-connect`: the average TCP handshake time (SYN to SYN-ACK or RST) of
 *   the TCP probe, or of the connection each HTTP(S) request opens.
 */
export type LatencyBasis = 'icmp-echo' | 'tcp-connect';

/** Where trouble starts on a path: that tells which side is at fault. */
export interface TroubleSpot {
  kind: 'latency' | 'loss';
  /** Hop number (ttl) where the latency step or the persistent loss begins. */
  hop: number;
  host: string | null;
  /**
   * `tunnel`: within the first `settings.hops` hops (the CloudConnexa side);
   * `resource`: beyond them, or the destination itself whatever its position.
   */
  side: 'tunnel' | 'resource';
}

export interface ResourceResult {
  /** As the user gave it. */
  target: string;
  /** Address probed (after DNS resolution), or null when it could not be resolved. */
  address: string | null;
  /** How the destination's latency was measured; null when nothing answered. */
  method: ProbeMethod | null;
  /** Milliseconds, one round trip as `latencyBasis` says; null when nothing answered. */
  latencyMs: number | null;
  /** What latencyMs measures (and what is judged against the threshold); null with latencyMs. */
  latencyBasis: LatencyBasis | null;
  /**
   * Method `http` only: average milliseconds from starting a request to its
   * response headers (TCP and TLS handshakes plus server time: several round
   * trips), over the requests that got a response. Reported, never compared
   * with the latency threshold. Null for other methods or when no response came.
   */
  requestMs: number | null;
  /** Percent 0..100: of the destination's probes, or 100 when unreachable or unmeasured. */
  lossPct: number;
  latencyFlag: boolean;
  /** Also true for an `unmeasured` resource (common/flag-rule.ts). */
  lossFlag: boolean;
  verdict: Verdict;
  /** Set exactly when verdict is `unmeasured`: why the round could not measure it. */
  unmeasured: Unmeasured | null;
  trouble: TroubleSpot | null;
  /**
   * The mtr path ([] when no hop answered); null when mtr gave none (an
   * unmeasured resource) or when dropped to keep the document under RESULT_MAX_CHARS.
   */
  hops: Hop[] | null;
  errors: ErrorInfo[];
  durationMs: number;
}

export type GatewaySource = 'option' | 'openvpn3' | 'openvpn2-management' | 'openvpn2-log';

export interface GatewayResult {
  ip: string | null;
  source: GatewaySource | null;
  latencyMs: number | null;
  lossPct: number | null;
  hops: Hop[] | null;
  errors: ErrorInfo[];
}

/**
 * The old script's JSON line, key for key. Every value is a string except
 * RESOURCE(S), a JSON array; CloudWatch metric filters written for the old
 * script match on `$.LATENCY_FLAG = "1"`, so these types are a contract.
 */
export interface SeedRecord {
  HOSTNAME: string;
  'RESOURCE(S)': string[];
  GATEWAY_IP: string;
  LATENCY_FLAG: '0' | '1';
  'LATENCY_(ms)': string;
  'LATENCY_THRESHOLD_(ms)': string;
  LOSS_FLAG: '0' | '1';
  'HOP_LOSS_(%)': string;
  'LOSS_THRESHOLD_(%)': string;
  'MTR-ID_(YYYYMMDDHHMMSS)': string;
}

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
] as const satisfies readonly (keyof SeedRecord)[];

export type FileKind = 'report' | 'mtr-resource' | 'mtr-gateway';

export interface FileWritten {
  kind: FileKind;
  path: string;
}

export interface RoundSettings {
  count: number;
  intervalSec: number;
  latencyThresholdMs: number;
  lossThresholdPct: number;
  /**
   * How many first hops are the CloudConnexa (tunnel) side: `--hops`, the
   * `hops` config key and SSM parameter, the `:Hops` tag. The key keeps the
   * option's name; code calls the count `tunnelHops`.
   */
  hops: number;
  lossRule: LossRule;
  tcpPort: number;
  concurrency: number;
}

/** Derived from `resources` by summariseResources (common/flag-rule.ts). */
export interface ResultSummary {
  resources: number;
  /** Resources flagged, unmeasured ones included. */
  flagged: number;
  latencyFlag: boolean;
  lossFlag: boolean;
  worstLatencyMs: number | null;
  /** Highest lossPct of any resource (100 with an unreachable or unmeasured one); null with none. */
  worstLossPct: number | null;
}

export interface ResultDocument {
  schema: typeof RESULT_SCHEMA;
  agentVersion: string;
  hostname: string;
  outcome: Outcome;
  /** Set when outcome is not `completed`. */
  error: ErrorInfo | null;
  mtrId: string;
  startedAt: string;
  finishedAt: string;
  timings: { totalMs: number; probesMs: number; gatewayDiscoveryMs: number };
  settings: RoundSettings | null;
  summary: ResultSummary;
  resources: ResourceResult[];
  gateway: GatewayResult | null;
  seed: SeedRecord | null;
  files: FileWritten[];
  warnings: string[];
  /** Targets whose hop lists were dropped to fit RESULT_MAX_CHARS; null when nothing was dropped. */
  truncated: {
    hopsDroppedFor: string[];
    /** Targets, errors and warnings were clipped after the hop lists were not enough. */
    textShortened?: boolean;
  } | null;
}

export class ResultDocumentError extends Error {
  readonly code = 'E_RESULT_DOCUMENT';
  readonly excerpt: string;
  constructor(message: string, text: string) {
    super(message);
    this.name = 'ResultDocumentError';
    this.excerpt = text.slice(0, 300);
  }
}

/**
 * Reads a result document from an agent's stdout. The agent prints exactly one
 * JSON object, but the SSM document may print lines before it (package
 * installation), so the last line that starts with `{` is taken.
 */
export function parseResultDocument(stdout: string): ResultDocument {
  const text = stdout.trim();
  if (text === '') throw new ResultDocumentError('no result document: stdout is empty', stdout);
  const start = findDocumentStart(text);
  if (start < 0) throw new ResultDocumentError('no result document: stdout holds no JSON object', stdout);
  let value: unknown;
  try {
    value = JSON.parse(text.slice(start));
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    const hint = stdout.length >= RESULT_MAX_CHARS ? ' (stdout reached the SSM limit: truncated?)' : '';
    throw new ResultDocumentError(`result document is not valid JSON: ${reason}${hint}`, stdout);
  }
  return checkResultDocument(value, stdout);
}

function findDocumentStart(text: string): number {
  if (text.startsWith('{')) return 0;
  const index = text.lastIndexOf('\n{');
  return index < 0 ? -1 : index + 1;
}

function checkResultDocument(value: unknown, text: string): ResultDocument {
  if (!isObject(value)) throw new ResultDocumentError('result document is not a JSON object', text);
  const schema = value.schema;
  if (typeof schema !== 'string' || !schema.startsWith(`${RESULT_SCHEMA_NAME}@`)) {
    throw new ResultDocumentError(`result document has no "schema" of ${RESULT_SCHEMA_NAME}`, text);
  }
  if (schema !== RESULT_SCHEMA) {
    throw new ResultDocumentError(
      `result document schema ${schema} is not supported (expected ${RESULT_SCHEMA})`,
      text,
    );
  }
  const required: [string, (v: unknown) => boolean][] = [
    ['agentVersion', (v) => typeof v === 'string'],
    ['hostname', (v) => typeof v === 'string'],
    ['outcome', (v) => typeof v === 'string' && v in EXIT_CODES],
    ['mtrId', (v) => typeof v === 'string'],
    ['summary', isObject],
    ['resources', Array.isArray],
    ['files', Array.isArray],
    ['warnings', Array.isArray],
  ];
  for (const [key, check] of required) {
    if (!check(value[key]))
      throw new ResultDocumentError(`result document field "${key}" is missing or malformed`, text);
  }
  for (const resource of value.resources as unknown[]) {
    if (!isObject(resource) || typeof resource.target !== 'string' || typeof resource.lossPct !== 'number') {
      throw new ResultDocumentError('result document has a malformed resource entry', text);
    }
  }
  if (value.seed !== null && !isObject(value.seed)) {
    throw new ResultDocumentError('result document field "seed" is malformed', text);
  }
  return value as unknown as ResultDocument;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
