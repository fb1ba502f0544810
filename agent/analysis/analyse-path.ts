/**
 * Reads an mtr path the way a network engineer does and says whether the
 * destination is slow or lossy, and where the trouble starts.
 *
 * Why loss must persist (rule `persistent`, the default): routers rate-limit
 * the ICMP Time Exceeded replies mtr relies on (Linux: net.ipv4.icmp_ratelimit),
 * so an intermediate hop can show 40% "loss" while every packet it forwards
 * arrives. Only loss that continues to the last hop that answers is loss on the
 * path. Rule `any-hop` keeps the old script's reading (any of the first hops
 * above the threshold) for users whose alarms depend on it.
 *
 * The first `tunnelHops` hops (`--hops`) are the CloudConnexa side (tunnel and
 * gateways); a trouble spot within them is the tunnel's, beyond them the
 * resource side's.
 * The destination itself is always the resource side: a resource a few hops
 * away that is slow or lossy is not the tunnel's fault.
 *
 * Jitter (agent/analysis/jitter.ts) is judged at the destination only:
 * a router's replies come from its slow path and jitter on their own.
 */
import type { Hop, LossRule, TroubleSpot } from '../../common/result-schema.ts';
import { isJitterAbove } from './jitter.ts';

export interface PathThresholds {
  latencyThresholdMs: number;
  lossThresholdPct: number;
  /** How many first hops are the CloudConnexa side (`--hops`, settings.hops). */
  tunnelHops: number;
  lossRule: LossRule;
  /** Mean jitter (ms) above which the destination is flagged; 0 = off. */
  jitterThresholdMs: number;
}

export interface PathAnalysis {
  destinationAnswered: boolean;
  latencyMs: number | null;
  lossPct: number;
  latencyFlag: boolean;
  lossFlag: boolean;
  trouble: TroubleSpot | null;
  lastRespondingHop: number | null;
  /** The destination's mean jitter (mtr's Javg); null when it did not answer or mtr did not print it. */
  jitterMs: number | null;
  jitterFlag: boolean;
}

export function analysePath(hops: Hop[], address: string, thresholds: PathThresholds): PathAnalysis {
  const ordered = hops.slice().sort((a, b) => a.ttl - b.ttl);
  const responding = ordered.filter(isResponding);
  const wanted = normalizeAddress(address);
  const destination = ordered.find((hop) => hop.host !== null && normalizeAddress(hop.host) === wanted);
  const answered = destination !== undefined && isResponding(destination) ? destination : undefined;
  const lastResponding = answered ?? responding[responding.length - 1];
  // mtr stops at the destination; anything listed past it is not on the path.
  const onPath =
    lastResponding === undefined ? [] : responding.filter((hop) => hop.ttl <= lastResponding.ttl);

  const latency = judgeLatency(ordered, onPath, answered, destination, thresholds);
  const loss =
    thresholds.lossRule === 'any-hop'
      ? judgeLossAnyHop(ordered, destination, thresholds)
      : judgeLossPersistent(ordered, onPath, lastResponding, destination, thresholds);

  const jitterMs = answered?.jitterMs == null ? null : round3(answered.jitterMs);
  const jitterFlag = answered !== undefined && isJitterAbove(jitterMs, thresholds);
  return {
    destinationAnswered: answered !== undefined,
    latencyMs: answered?.avgMs == null ? null : round3(answered.avgMs),
    lossPct: round3(loss.lossPct),
    latencyFlag: latency.flag,
    lossFlag: loss.flag,
    trouble: earliestSpot([
      loss.flag ? loss.spot : null,
      latency.flag ? latency.spot : null,
      jitterFlag && answered !== undefined ? jitterSpot(onPath, answered, thresholds) : null,
    ]),
    lastRespondingHop: lastResponding?.ttl ?? null,
    jitterMs,
    jitterFlag,
  };
}

/** A hop with an address and at least one reply; `???` hops say nothing about the path. */
export function isResponding(hop: Hop): boolean {
  return hop.host !== null && hop.avgMs !== null && hop.lossPct < 100;
}

/** `atDestination`: the spot is the destination itself, whatever its hop number. */
export function troubleSide(
  hop: number,
  thresholds: Pick<PathThresholds, 'tunnelHops'>,
  atDestination = false,
): TroubleSpot['side'] {
  if (atDestination) return 'resource';
  return hop <= thresholds.tunnelHops ? 'tunnel' : 'resource';
}

export function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}

interface Finding {
  flag: boolean;
  spot: TroubleSpot | null;
}

function judgeLatency(
  ordered: Hop[],
  responding: Hop[],
  answered: Hop | undefined,
  destination: Hop | undefined,
  thresholds: PathThresholds,
): Finding {
  const above = (hop: Hop): boolean => hop.avgMs !== null && hop.avgMs > thresholds.latencyThresholdMs;
  const watched = ordered.filter((hop) => hop.ttl <= thresholds.tunnelHops && isResponding(hop));
  if (answered !== undefined) watched.push(answered);
  if (!watched.some(above)) return { flag: false, spot: null };
  // Where the step begins: the earliest hop from which every responding hop
  // stays slow. A lone slow hop (a router slow to answer, not to forward) is
  // reported only when no such step exists.
  let stepStart: Hop | undefined;
  for (let index = responding.length - 1; index >= 0; index--) {
    const hop = responding[index];
    if (hop === undefined || !above(hop)) break;
    stepStart = hop;
  }
  const spotHop = stepStart ?? responding.find(above);
  return {
    flag: true,
    spot: spotHop === undefined ? null : spot('latency', spotHop, destination, thresholds),
  };
}

function judgeLossPersistent(
  ordered: Hop[],
  responding: Hop[],
  lastResponding: Hop | undefined,
  destination: Hop | undefined,
  thresholds: PathThresholds,
): Finding & { lossPct: number } {
  if (lastResponding === undefined) {
    // Nothing answered at all: the whole path is dead from the first hop.
    const first = ordered[0];
    const hop = first === undefined ? { ttl: 1, host: null } : first;
    return {
      lossPct: 100,
      flag: 100 > thresholds.lossThresholdPct,
      spot: { kind: 'loss', hop: hop.ttl, host: hop.host, side: troubleSide(hop.ttl, thresholds) },
    };
  }
  const lossPct = lastResponding.lossPct;
  if (!(lossPct > thresholds.lossThresholdPct)) return { lossPct, flag: false, spot: null };
  let runStart: Hop = lastResponding;
  for (let index = responding.length - 1; index >= 0; index--) {
    const hop = responding[index];
    if (hop === undefined || !(hop.lossPct > thresholds.lossThresholdPct)) break;
    runStart = hop;
  }
  return { lossPct, flag: true, spot: spot('loss', runStart, destination, thresholds) };
}

/**
 * The old script's reading: the worst Loss% among the first `tunnelHops` report
 * lines and the destination. Like the old script it counts `???` lines (100%).
 */
function judgeLossAnyHop(
  ordered: Hop[],
  destination: Hop | undefined,
  thresholds: PathThresholds,
): Finding & { lossPct: number } {
  const watched = ordered.filter((hop) => hop.ttl <= thresholds.tunnelHops);
  if (destination !== undefined && !watched.includes(destination)) watched.push(destination);
  if (watched.length === 0) {
    return {
      lossPct: 100,
      flag: 100 > thresholds.lossThresholdPct,
      spot: { kind: 'loss', hop: 1, host: null, side: troubleSide(1, thresholds) },
    };
  }
  const lossPct = Math.max(...watched.map((hop) => hop.lossPct));
  const first = watched.find((hop) => hop.lossPct > thresholds.lossThresholdPct);
  if (first === undefined) return { lossPct, flag: false, spot: null };
  return { lossPct, flag: true, spot: spot('loss', first, destination, thresholds) };
}

function spot(
  kind: TroubleSpot['kind'],
  hop: Hop,
  destination: Hop | undefined,
  thresholds: PathThresholds,
): TroubleSpot {
  return { kind, hop: hop.ttl, host: hop.host, side: troubleSide(hop.ttl, thresholds, hop === destination) };
}

/**
 * Where the jitter of a destination above the threshold starts: the earliest
 * hop from which every responding hop up to the destination jitters above it
 * (a lone jittery router is its slow path answering, no finding); the
 * destination itself when only it does. `onPath`: the responding hops up to
 * the destination.
 */
function jitterSpot(onPath: Hop[], destination: Hop, thresholds: PathThresholds): TroubleSpot {
  let start = destination;
  for (let index = onPath.length - 1; index >= 0; index--) {
    const hop = onPath[index];
    if (hop === undefined || !isJitterAbove(hop.jitterMs, thresholds)) break;
    start = hop;
  }
  return spot('jitter', start, destination, thresholds);
}

/**
 * The spot nearer the source explains the others; a tie goes to the earlier
 * in `spots` (loss, then latency, then jitter).
 */
export function earliestSpot(spots: readonly (TroubleSpot | null)[]): TroubleSpot | null {
  let earliest: TroubleSpot | null = null;
  for (const spot of spots) {
    if (spot !== null && (earliest === null || spot.hop < earliest.hop)) earliest = spot;
  }
  return earliest;
}

/** No space, upper case, zone, bracket or colon: nothing for normalizeAddress to change. */
const ALREADY_CANONICAL = /^[0-9a-z.-]*$/;

/**
 * Canonical text of an IP address so that `2001:DB8::1`, `2001:db8:0:0::1`
 * and `fe80::1%eth0` compare equal to what mtr prints. Not an IP: lower-cased.
 */
export function normalizeAddress(text: string): string {
  // What mtr -n prints (IPv4, lower-case names) is its own canonical text: one native test instead of
  // the steps below, for every hop of every path, several times a round.
  if (ALREADY_CANONICAL.test(text)) return text;
  const value = text.trim().toLowerCase();
  const zone = value.indexOf('%');
  const zoneless = zone < 0 ? value : value.slice(0, zone);
  const bare = zoneless.startsWith('[') && zoneless.endsWith(']') ? zoneless.slice(1, -1) : zoneless;
  if (!bare.includes(':')) return bare;
  const groups = expandIpv6(bare);
  return groups === null ? bare : groups.map((group) => group.toString(16)).join(':');
}

function expandIpv6(text: string): number[] | null {
  let body = text;
  const lastColon = body.lastIndexOf(':');
  const maybeV4 = body.slice(lastColon + 1);
  if (maybeV4.includes('.')) {
    // IPv4-embedded form (::ffff:192.0.2.1): rewrite the dotted quad as two groups.
    const octets = maybeV4.split('.').map((part) => (/^\d{1,3}$/.test(part) ? Number(part) : Number.NaN));
    if (octets.length !== 4 || octets.some((octet) => !(octet <= 255))) return null;
    const [a = 0, b = 0, c = 0, d = 0] = octets;
    body = `${body.slice(0, lastColon + 1)}${(a * 256 + b).toString(16)}:${(c * 256 + d).toString(16)}`;
  }
  const halves = body.split('::');
  if (halves.length > 2) return null;
  const head = parseGroups(halves[0] ?? '');
  const rest = halves.length === 2 ? parseGroups(halves[1] ?? '') : [];
  if (head === null || rest === null) return null;
  const known = head.length + rest.length;
  if (halves.length === 2) {
    if (known > 7) return null;
    return [...head, ...new Array<number>(8 - known).fill(0), ...rest];
  }
  return known === 8 ? head : null;
}

function parseGroups(part: string): number[] | null {
  if (part === '') return [];
  const out: number[] = [];
  for (const group of part.split(':')) {
    if (!/^[0-9a-f]{1,4}$/.test(group)) return null;
    out.push(Number.parseInt(group, 16));
  }
  return out;
}
