/**
 * The metrics contract between the collector (which emits them) and the stack
 * (whose alarms and dashboard read them). Every distinct name + dimension set is
 * a billed custom metric, so each fact is emitted under exactly one name.
 */
import { SEED_MAINTENANCE_KEY } from './stream-seed-line.ts';

export const METRIC_NAMESPACE = 'CloudConnexa';

/** The old script's metric filter target; kept so existing alarms keep working. */
export const LEGACY_METRIC = 'HighLatencyOrLoss';
/**
 * The old script's filter, `{ ($.LATENCY_FLAG = "1") || ($.LOSS_FLAG = "1") }`,
 * narrowed to lines written outside a maintenance window: the collector adds
 * SEED_MAINTENANCE_KEY to a host's seed line while it is in one
 * (common/stream-seed-line.ts). `NOT EXISTS` is true exactly for a line without the
 * key, so the old script's, an old agent's and every line outside a window
 * count as before; a comparison such as `!=` on a missing key would be false
 * and drop them (CloudWatch Logs User Guide, "Using filter patterns to match
 * terms in JSON log events"; test/helpers/filter-pattern.ts runs these
 * semantics over the lines the collector writes).
 */
export const LEGACY_FILTER_PATTERN = `{ (($.LATENCY_FLAG = "1") || ($.LOSS_FLAG = "1")) && ($.${SEED_MAINTENANCE_KEY} NOT EXISTS) }`;

export type MetricGranularity = 'fleet' | 'host' | 'resource';
export const METRIC_GRANULARITIES: readonly MetricGranularity[] = ['fleet', 'host', 'resource'];

/** Fleet metrics: dimension Stage only. One data point per host-round; read with Sum or Maximum. */
export const FLEET_METRICS = {
  /** Written by dispatch once per round, 0 included: tells "nothing enrolled" from "no round ran". Read with Maximum. */
  hostsEnrolled: 'HostsEnrolled',
  hostsChecked: 'HostsChecked',
  hostsFlagged: 'HostsFlagged',
  hostsFailed: 'HostsFailed',
  hostsBlind: 'HostsBlind',
  hostsMisconfigured: 'HostsMisconfigured',
  worstLatencyMs: 'WorstLatencyMs',
  worstLossPct: 'WorstLossPct',
  /**
   * Written by dispatch: 1 per enrolled host in a maintenance window this round
   * (functions/dispatch/maintenance.ts), and one 0 per round. Read with Sum.
   */
  hostsInMaintenance: 'HostsInMaintenance',
  /** 1 per checked host whose tunnel was down or reconnecting (common/tunnel-rule.ts), else 0. Read with Sum. */
  tunnelsDown: 'TunnelsDown',
  /**
   * Resources whose path changed on a host this round (the agent's
   * `pathChange`): one data point per checked host-round, 0 included; read with Sum.
   */
  pathChanges: 'PathChanges',
} as const;

/** Per-host metrics (granularity host or resource): dimensions Stage, InstanceId. */
export const HOST_METRICS = {
  latencyMs: 'HostLatencyMs',
  lossPct: 'HostLossPct',
  flagged: 'HostFlagged',
  /** Worst mean jitter (ms) of the host's resources (issue 10). */
  jitterMs: 'HostJitterMs',
} as const;

/** Per-resource metrics (granularity resource): dimensions Stage, InstanceId, Resource. */
export const RESOURCE_METRICS = {
  latencyMs: 'ResourceLatencyMs',
  lossPct: 'ResourceLossPct',
  /** The resource's mean jitter (ms) (issue 10). */
  jitterMs: 'ResourceJitterMs',
} as const;

export const DIMENSIONS = { stage: 'Stage', instanceId: 'InstanceId', resource: 'Resource' } as const;

/** Custom metrics created per host for each granularity, with R resources per host. */
export function customMetricsPerHost(granularity: MetricGranularity, resourcesPerHost: number): number {
  const host = Object.keys(HOST_METRICS).length;
  const resource = Object.keys(RESOURCE_METRICS).length;
  if (granularity === 'fleet') return 0;
  if (granularity === 'host') return host;
  return host + resource * resourcesPerHost;
}
