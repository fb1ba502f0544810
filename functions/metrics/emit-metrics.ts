/**
 * Metrics per common/metric-names.ts, as Embedded Metric Format lines written
 * by Powertools Metrics to the function's own log output (no PutMetricData
 * calls, no extra IAM).
 *
 * Fleet metrics carry one data point per host-round (read with Sum or
 * Maximum), so a batch of 10 jobs and a batch of 1 job add up the same way.
 * Each fact has exactly one name: a failed host is HostsFailed, never also
 * HostsChecked; a blind host is HostsBlind only.
 */
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import {
  DIMENSIONS,
  FLEET_METRICS,
  HOST_METRICS,
  type MetricGranularity,
  RESOURCE_METRICS,
} from '../../common/metric-names.ts';

export interface HostMeasurement {
  instanceId: string;
  flagged: boolean;
  worstLatencyMs: number | null;
  worstLossPct: number | null;
  resources: { target: string; latencyMs: number | null; lossPct: number }[];
}

/** The metrics port used by dispatch and collection. */
export interface RoundMetrics {
  checked(host: HostMeasurement): void;
  failed(instanceId: string): void;
  blind(instanceId: string): void;
  misconfigured(instanceId: string): void;
  /**
   * Dispatch calls this once per round with the number of enrolled hosts, 0
   * included: the monitoring-blind alarm tells "nothing enrolled yet" (0) from
   * "no round ran" (no data point) by it.
   */
  enrolled(count: number): void;
  /**
   * Dispatch calls this once per round so that HostsBlind and HostsMisconfigured
   * have a data point (zero) even when no host is blind: the "monitoring blind"
   * alarm treats missing data as breaching.
   */
  zeroDispatchCounters(counts: { blind: number; misconfigured: number }): void;
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

function createInstance(options: MetricsOptions): Metrics {
  const metrics = new Metrics({ namespace: options.namespace, serviceName: options.serviceName });
  // Powertools adds a `service` dimension by default; the contract (and the
  // alarms reading it) is Stage only, and every extra dimension would be a
  // separately billed metric.
  metrics.clearDefaultDimensions();
  metrics.setDefaultDimensions({ [DIMENSIONS.stage]: options.stage });
  return metrics;
}

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

  return {
    checked(m) {
      fleet.addMetric(FLEET_METRICS.hostsChecked, MetricUnit.Count, 1);
      fleet.addMetric(FLEET_METRICS.hostsFlagged, MetricUnit.Count, m.flagged ? 1 : 0);
      if (m.worstLatencyMs !== null)
        fleet.addMetric(FLEET_METRICS.worstLatencyMs, MetricUnit.Milliseconds, m.worstLatencyMs);
      if (m.worstLossPct !== null)
        fleet.addMetric(FLEET_METRICS.worstLossPct, MetricUnit.Percent, m.worstLossPct);
      if (host !== undefined) {
        host.addDimension(DIMENSIONS.instanceId, m.instanceId);
        if (m.worstLatencyMs !== null)
          host.addMetric(HOST_METRICS.latencyMs, MetricUnit.Milliseconds, m.worstLatencyMs);
        if (m.worstLossPct !== null) host.addMetric(HOST_METRICS.lossPct, MetricUnit.Percent, m.worstLossPct);
        host.addMetric(HOST_METRICS.flagged, MetricUnit.Count, m.flagged ? 1 : 0);
        publish(host);
      }
      if (resource !== undefined) {
        for (const r of m.resources) {
          resource.addDimension(DIMENSIONS.instanceId, m.instanceId);
          resource.addDimension(DIMENSIONS.resource, r.target);
          if (r.latencyMs !== null)
            resource.addMetric(RESOURCE_METRICS.latencyMs, MetricUnit.Milliseconds, r.latencyMs);
          resource.addMetric(RESOURCE_METRICS.lossPct, MetricUnit.Percent, r.lossPct);
          publish(resource);
        }
      }
    },
    failed() {
      fleet.addMetric(FLEET_METRICS.hostsFailed, MetricUnit.Count, 1);
    },
    blind() {
      fleet.addMetric(FLEET_METRICS.hostsBlind, MetricUnit.Count, 1);
    },
    misconfigured() {
      fleet.addMetric(FLEET_METRICS.hostsMisconfigured, MetricUnit.Count, 1);
    },
    enrolled(count) {
      fleet.addMetric(FLEET_METRICS.hostsEnrolled, MetricUnit.Count, count);
    },
    zeroDispatchCounters(counts) {
      if (counts.blind === 0) fleet.addMetric(FLEET_METRICS.hostsBlind, MetricUnit.Count, 0);
      if (counts.misconfigured === 0) fleet.addMetric(FLEET_METRICS.hostsMisconfigured, MetricUnit.Count, 0);
    },
    flush() {
      if (fleet.hasStoredMetrics()) publish(fleet);
    },
  };
}
