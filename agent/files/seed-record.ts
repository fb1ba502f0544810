/**
 * The old tool's JSON line (see common/result-schema.ts SeedRecord). CloudWatch
 * metric filters and alarms written for the Bash script match on these keys and
 * string values, so key order, types and number formats are a contract; the
 * line's text is common/seed-line.ts serializeSeedRecord.
 */
import { isFlagged, setsSeedLatencyFlag } from '../../common/flag-rule.ts';
import { formatFixed1 } from '../../common/mtr-report-text.ts';
import type { ResourceResult, RoundSettings, SeedRecord } from '../../common/result-schema.ts';

type SeverityThresholds = Pick<
  RoundSettings,
  'latencyThresholdMs' | 'lossThresholdPct' | 'jitterThresholdMs'
>;

export interface SeedInput {
  hostname: string;
  resources: ResourceResult[];
  gatewayIp: string | null;
  settings: SeverityThresholds;
  /** The round's id; recorded only when something is flagged (see buildSeedRecord). */
  mtrId: string;
}

/**
 * Builds the record. The flags follow the flag rule (common/flag-rule.ts): an
 * unmeasured resource sets LOSS_FLAG "1", a jitter flag LATENCY_FLAG "1". MTR-ID is the round's id when a flag
 * is set and "0" when the round is clean: MTR text files exist only for flagged
 * rounds, so an id in a clean line would point at files that were never
 * written (a flagged round may still have none: a resource with 100 % loss or
 * unmeasured has no MTR-RESOURCE section, and without a gateway there is no
 * MTR-GATEWAY file).
 */
export function buildSeedRecord(input: SeedInput): SeedRecord {
  const { resources, settings } = input;
  const latencyFlag = resources.some(setsSeedLatencyFlag);
  const lossFlag = resources.some((r) => r.lossFlag);
  const shown = pickShownResource(resources, settings);
  return {
    HOSTNAME: input.hostname,
    'RESOURCE(S)': resources.map((r) => r.target),
    GATEWAY_IP: input.gatewayIp ?? 'N/A',
    LATENCY_FLAG: latencyFlag ? '1' : '0',
    'LATENCY_(ms)': formatMeasurement(shown?.latencyMs ?? null),
    'LATENCY_THRESHOLD_(ms)': formatThreshold(settings.latencyThresholdMs),
    LOSS_FLAG: lossFlag ? '1' : '0',
    'HOP_LOSS_(%)': formatMeasurement(shown?.lossPct ?? null),
    'LOSS_THRESHOLD_(%)': formatThreshold(settings.lossThresholdPct),
    'MTR-ID_(YYYYMMDDHHMMSS)': latencyFlag || lossFlag ? input.mtrId : '0',
  };
}

/**
 * The old script showed the last resource checked, which hid the one in
 * trouble. Now the worst flagged resource is shown (largest excess over a
 * threshold); with nothing flagged, the last one. An unmeasured resource is
 * flagged with 100 % loss, so it shows as `HOP_LOSS_(%)` "100.0" and
 * `LATENCY_(ms)` "0.0" (no latency) next to LOSS_FLAG "1" when it is the worst,
 * as an unreachable one does. No resources: nothing is shown (0.0).
 */
function pickShownResource(
  resources: ResourceResult[],
  settings: SeverityThresholds,
): ResourceResult | undefined {
  let worst: ResourceResult | undefined;
  let worstScore = -1;
  for (const resource of resources) {
    if (!isFlagged(resource)) continue;
    const score = severity(resource, settings);
    if (
      worst === undefined ||
      score > worstScore ||
      (score === worstScore && tieBreak(resource, worst) > 0)
    ) {
      worst = resource;
      worstScore = score;
    }
  }
  return worst ?? resources[resources.length - 1];
}

function severity(resource: ResourceResult, settings: SeverityThresholds): number {
  const latency = resource.latencyMs ?? 0;
  const latencyRatio = settings.latencyThresholdMs > 0 ? latency / settings.latencyThresholdMs : 0;
  let lossRatio: number;
  if (settings.lossThresholdPct > 0) lossRatio = resource.lossPct / settings.lossThresholdPct;
  // A threshold of 0 means "no loss tolerated": any loss outranks every latency excess.
  else lossRatio = resource.lossPct > 0 ? Number.POSITIVE_INFINITY : 0;
  // Jitter counts only when it is judged (threshold set); off, it is 0.
  const jitterRatio =
    settings.jitterThresholdMs > 0 ? (resource.jitterMs ?? 0) / settings.jitterThresholdMs : 0;
  return Math.max(latencyRatio, lossRatio, jitterRatio);
}

/** Equal severity (typically several resources with loss at a 0 % threshold): more loss, then more latency. */
function tieBreak(a: ResourceResult, b: ResourceResult): number {
  if (a.lossPct !== b.lossPct) return a.lossPct - b.lossPct;
  return (a.latencyMs ?? 0) - (b.latencyMs ?? 0);
}

/**
 * One decimal rounded as mtr's report (glibc printf) rounds it, so the line
 * and the MTR file agree (80.25 is 80.2 in both); never measured shows 0.0.
 */
function formatMeasurement(value: number | null): string {
  if (value === null || !Number.isFinite(value)) return '0.0';
  const text = formatFixed1(value);
  return text === '-0.0' ? '0.0' : text;
}

/** Thresholds as the user gave them: 75, 5, 0.5 (no trailing zeros). */
function formatThreshold(value: number): string {
  return String(value);
}
