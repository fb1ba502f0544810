/**
 * Which of the resources a host reports it was sent. A host's document is
 * untrusted: it may name resources it was never asked about (a compromised
 * host could name a new one every round and create a billed metric each
 * time), repeat one, or leave one out. Metrics are made only of the
 * resources dispatch sent, under the target as sent; the rest is noted in
 * the host's record.
 */
import type { ResourceResult } from '../../common/result-schema.ts';

/**
 * The targets dispatch sent with a command, from the collect job's SSM
 * parameters (`Resources`: comma-separated, validated and normalised by
 * dispatch, functions/dispatch/host-settings.ts); null when the job does not
 * carry them.
 */
export function sentResourcesOf(parameters: Readonly<Record<string, unknown>>): string[] | null {
  const list = parameters.Resources;
  if (typeof list !== 'string') return null;
  const targets = list
    .split(',')
    .map((target) => target.trim())
    .filter((target) => target !== '');
  return targets.length > 0 ? [...new Set(targets)] : null;
}

export interface ResourceMatch {
  /** Reported resources the host was sent, in report order, each under the target as sent (its first report only). */
  measured: { target: string; result: ResourceResult }[];
  /** Reported targets the host was not sent. */
  notSent: string[];
  /** Targets reported again after their first report. */
  duplicated: string[];
  /** Sent targets the host did not report. */
  missing: string[];
}

/**
 * When a document had to shrink to fit the SSM output limit, the agent clips
 * long targets to a prefix and their length: `https://wiki.corp…(140 chars)`
 * (agent/round/fit-result.ts). Such a target still names the resource sent.
 */
const CLIPPED = /^([\s\S]*)…\((\d+) chars\)$/;

function clippedFormOf(target: string): { prefix: string; length: number } | null {
  const match = CLIPPED.exec(target);
  if (match === null) return null;
  return { prefix: match[1] ?? '', length: Number(match[2]) };
}

/**
 * Matches reported resources to the targets sent. `sent` null (a job that
 * does not say what was sent) accepts every reported target once; the
 * schema already bounds how many a document holds.
 */
export function matchSentResources(
  reported: readonly ResourceResult[],
  sent: readonly string[] | null,
): ResourceMatch {
  const result: ResourceMatch = { measured: [], notSent: [], duplicated: [], missing: [] };
  const taken = new Set<string>();
  const sentSet = sent === null ? null : new Set(sent);
  for (const resource of reported) {
    const target = sentTargetOf(resource.target, sent, sentSet, taken);
    if (target === 'duplicate') result.duplicated.push(resource.target);
    else if (target === null) result.notSent.push(resource.target);
    else {
      taken.add(target);
      result.measured.push({ target, result: resource });
    }
  }
  if (sent !== null) result.missing = sent.filter((target) => !taken.has(target));
  return result;
}

function sentTargetOf(
  reported: string,
  sent: readonly string[] | null,
  sentSet: ReadonlySet<string> | null,
  taken: ReadonlySet<string>,
): string | 'duplicate' | null {
  if (sent === null || sentSet === null) return taken.has(reported) ? 'duplicate' : reported;
  if (sentSet.has(reported)) return taken.has(reported) ? 'duplicate' : reported;
  const clipped = clippedFormOf(reported);
  if (clipped === null) return null;
  const candidates = sent.filter((s) => s.length === clipped.length && s.startsWith(clipped.prefix));
  if (candidates.length === 0) return null;
  return candidates.find((s) => !taken.has(s)) ?? 'duplicate';
}
