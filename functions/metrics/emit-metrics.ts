/**
 * Metrics per common/metric-names.ts, as Embedded Metric Format lines written
 * by Powertools Metrics to the function's own log output (no PutMetricData
 * calls, no extra IAM).
 *
 * Fleet metrics carry one data point per host-round (read with Sum or
 * Maximum), so a batch of 10 jobs and a batch of 1 job add up the same way.
 * Each fact has exactly one name: a failed host is HostsFailed, never also
 * HostsChecked; a blind host is HostsBlind only.
 *
 * A host in a maintenance window (functions/dispatch/maintenance.ts) is
 * measured and recorded, but it stays out of every metric an alarm watches or
 * could watch, whatever the outcome of its round; this module is the one
 * place that leaves it out, and every call says whether the host is in one:
 * - checked: it counts in HostsChecked (the monitor worked: the
 *   monitoring-blind alarm's "no host collected" test reads it) and nothing
 *   else of it is written: no HostsFlagged, WorstLatencyMs, WorstLossPct,
 *   TunnelsDown or PathChanges data point, and no per-host or per-resource
 *   metric (an alarm on that host's HostLatencyMs sees no data point, i.e.
 *   missing data, until the window ends);
 * - failed, blind (unreachable, refused by SSM) or misconfigured: nothing is
 *   written. A host that fails, drops out of SSM or loses its tunnel while
 *   it is being worked on is what maintenance causes (reboots, agent and
 *   tunnel restarts), so it must not page through HostsFailed / HostsBlind
 *   (the monitoring-blind alarm).
 * Dispatch counts every enrolled host in a window in HostsInMaintenance, and
 * the monitoring-blind alarm subtracts it where it counts hosts sent but not
 * collected (serverless.yml). The host's records say all of it.
 */
import { createHash } from 'node:crypto';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import {
  DIMENSIONS,
  FLEET_METRICS,
  HOST_METRICS,
  type MetricGranularity,
  RESOURCE_METRICS,
} from '../../common/metric-names.ts';
import { LIMITS } from '../../common/settings.ts';

export interface HostMeasurement {
  instanceId: string;
  flagged: boolean;
  worstLatencyMs: number | null;
  worstLossPct: number | null;
  resources: { target: string; latencyMs: number | null; lossPct: number; jitterMs: number | null }[];
  /** In a maintenance window this round (decided by dispatch, carried in the collect job). */
  inMaintenance?: boolean;
  /** The host's tunnel was down or reconnecting; null or absent when its document has no tunnel. */
  tunnelDown?: boolean | null;
  /** Resources whose path changed this round (of those sent). */
  pathChanges: number;
  /** The highest jitterMs of the resources; null when none has one. */
  worstJitterMs: number | null;
}

/**
 * Whether a host is in a maintenance window this round (dispatch's decision,
 * functions/dispatch/maintenance.ts, carried to the collector in the collect
 * job). Every outcome call takes it, so no call site can forget it.
 */
export interface HostWindow {
  inMaintenance: boolean;
}

/** The metrics port used by dispatch and collection. */
export interface RoundMetrics {
  checked(host: HostMeasurement): void;
  /** HostsFailed, unless the host is in a maintenance window (then nothing). */
  failed(instanceId: string, window: HostWindow): void;
  /** HostsBlind, unless the host is in a maintenance window (then nothing). */
  blind(instanceId: string, window: HostWindow): void;
  /** HostsMisconfigured, unless the host is in a maintenance window (then nothing). */
  misconfigured(instanceId: string, window: HostWindow): void;
  /** Dispatch: an enrolled host in a maintenance window this round (HostsInMaintenance). */
  inMaintenance(instanceId: string): void;
  /**
   * Dispatch calls this once per round with the number of enrolled hosts, 0
   * included: the monitoring-blind alarm tells "nothing enrolled yet" (0) from
   * "no round ran" (no data point) by it.
   */
  enrolled(count: number): void;
  /**
   * Dispatch calls this once per round so that HostsBlind and HostsMisconfigured
   * have a data point (zero) even when no host is blind: the "monitoring blind"
   * alarm treats missing data as breaching. The counts are of the hosts counted
   * under those names, i.e. outside a maintenance window.
   */
  zeroDispatchCounters(counts: { blind: number; misconfigured: number; inMaintenance?: number }): void;
  flush(): void;
}

export interface MetricsOptions {
  namespace: string;
  serviceName: string;
  stage: string;
  granularity: MetricGranularity;
  /**
   * Where EMF lines go. Default: Powertools' own output (the function's stdout,
   * which Lambda ships to CloudWatch). The local run writes them to a file.
   */
  write?: (emfLine: string) => void;
}

/**
 * CloudWatch's MetricDatum Value: finite, and 0 or of a magnitude within
 * 8.515920e-109 .. 1.174271e+108 (CloudWatch API reference, MetricDatum).
 */
export const METRIC_VALUE_MAGNITUDE = { min: 8.51592e-109, max: 1.174271e108 } as const;

/**
 * CloudWatch's Dimension Value: 1..1024 characters, ASCII only, no ASCII
 * control characters, at least one non-whitespace character (CloudWatch API
 * reference, Dimension).
 */
export const DIMENSION_VALUE_MAX_CHARS = 1024;

/** Powertools publishes a line on its own (to stdout) when a metric reaches 100 values. */
const FLEET_CALLS_PER_LINE = 99;

/**
 * A number CloudWatch accepts, or null: not finite, outside `range`, or too
 * large for CloudWatch. A magnitude too small for CloudWatch is 0.
 */
export function metricValue(value: number, range: { min: number; max: number }): number | null {
  if (!Number.isFinite(value) || value < range.min || value > range.max) return null;
  const magnitude = Math.abs(value);
  if (magnitude > METRIC_VALUE_MAGNITUDE.max) return null;
  return magnitude < METRIC_VALUE_MAGNITUDE.min ? 0 : value;
}

const MS_RANGE = { min: 0, max: Number.MAX_VALUE } as const;
const PERCENT_RANGE = { min: 0, max: 100 } as const;
const COUNT_RANGE = { min: 0, max: LIMITS.maxResources } as const;

/**
 * A dimension value CloudWatch accepts, made from `text`: printable ASCII is
 * kept, every other character is written as its UTF-8 bytes `%XX` (a URL
 * with a non-ASCII path stays readable and distinct), and a value longer
 * than the limit is cut and ends in a hash of the whole text, so two long
 * values stay apart. Null when nothing but whitespace is left.
 */
export function dimensionValue(text: string): string | null {
  let value = '';
  for (const char of text) {
    const code = char.codePointAt(0) ?? 0;
    if (code >= 0x20 && code < 0x7f) value += char;
    else
      value += [...Buffer.from(char, 'utf8')]
        .map((byte) => `%${byte.toString(16).toUpperCase().padStart(2, '0')}`)
        .join('');
  }
  if (value.trim() === '') return null;
  if (value.length <= DIMENSION_VALUE_MAX_CHARS) return value;
  const hash = createHash('sha256').update(text).digest('hex').slice(0, 16);
  return `${value.slice(0, DIMENSION_VALUE_MAX_CHARS - hash.length - 1)}~${hash}`;
}

/** One host's metric values, all accepted by CloudWatch; resources once each, at most LIMITS.maxResources. */
interface HostValues {
  instanceId: string | null;
  flagged: number;
  latencyMs: number | null;
  lossPct: number | null;
  pathChanges: number | null;
  resources: {
    dimension: string;
    latencyMs: number | null;
    lossPct: number | null;
    jitterMs: number | null;
  }[];
  jitterMs: number | null;
}

function valuesOf(m: HostMeasurement): HostValues {
  const resources: HostValues['resources'] = [];
  const seen = new Set<string>();
  for (const r of m.resources) {
    if (resources.length >= LIMITS.maxResources) break;
    const dimension = dimensionValue(r.target);
    if (dimension === null || seen.has(dimension)) continue;
    seen.add(dimension);
    resources.push({
      dimension,
      latencyMs: r.latencyMs === null ? null : metricValue(r.latencyMs, MS_RANGE),
      lossPct: metricValue(r.lossPct, PERCENT_RANGE),
      jitterMs: r.jitterMs === null ? null : metricValue(r.jitterMs, MS_RANGE),
    });
  }
  return {
    instanceId: dimensionValue(m.instanceId),
    flagged: m.flagged ? 1 : 0,
    latencyMs: m.worstLatencyMs === null ? null : metricValue(m.worstLatencyMs, MS_RANGE),
    lossPct: m.worstLossPct === null ? null : metricValue(m.worstLossPct, PERCENT_RANGE),
    pathChanges: Number.isInteger(m.pathChanges) ? metricValue(m.pathChanges, COUNT_RANGE) : null,
    resources,
    jitterMs: m.worstJitterMs === null ? null : metricValue(m.worstJitterMs, MS_RANGE),
  };
}

function createInstance(options: MetricsOptions): Metrics {
  const metrics = new Metrics({ namespace: options.namespace, serviceName: options.serviceName });
  // Powertools adds a `service` dimension by default; the contract (and the
  // alarms reading it) is Stage only, and every extra dimension would be a
  // separately billed metric.
  metrics.clearDefaultDimensions();
  metrics.setDefaultDimensions({ [DIMENSIONS.stage]: options.stage });
  return metrics;
}

/**
 * Metrics are emitted from host data, which is untrusted (see
 * common/result-schema.ts), and the fleet line is shared by every host of a
 * batch. So every value is checked again here (finite, in range, within
 * CloudWatch's limits; a bad one is left out, never written as null), every
 * dimension value is made valid, and a per-host line that cannot be built is
 * dropped whole, its state cleared so that nothing of it reaches the next
 * host's line; no call throws.
 */
export function createEmfMetrics(options: MetricsOptions): RoundMetrics {
  const { write } = options;
  // Same steps as Powertools' publishStoredMetrics, with the line handed to `write`.
  const publish = (metrics: Metrics): void => {
    if (write === undefined) {
      metrics.publishStoredMetrics();
      return;
    }
    if (metrics.hasStoredMetrics()) write(JSON.stringify(metrics.serializeMetrics()));
    metrics.clearMetrics();
    metrics.clearDimensions();
    metrics.clearMetadata();
  };
  const fleet = createInstance(options);
  const perHost = options.granularity === 'host' || options.granularity === 'resource';
  const perResource = options.granularity === 'resource';
  const host = perHost ? createInstance(options) : undefined;
  const resource = perResource ? createInstance(options) : undefined;

  // Each call adds at most one value per fleet metric: publishing every 99 calls
  // keeps every metric under Powertools' 100 values, which it would otherwise
  // publish itself, past `write`.
  let fleetCalls = 0;
  const addFleet = (add: () => void): void => {
    if (fleetCalls >= FLEET_CALLS_PER_LINE) {
      guarded(null, 'fleet', () => publish(fleet));
      fleetCalls = 0;
    }
    fleetCalls++;
    guarded(null, 'fleet', add);
  };

  /**
   * Runs one line's steps; a fault is logged, never thrown. A per-host or
   * per-resource instance (`clear`) is then cleared, so nothing of the line
   * reaches the next one; the fleet instance is not, as it holds the other
   * hosts' values.
   */
  const guarded = (clear: Metrics | null, what: string, steps: () => void): void => {
    try {
      steps();
    } catch (error) {
      clear?.clearMetrics();
      clear?.clearDimensions();
      clear?.clearMetadata();
      console.error(
        JSON.stringify({
          message: `${what} metrics dropped: they could not be emitted`,
          error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
        }),
      );
    }
  };

  return {
    checked(m) {
      if (m.inMaintenance === true) {
        // Checked, and nothing else: see the module comment.
        addFleet(() => fleet.addMetric(FLEET_METRICS.hostsChecked, MetricUnit.Count, 1));
        return;
      }
      const values = valuesOf(m);
      addFleet(() => {
        fleet.addMetric(FLEET_METRICS.hostsChecked, MetricUnit.Count, 1);
        fleet.addMetric(FLEET_METRICS.hostsFlagged, MetricUnit.Count, values.flagged);
        if (values.latencyMs !== null)
          fleet.addMetric(FLEET_METRICS.worstLatencyMs, MetricUnit.Milliseconds, values.latencyMs);
        if (values.lossPct !== null)
          fleet.addMetric(FLEET_METRICS.worstLossPct, MetricUnit.Percent, values.lossPct);
        if (typeof m.tunnelDown === 'boolean')
          fleet.addMetric(FLEET_METRICS.tunnelsDown, MetricUnit.Count, m.tunnelDown ? 1 : 0);
        if (values.pathChanges !== null)
          fleet.addMetric(FLEET_METRICS.pathChanges, MetricUnit.Count, values.pathChanges);
      });
      const instanceId = values.instanceId;
      if (instanceId === null) return;
      if (host !== undefined) {
        guarded(host, `host ${instanceId}`, () => {
          host.addDimension(DIMENSIONS.instanceId, instanceId);
          if (values.latencyMs !== null)
            host.addMetric(HOST_METRICS.latencyMs, MetricUnit.Milliseconds, values.latencyMs);
          if (values.lossPct !== null)
            host.addMetric(HOST_METRICS.lossPct, MetricUnit.Percent, values.lossPct);
          host.addMetric(HOST_METRICS.flagged, MetricUnit.Count, values.flagged);
          if (values.jitterMs !== null)
            host.addMetric(HOST_METRICS.jitterMs, MetricUnit.Milliseconds, values.jitterMs);
          publish(host);
        });
      }
      if (resource !== undefined) {
        for (const r of values.resources) {
          if (r.latencyMs === null && r.lossPct === null) continue;
          guarded(resource, `resource ${instanceId} ${r.dimension}`, () => {
            resource.addDimension(DIMENSIONS.instanceId, instanceId);
            resource.addDimension(DIMENSIONS.resource, r.dimension);
            if (r.latencyMs !== null)
              resource.addMetric(RESOURCE_METRICS.latencyMs, MetricUnit.Milliseconds, r.latencyMs);
            if (r.lossPct !== null)
              resource.addMetric(RESOURCE_METRICS.lossPct, MetricUnit.Percent, r.lossPct);
            if (r.jitterMs !== null)
              resource.addMetric(RESOURCE_METRICS.jitterMs, MetricUnit.Milliseconds, r.jitterMs);
            publish(resource);
          });
        }
      }
    },
    // In a window: nothing (see the module comment); dispatch counted it in HostsInMaintenance.
    failed(_instanceId, window) {
      if (window.inMaintenance) return;
      addFleet(() => fleet.addMetric(FLEET_METRICS.hostsFailed, MetricUnit.Count, 1));
    },
    blind(_instanceId, window) {
      if (window.inMaintenance) return;
      addFleet(() => fleet.addMetric(FLEET_METRICS.hostsBlind, MetricUnit.Count, 1));
    },
    misconfigured(_instanceId, window) {
      if (window.inMaintenance) return;
      addFleet(() => fleet.addMetric(FLEET_METRICS.hostsMisconfigured, MetricUnit.Count, 1));
    },
    inMaintenance() {
      addFleet(() => fleet.addMetric(FLEET_METRICS.hostsInMaintenance, MetricUnit.Count, 1));
    },
    enrolled(count) {
      fleet.addMetric(FLEET_METRICS.hostsEnrolled, MetricUnit.Count, count);
    },
    zeroDispatchCounters(counts) {
      addFleet(() => {
        if (counts.blind === 0) fleet.addMetric(FLEET_METRICS.hostsBlind, MetricUnit.Count, 0);
        if (counts.misconfigured === 0)
          fleet.addMetric(FLEET_METRICS.hostsMisconfigured, MetricUnit.Count, 0);
        // The dashboard's maintenance line shows 0, not a gap, when no host is in a window.
        if (counts.inMaintenance === 0)
          fleet.addMetric(FLEET_METRICS.hostsInMaintenance, MetricUnit.Count, 0);
      });
    },
    flush() {
      guarded(null, 'fleet', () => {
        if (fleet.hasStoredMetrics()) publish(fleet);
      });
      fleetCalls = 0;
    },
  };
}
