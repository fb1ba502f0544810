/**
 * The agent's result document: printed by `agent check --json`, carried back by
 * SSM Run Command, read by the collector. One definition for both sides: the
 * valibot schema below checks a document and is the source of its TypeScript
 * types. Run-time values the agent needs (schema name, size limit, exit codes,
 * seed keys, enumerations, bounds) live in common/result-contract.ts, which
 * does not import valibot, so the agent bundle does not carry it; this module
 * re-exports them.
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
 * the fields it lacks read as null, and its `error` resource is read with the
 * verdict's new name, `unmeasured` (the reason taken from its first error), and
 * its flags as written (unflagged, loss 100) for that round.
 *
 * Host output is untrusted: whoever is root on a host controls what it
 * prints. The whole document is checked: numbers finite and in range, strings
 * and arrays bounded, enumerations exact (RESULT_LIMITS in
 * common/result-contract.ts). Keys the schema does not name are dropped, so a
 * document can never carry a key of the collector's own records.
 */
import * as v from 'valibot';
import { clipText, headOf } from './clip-text.ts';
import { ERROR_CODES, type ErrorInfo } from './errors.ts';
import { setsSeedLatencyFlag, unmeasuredReasonOf } from './flag-rule.ts';
import { hasControlCharacters, isPrintable } from './printable.ts';
import {
  FILE_KINDS,
  GATEWAY_SOURCES,
  LATENCY_BASES,
  LEGACY_VERDICT_ERROR,
  OUTCOMES,
  PROBE_METHODS,
  RESULT_LIMITS,
  RESULT_MAX_CHARS,
  RESULT_SCHEMA,
  RESULT_SCHEMA_NAME,
  TROUBLE_KINDS,
  TROUBLE_SIDES,
  TUNNEL_LIMITS,
  TUNNEL_SOURCES,
  TUNNEL_STATES,
  UNMEASURED_REASONS,
  VERDICTS,
} from './result-contract.ts';
import { LIMITS, LOSS_RULES, type LossRule } from './settings.ts';

export {
  EXIT_CODES,
  RESULT_LIMITS,
  RESULT_MAX_CHARS,
  RESULT_SCHEMA,
  RESULT_SCHEMA_MAJOR,
  RESULT_SCHEMA_NAME,
  SEED_KEYS,
  TUNNEL_LIMITS,
  TUNNEL_SOURCES,
  TUNNEL_STATES,
} from './result-contract.ts';
export type { LossRule };

// ---------------------------------------------------------------- building blocks

/** A finite number within [min, max]. */
const numberIn = (min: number, max: number) =>
  v.pipe(v.number(), v.finite(), v.minValue(min), v.maxValue(max));
/** A whole number within [min, max]. */
const integerIn = (min: number, max: number) =>
  v.pipe(v.number(), v.finite(), v.integer(), v.minValue(min), v.maxValue(max));
/** A round trip in milliseconds. */
const roundTripMs = () => numberIn(0, RESULT_LIMITS.maxMs);
/** A duration in milliseconds. */
const durationMs = () => numberIn(0, RESULT_LIMITS.maxDurationMs);
const percent = () => numberIn(0, 100);
/** Free text (messages, warnings, stderr): any characters, bounded. */
const text = (maxChars: number = RESULT_LIMITS.maxTextChars) => v.pipe(v.string(), v.maxLength(maxChars));
/** A name or address: non-empty, bounded, no control characters (common/printable.ts). */
const identifier = (maxChars: number) =>
  v.pipe(
    v.string(),
    v.minLength(1),
    v.maxLength(maxChars),
    v.check((s: string) => !hasControlCharacters(s), 'control characters are not allowed'),
  );
const errorList = () => v.pipe(v.array(ErrorInfoSchema), v.maxLength(RESULT_LIMITS.maxErrors));
const hopList = () => v.pipe(v.array(HopSchema), v.maxLength(RESULT_LIMITS.maxHops));

/** `date.toISOString()`: `2026-01-01T12:00:00.000Z` (years past 9999 as `+010000`). */
const ISO_TIMESTAMP = /^[+-]?\d{4,6}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;
/** `0` for a clean round, else the round's start as YYYYMMDDHHMMSS (agent/files/mtr-id.ts). */
const MTR_ID = /^(0|\d{14})$/;
/** A measurement in the seed line: one decimal, as mtr's report prints it (formatFixed1). */
const SEED_MEASUREMENT = /^\d{1,9}\.\d$/;
/** A threshold in the seed line: the number as the user gave it (`String(n)`: 75, 0.5, 1e-7). */
const SEED_THRESHOLD = /^\d{1,9}(\.\d{1,20})?(e[+-]\d{1,3})?$/;

// ---------------------------------------------------------------- schemas

/** Plain-data form of an error (common/errors.ts ErrorInfo). */
export const ErrorInfoSchema = v.object({
  code: v.picklist(ERROR_CODES),
  message: text(),
  command: v.optional(
    v.pipe(v.array(text(RESULT_LIMITS.maxPathChars)), v.maxLength(RESULT_LIMITS.maxCommandArgs)),
  ),
  exitCode: v.optional(v.nullable(integerIn(-2_147_483_648, 4_294_967_295))),
  signal: v.optional(v.nullable(identifier(32))),
  stderr: v.optional(text()),
});

export const HopSchema = v.object({
  /** 1-based position on the path (mtr's `count`). */
  ttl: integerIn(1, RESULT_LIMITS.maxTtl),
  /** Responding address, or null for a hop that never answered (`???`). */
  host: v.nullable(v.pipe(v.string(), v.minLength(1), v.maxLength(RESULT_LIMITS.maxHopHostChars))),
  /** Percent 0..100 of this hop's probes that got no answer. */
  lossPct: percent(),
  /** Probes sent (mtr's Snt); null when mtr did not print it. */
  sent: v.nullable(integerIn(0, RESULT_LIMITS.maxSent)),
  /** Milliseconds; null when the hop never answered or mtr did not print the field. */
  lastMs: v.nullable(roundTripMs()),
  avgMs: v.nullable(roundTripMs()),
  bestMs: v.nullable(roundTripMs()),
  worstMs: v.nullable(roundTripMs()),
  stdevMs: v.nullable(roundTripMs()),
  // ---- jitter (issue 10)
  /**
   * Mean jitter in milliseconds, mtr's `Javg` (`-o M`): the mean over this
   * hop's replies of how far each reply's round trip is from the previous
   * reply's (common/flag-rule.ts meanJitterMs). Null when the hop never
   * answered or mtr did not print it (older agents, mtr told other fields).
   */
  jitterMs: v.optional(v.nullable(roundTripMs()), null),
});

export type ProbeMethod = (typeof PROBE_METHODS)[number];
/**
 * `unreachable`: measured, and nothing answered (mtr, then TCP/HTTP).
 * `unmeasured`: the round could not measure the resource at all (see
 * UnmeasuredReason); flagged like `unreachable` (common/flag-rule.ts).
 */
export type Verdict = (typeof VERDICTS)[number];
export type Outcome = (typeof OUTCOMES)[number];

/**
 * Why a resource could not be measured, from the failure kinds of one path:
 * - `dns`: its name did not resolve (NXDOMAIN, EAI_AGAIN, no answer in time);
 * - `mtr-failed`: mtr could not start, exited non-zero or was killed;
 * - `mtr-timeout`: mtr did not finish by its hard timeout and was stopped;
 * - `mtr-output`: mtr exited 0 but printed nothing readable as a report;
 * - `probe-failed`: anything else (the TCP/HTTP fallback failing to run, an
 *   unexpected error), with the error in `errors`.
 */
export type UnmeasuredReason = (typeof UNMEASURED_REASONS)[number];

export const UnmeasuredSchema = v.object({
  reason: v.picklist(UNMEASURED_REASONS),
  /** The failure as one line, e.g. `could not resolve "db.corp.internal": EAI_AGAIN`. */
  detail: text(),
});

/**
 * What `latencyMs` measures, so every method is judged by a figure comparable
 * with the latency threshold (one network round trip):
 * - `icmp-echo`: mtr's average echo round trip at the destination;
 * - `tcp-connect`: the average TCP handshake time (SYN to SYN-ACK or RST) of
 *   the TCP probe, or of the connection each HTTP(S) request opens.
 */
export type LatencyBasis = (typeof LATENCY_BASES)[number];

/** Where trouble starts on a path: that tells which side is at fault. */
export const TroubleSpotSchema = v.object({
  kind: v.picklist(TROUBLE_KINDS),
  /** Hop number (ttl) where the latency step or the persistent loss begins. */
  hop: integerIn(1, RESULT_LIMITS.maxTtl),
  host: v.nullable(v.pipe(v.string(), v.minLength(1), v.maxLength(RESULT_LIMITS.maxHopHostChars))),
  /**
   * `tunnel`: within the first `settings.hops` hops (the CloudConnexa side);
   * `resource`: beyond them, or the destination itself whatever its position.
   */
  side: v.picklist(TROUBLE_SIDES),
});

// ---------------------------------------------------------------- path change and baseline (issue 10 §2, §4)
// Optional additions (@1 stays): a document without them reads as it was
// printed; the agent always writes both, null when there is nothing to say.

/** Hop addresses by position (index 0 is hop 1); null for a hop that did not answer. */
const hopAddressList = () =>
  v.pipe(
    v.array(v.nullable(v.pipe(v.string(), v.minLength(1), v.maxLength(RESULT_LIMITS.maxHopHostChars)))),
    v.maxLength(RESULT_LIMITS.maxHops),
  );

/**
 * The responding hops differ from this host's previous rounds of the resource
 * (rule: agent/history/path-change.ts). `previousHops` is the previous round's
 * path (its silent hops filled in from the rounds before), `hops` this round's;
 * either is null when dropped to keep the document under RESULT_MAX_CHARS
 * (previousHops first). `firstDifferentHop` is the 1-based position of the first change.
 */
export const PathChangeSchema = v.object({
  previousHops: v.nullable(hopAddressList()),
  // Absent reads as null: the fitted document leaves null `hops` keys out (agent/round/fit-result.ts OMITTED_WHEN_NULL).
  hops: v.optional(v.nullable(hopAddressList()), null),
  firstDifferentHop: integerIn(1, RESULT_LIMITS.maxTtl),
});

/**
 * This resource's latency against its own recent rounds on this host
 * (agent/history/baseline.ts): `ms` the median of their latencies, `spreadMs`
 * their robust standard deviation (1.4826 × the median absolute deviation),
 * `deviationMs` this round's latency minus `ms` (negative when faster), `far`
 * whether this round is far above it (with `--baseline-flag on` it is then
 * latency-flagged).
 */
export const BaselineSchema = v.object({
  ms: roundTripMs(),
  spreadMs: roundTripMs(),
  deviationMs: numberIn(-RESULT_LIMITS.maxMs, RESULT_LIMITS.maxMs),
  far: v.boolean(),
});

/**
 * Spread into the resource entries below. Null: none (the first rounds, no
 * path or latency measured, no change). Absent: not known, from an agent
 * before them or dropped to keep the document under RESULT_MAX_CHARS (its
 * last step; a warning says so).
 */
const PathAndBaselineEntries = {
  pathChange: v.optional(v.nullable(PathChangeSchema)),
  baseline: v.optional(v.nullable(BaselineSchema)),
};

const ResourceEntriesSchema = v.object({
  /** As the user gave it (clipped, with its length, when the document had to shrink: agent/round/fit-result.ts). */
  target: identifier(RESULT_LIMITS.maxTargetChars),
  /** Address probed (after DNS resolution), or null when it could not be resolved. */
  address: v.nullable(identifier(RESULT_LIMITS.maxAddressChars)),
  /** How the destination's latency was measured; null when nothing answered. */
  method: v.nullable(v.picklist(PROBE_METHODS)),
  /** Milliseconds, one round trip as `latencyBasis` says; null when nothing answered. */
  latencyMs: v.nullable(roundTripMs()),
  /** What latencyMs measures (and what is judged against the threshold); null with latencyMs. */
  latencyBasis: v.optional(v.nullable(v.picklist(LATENCY_BASES)), null),
  /**
   * Method `http` only: average milliseconds from starting a request to its
   * response headers (TCP and TLS handshakes plus server time: several round
   * trips), over the requests that got a response. Reported, never compared
   * with the latency threshold. Null for other methods or when no response came.
   */
  requestMs: v.optional(v.nullable(roundTripMs()), null),
  /** Percent 0..100: of the destination's probes, or 100 when unreachable or unmeasured. */
  lossPct: percent(),
  latencyFlag: v.boolean(),
  /** Also true for an `unmeasured` resource (common/flag-rule.ts). */
  lossFlag: v.boolean(),
  verdict: v.picklist([...VERDICTS, LEGACY_VERDICT_ERROR]),
  /** Set exactly when verdict is `unmeasured`: why the round could not measure it. */
  unmeasured: v.optional(v.nullable(UnmeasuredSchema), null),
  trouble: v.nullable(TroubleSpotSchema),
  /**
   * The mtr path ([] when no hop answered); null when mtr gave none (an
   * unmeasured resource) or when dropped to keep the document under
   * RESULT_MAX_CHARS (a document that had to shrink leaves a null out:
   * `truncated.nullsOmitted`).
   */
  hops: v.optional(v.nullable(hopList()), null),
  errors: errorList(),
  /** Milliseconds this resource's probes took. */
  durationMs: durationMs(),
  ...PathAndBaselineEntries,
  // ---- jitter (issue 10)
  /**
   * Mean jitter in milliseconds (common/flag-rule.ts meanJitterMs): the
   * destination's `Javg` from mtr, or, for a destination measured by TCP/HTTP,
   * the same figure over the attempts' connect times. Null when nothing
   * answered or mtr did not print it. Above `settings.jitterThresholdMs` (when
   * set) the resource is flagged, which its verdict says (`jitter`,
   * `latency+jitter`, ...; no separate boolean, to keep the document small).
   */
  jitterMs: v.optional(v.nullable(roundTripMs()), null),
});

/** An old agent's `error` resource, read under the verdict's new name (see the module comment). */
function readLegacyVerdict(r: v.InferOutput<typeof ResourceEntriesSchema>) {
  if (r.verdict !== LEGACY_VERDICT_ERROR) return { ...r, verdict: r.verdict };
  const first = r.errors[0];
  const unmeasured: Unmeasured = r.unmeasured ?? {
    reason: first === undefined ? 'probe-failed' : unmeasuredReasonOf(first.code),
    detail: first?.message ?? '',
  };
  return { ...r, verdict: 'unmeasured' as const, unmeasured };
}

export const ResourceResultSchema = v.pipe(ResourceEntriesSchema, v.transform(readLegacyVerdict));

export type GatewaySource = (typeof GATEWAY_SOURCES)[number];

export const GatewayResultSchema = v.object({
  /** The CloudConnexa gateway's address; null when none was found (a warning says why). */
  ip: v.nullable(identifier(RESULT_LIMITS.maxAddressChars)),
  source: v.nullable(v.picklist(GATEWAY_SOURCES)),
  /** Milliseconds, the gateway's average round trip; null when not traced or nothing answered. */
  latencyMs: v.nullable(roundTripMs()),
  lossPct: v.nullable(percent()),
  /** As a resource's; null when not traced, nothing answered or dropped to fit (may then be left out). */
  hops: v.optional(v.nullable(hopList()), null),
  errors: errorList(),
});

const seedFlag = () => v.picklist(['0', '1'] as const);

/**
 * The old script's JSON line, key for key. Every value is a string except
 * RESOURCE(S), a JSON array; CloudWatch metric filters written for the old
 * script match on `$.LATENCY_FLAG = "1"`, so these types are a contract. The
 * schema takes exactly these keys (any other key is an error), each value in
 * the format the agent writes (agent/files/seed-record.ts).
 */
export const SeedRecordSchema = v.strictObject({
  HOSTNAME: text(RESULT_LIMITS.maxNameChars),
  'RESOURCE(S)': v.pipe(
    v.array(identifier(RESULT_LIMITS.maxTargetChars)),
    v.maxLength(RESULT_LIMITS.maxResources),
  ),
  /** The gateway's address, or `N/A`. */
  GATEWAY_IP: identifier(RESULT_LIMITS.maxAddressChars),
  LATENCY_FLAG: seedFlag(),
  'LATENCY_(ms)': v.pipe(v.string(), v.regex(SEED_MEASUREMENT)),
  'LATENCY_THRESHOLD_(ms)': v.pipe(v.string(), v.maxLength(32), v.regex(SEED_THRESHOLD)),
  LOSS_FLAG: seedFlag(),
  'HOP_LOSS_(%)': v.pipe(v.string(), v.regex(SEED_MEASUREMENT)),
  'LOSS_THRESHOLD_(%)': v.pipe(v.string(), v.maxLength(32), v.regex(SEED_THRESHOLD)),
  'MTR-ID_(YYYYMMDDHHMMSS)': v.pipe(v.string(), v.regex(MTR_ID)),
});

export type FileKind = (typeof FILE_KINDS)[number];

export const FileWrittenSchema = v.object({
  kind: v.picklist(FILE_KINDS),
  path: text(RESULT_LIMITS.maxPathChars),
});

export const RoundSettingsSchema = v.object({
  count: integerIn(LIMITS.count.min, LIMITS.count.max),
  intervalSec: numberIn(LIMITS.intervalSec.min, LIMITS.intervalSec.max),
  latencyThresholdMs: numberIn(LIMITS.latencyThresholdMs.min, LIMITS.latencyThresholdMs.max),
  lossThresholdPct: numberIn(LIMITS.lossThresholdPct.min, LIMITS.lossThresholdPct.max),
  /**
   * How many first hops are the CloudConnexa (tunnel) side: `--hops`, the
   * `hops` config key and SSM parameter, the `:Hops` tag. The key keeps the
   * option's name; code calls the count `tunnelHops`.
   */
  hops: integerIn(LIMITS.hops.min, LIMITS.hops.max),
  lossRule: v.picklist(LOSS_RULES),
  tcpPort: integerIn(LIMITS.tcpPort.min, LIMITS.tcpPort.max),
  concurrency: integerIn(LIMITS.concurrency.min, LIMITS.concurrency.max),
  /** `--baseline-flag`: latency far above the resource's baseline is flagged; absent in older documents. */
  baselineFlag: v.optional(v.boolean()),
  // ---- jitter (issue 10)
  /** `--jitter-threshold`: mean jitter (ms) above which a resource is flagged; 0 = off (the default). */
  jitterThresholdMs: v.optional(numberIn(LIMITS.jitterThresholdMs.min, LIMITS.jitterThresholdMs.max), 0),
});

/** Derived from `resources` by summariseResources (common/flag-rule.ts). */
export const ResultSummarySchema = v.object({
  resources: integerIn(0, RESULT_LIMITS.maxResources),
  /** Resources flagged, unmeasured ones included. */
  flagged: integerIn(0, RESULT_LIMITS.maxResources),
  latencyFlag: v.boolean(),
  lossFlag: v.boolean(),
  worstLatencyMs: v.nullable(roundTripMs()),
  /** Highest lossPct of any resource (100 with an unreachable or unmeasured one); null with none. */
  worstLossPct: v.nullable(percent()),
  // ---- jitter (issue 10)
  /** Some resource's jitter is above the jitter threshold. */
  jitterFlag: v.optional(v.boolean(), false),
  /** Highest jitterMs of any resource; null when none has one. */
  worstJitterMs: v.optional(v.nullable(roundTripMs()), null),
});

// ---------------------------------------------------------------- tunnel (issue 10 §1)

export type TunnelState = (typeof TUNNEL_STATES)[number];
export type TunnelSource = (typeof TUNNEL_SOURCES)[number];

/** A counter since the previous round: a whole number, never negative. */
const count = () => integerIn(0, TUNNEL_LIMITS.maxCount);

/**
 * The tunnel during the round (agent/tunnel/). Optional: documents of agents
 * before it have none, and a round that did not run (bad input, busy) has none.
 */
export const TunnelSchema = v.object({
  state: v.picklist(TUNNEL_STATES),
  /** Null with state `unknown`: nothing could tell. */
  source: v.nullable(v.picklist(TUNNEL_SOURCES)),
  /** The source's status text (e.g. `CONNECTED SUCCESS`, `Connection, Client reconnect`), escaped and clipped. */
  detail: v.pipe(
    v.string(),
    v.maxLength(TUNNEL_LIMITS.detailChars),
    v.check((s: string) => isPrintable(s), 'control characters are not allowed'),
  ),
  /**
   * When this state began: as the source says (the OpenVPN 2 management state
   * history), else the start of the first round on this host that saw it.
   * Null when not known.
   */
  since: v.nullable(v.pipe(v.string(), v.maxLength(40), v.regex(ISO_TIMESTAMP))),
  /**
   * Since the previous round on this host, where the source counts them
   * (openvpn3 session-stats; the management interface's `state all` and
   * `status`); null on the first round, after the source changed, or when the
   * source does not count. A counter that restarted (tunnel restarted) gives
   * what it counted since.
   */
  reconnects: v.nullable(count()),
  /** Bytes received from / sent to the server over the underlay (encrypted, as OpenVPN counts them). */
  bytesIn: v.nullable(count()),
  bytesOut: v.nullable(count()),
  /**
   * True when the tunnel was down or reconnecting and resources were flagged:
   * the tunnel is the one likely cause (the resources stay flagged).
   */
  explains: v.boolean(),
});

export type TunnelResult = v.InferOutput<typeof TunnelSchema>;

const DocumentEntriesSchema = v.object({
  schema: v.literal(RESULT_SCHEMA),
  agentVersion: identifier(RESULT_LIMITS.maxVersionChars),
  /** The host's name as the host reports it (os.hostname()). */
  hostname: text(RESULT_LIMITS.maxNameChars),
  outcome: v.picklist(OUTCOMES),
  /** Set when outcome is not `completed`. */
  error: v.nullable(ErrorInfoSchema),
  mtrId: v.pipe(v.string(), v.regex(MTR_ID)),
  /** ISO 8601 UTC, from the host's clock. */
  startedAt: v.pipe(v.string(), v.maxLength(40), v.regex(ISO_TIMESTAMP)),
  finishedAt: v.pipe(v.string(), v.maxLength(40), v.regex(ISO_TIMESTAMP)),
  /** Milliseconds. */
  timings: v.object({ totalMs: durationMs(), probesMs: durationMs(), gatewayDiscoveryMs: durationMs() }),
  settings: v.nullable(RoundSettingsSchema),
  summary: ResultSummarySchema,
  resources: v.pipe(v.array(ResourceResultSchema), v.maxLength(RESULT_LIMITS.maxResources)),
  gateway: v.nullable(GatewayResultSchema),
  seed: v.nullable(SeedRecordSchema),
  files: v.pipe(v.array(FileWrittenSchema), v.maxLength(RESULT_LIMITS.maxFiles)),
  warnings: v.pipe(v.array(text()), v.maxLength(RESULT_LIMITS.maxWarnings)),
  /** Targets whose hop lists were dropped to fit RESULT_MAX_CHARS; null when the document fitted as it was. */
  truncated: v.nullable(
    v.object({
      hopsDroppedFor: v.pipe(
        v.array(text(RESULT_LIMITS.maxTargetChars)),
        v.maxLength(RESULT_LIMITS.maxResources + 1),
      ),
      /** Targets, errors and warnings were clipped after the hop lists were not enough. */
      textShortened: v.optional(v.boolean()),
      /**
       * Keys whose value was null and whose schema default is null were left
       * out (agent/round/fit-result.ts OMITTED_WHEN_NULL): read back, they are
       * null as before, so nothing is lost.
       */
      nullsOmitted: v.optional(v.boolean()),
    }),
  ),
  // ---- tunnel (issue 10 §1): absent in older documents and in rounds that did not run.
  tunnel: v.optional(v.nullable(TunnelSchema)),
});

/**
 * The seed line's flags are the resources' flags (agent/files/seed-record.ts;
 * a jitter flag sets LATENCY_FLAG, common/flag-rule.ts setsSeedLatencyFlag),
 * so the old metric filter and HostFlagged cannot disagree about a host.
 */
function seedAgreesWithResources(doc: v.InferOutput<typeof DocumentEntriesSchema>): boolean {
  if (doc.seed === null) return true;
  const latency = doc.resources.some(setsSeedLatencyFlag);
  const loss = doc.resources.some((r) => r.lossFlag);
  return (doc.seed.LATENCY_FLAG === '1') === latency && (doc.seed.LOSS_FLAG === '1') === loss;
}

export const ResultDocumentSchema = v.pipe(
  DocumentEntriesSchema,
  v.check(seedAgreesWithResources, 'seed LATENCY_FLAG / LOSS_FLAG disagree with the resources’ flags'),
);

export type Hop = v.InferOutput<typeof HopSchema>;
export type PathChange = v.InferOutput<typeof PathChangeSchema>;
export type Baseline = v.InferOutput<typeof BaselineSchema>;
export type Unmeasured = v.InferOutput<typeof UnmeasuredSchema>;
export type TroubleSpot = v.InferOutput<typeof TroubleSpotSchema>;
export type ResourceResult = v.InferOutput<typeof ResourceResultSchema>;
export type GatewayResult = v.InferOutput<typeof GatewayResultSchema>;
export type SeedRecord = v.InferOutput<typeof SeedRecordSchema>;
export type FileWritten = v.InferOutput<typeof FileWrittenSchema>;
export type RoundSettings = v.InferOutput<typeof RoundSettingsSchema>;
export type ResultSummary = v.InferOutput<typeof ResultSummarySchema>;
export type ResultDocument = v.InferOutput<typeof ResultDocumentSchema>;

// The schema's error form and common/errors.ts ErrorInfo are one type.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const errorInfoMatches: Same<v.InferOutput<typeof ErrorInfoSchema>, ErrorInfo> = true;
void errorInfoMatches;

// ---------------------------------------------------------------- reading stdout

/** One problem found in a document: where (`resources[0].hops`) and what. */
export interface DocumentIssue {
  path: string;
  message: string;
}

/** How many issues a ResultDocumentError keeps, and how long each part may be. */
export const ISSUE_LIMITS = { count: 5, pathChars: 120, messageChars: 200 } as const;

export class ResultDocumentError extends Error {
  readonly code = 'E_RESULT_DOCUMENT';
  readonly excerpt: string;
  /** The first ISSUE_LIMITS.count problems, each clipped; [] when the text is not a document at all. */
  readonly issues: DocumentIssue[];
  constructor(message: string, text: string, issues: DocumentIssue[] = [], options?: ErrorOptions) {
    // Only the functions (Node.js 20) use this module, whose Error sets `cause` itself.
    super(message, options);
    this.name = 'ResultDocumentError';
    this.excerpt = headOf(text, 300);
    this.issues = issues;
  }
}

/**
 * Reads a result document from an agent's stdout. The agent prints exactly one
 * JSON object, but the SSM document may print lines before it (package
 * installation), so the last line that starts with `{` is taken.
 *
 * Returns the document as the schema reads it: only the keys it names, in its
 * order. Throws ResultDocumentError (E_RESULT_DOCUMENT) when there is no
 * document, it is not JSON, its `schema` is missing or another major version,
 * or anything in it does not match (the message names the first few paths).
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
    throw new ResultDocumentError(
      `result document is not valid JSON: ${clip(reason, 200)}${hint}`,
      stdout,
      [],
      { cause: error },
    );
  }
  return checkResultDocument(value, stdout);
}

/** Checks an already parsed value; the same errors as parseResultDocument. */
export function checkResultDocument(value: unknown, text: string): ResultDocument {
  if (!isObject(value)) throw new ResultDocumentError('result document is not a JSON object', text);
  const schema = value.schema;
  if (typeof schema !== 'string' || !schema.startsWith(`${RESULT_SCHEMA_NAME}@`)) {
    throw new ResultDocumentError(`result document has no "schema" of ${RESULT_SCHEMA_NAME}`, text);
  }
  if (schema !== RESULT_SCHEMA) {
    throw new ResultDocumentError(
      `result document schema ${JSON.stringify(clip(schema, 60))} is not supported (expected ${RESULT_SCHEMA})`,
      text,
    );
  }
  const result = v.safeParse(ResultDocumentSchema, value);
  if (result.success) return result.output;
  const issues = result.issues.slice(0, ISSUE_LIMITS.count).map(describeIssue);
  const more = result.issues.length - issues.length;
  const listed = issues.map((i) => `${i.path}: ${i.message}`).join('; ');
  throw new ResultDocumentError(
    `result document does not match ${RESULT_SCHEMA}: ${listed}${more > 0 ? ` (and ${more} more)` : ''}`,
    text,
    issues,
  );
}

function describeIssue(issue: v.BaseIssue<unknown>): DocumentIssue {
  let path = '';
  for (const item of issue.path ?? []) {
    const key: unknown = item.key;
    if (typeof key === 'number') path += `[${key}]`;
    else if (typeof key === 'string' && /^[A-Za-z_$][\w$]*$/.test(key)) path += path === '' ? key : `.${key}`;
    else path += `[${JSON.stringify(clip(String(key), 40))}]`;
  }
  return {
    path: clip(path === '' ? '(document)' : path, ISSUE_LIMITS.pathChars),
    message: clip(issue.message, ISSUE_LIMITS.messageChars),
  };
}

const clip = clipText;

/** The start of the last line that starts with `{` (an earlier one is not the document). */
function findDocumentStart(text: string): number {
  const index = text.lastIndexOf('\n{');
  if (index >= 0) return index + 1;
  return text.startsWith('{') ? 0 : -1;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
