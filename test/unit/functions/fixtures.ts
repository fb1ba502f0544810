/**
 * Builders shared by the functions' tests: result documents as the agent
 * prints them, an in-memory log sink, a metrics recorder and a stdout capture.
 */

import { RESULT_SCHEMA, type ResultDocument } from '../../../common/result-schema.ts';
import type { HostSettings } from '../../../functions/config.ts';
import type { LogEvent, LogSink, RecordLookup } from '../../../functions/logs/log-writer.ts';
import type { HostMeasurement, HostWindow, RoundMetrics } from '../../../functions/metrics/emit-metrics.ts';

export const DEFAULTS: HostSettings = {
  resources: '10.0.0.1',
  count: 10,
  intervalSec: 1,
  latencyThresholdMs: 75,
  lossThresholdPct: 5,
  hops: 3,
  lossRule: 'persistent',
  tcpPort: 443,
  jitterThresholdMs: 0,
};

export function instanceId(n: number): string {
  return `i-${n.toString(16).padStart(17, '0')}`;
}

export function resultDocument(overrides: Partial<ResultDocument> = {}, flagged = false): ResultDocument {
  const hops = [
    {
      ttl: 1,
      host: '10.81.0.1',
      lossPct: 0,
      sent: 10,
      lastMs: 1,
      avgMs: 1.2,
      bestMs: 1,
      worstMs: 2,
      stdevMs: 0.1,
      jitterMs: 0.2,
    },
    {
      ttl: 2,
      host: '10.0.0.1',
      lossPct: flagged ? 30 : 0,
      sent: 10,
      lastMs: 90,
      avgMs: flagged ? 120 : 20,
      bestMs: 80,
      worstMs: 140,
      stdevMs: 5,
      jitterMs: flagged ? 9.5 : 1.5,
    },
  ];
  return {
    schema: RESULT_SCHEMA,
    agentVersion: '1.0.0',
    hostname: 'connector-1',
    outcome: 'completed',
    error: null,
    mtrId: flagged ? '20260101120000' : '0',
    startedAt: '2026-01-01T12:00:00.000Z',
    finishedAt: '2026-01-01T12:00:12.000Z',
    timings: { totalMs: 12000, probesMs: 11000, gatewayDiscoveryMs: 20 },
    settings: null,
    summary: {
      resources: 1,
      flagged: flagged ? 1 : 0,
      latencyFlag: flagged,
      lossFlag: flagged,
      worstLatencyMs: flagged ? 120 : 20,
      worstLossPct: flagged ? 30 : 0,
      jitterFlag: false,
      worstJitterMs: flagged ? 9.5 : 1.5,
    },
    resources: [
      {
        target: '10.0.0.1',
        address: '10.0.0.1',
        method: 'icmp',
        latencyMs: flagged ? 120 : 20,
        latencyBasis: 'icmp-echo',
        requestMs: null,
        lossPct: flagged ? 30 : 0,
        latencyFlag: flagged,
        lossFlag: flagged,
        verdict: flagged ? 'latency+loss' : 'ok',
        unmeasured: null,
        trouble: null,
        hops,
        errors: [],
        durationMs: 11000,
        jitterMs: flagged ? 9.5 : 1.5,
      },
    ],
    gateway: { ip: '203.0.113.5', source: 'openvpn3', latencyMs: 10, lossPct: 0, hops, errors: [] },
    // Keys deliberately not in SEED_KEYS order: the writer must restore it.
    seed: {
      'MTR-ID_(YYYYMMDDHHMMSS)': flagged ? '20260101120000' : '0',
      HOSTNAME: 'connector-1',
      'RESOURCE(S)': ['10.0.0.1'],
      GATEWAY_IP: '203.0.113.5',
      LATENCY_FLAG: flagged ? '1' : '0',
      'LATENCY_(ms)': flagged ? '120.0' : '20.0',
      'LATENCY_THRESHOLD_(ms)': '75',
      LOSS_FLAG: flagged ? '1' : '0',
      'HOP_LOSS_(%)': flagged ? '30.0' : '0.0',
      'LOSS_THRESHOLD_(%)': '5',
    },
    files: [],
    warnings: [],
    truncated: null,
    ...overrides,
  };
}

/** Log sink that keeps everything in memory and answers record look-ups from it. */
export class MemoryLogSink implements LogSink, RecordLookup {
  readonly streams = new Map<string, LogEvent[]>();
  writes = 0;
  failFor = new Set<string>();

  async write(stream: string, events: LogEvent[]): Promise<void> {
    if (this.failFor.has(stream)) throw new Error(`write to ${stream} failed`);
    this.writes++;
    const list = this.streams.get(stream) ?? [];
    list.push(...events);
    this.streams.set(stream, list);
  }

  async findRecord(stream: string, sinceMs: number, marker: string): Promise<string | null> {
    return (
      (this.streams.get(stream) ?? []).find((e) => e.timestamp >= sinceMs && e.message.includes(marker))
        ?.message ?? null
    );
  }

  /** The monitor's own records (not the seed lines). */
  records(stream: string): Record<string, unknown>[] {
    return (this.streams.get(stream) ?? [])
      .filter((e) => e.message.startsWith('{'))
      .map((e) => JSON.parse(e.message) as Record<string, unknown>)
      .filter((r) => 'record' in r);
  }
}

/**
 * The metrics port, recorded: each outcome list holds what the metric of that
 * name counts (hosts outside a maintenance window); `inWindow` the outcome
 * calls for hosts in one, which emit nothing (emit-metrics.ts).
 */
export class RecordingMetrics implements RoundMetrics {
  readonly checkedHosts: HostMeasurement[] = [];
  readonly failedHosts: string[] = [];
  readonly blindHosts: string[] = [];
  readonly misconfiguredHosts: string[] = [];
  readonly maintenanceHosts: string[] = [];
  readonly inWindow: { failed: string[]; blind: string[]; misconfigured: string[] } = {
    failed: [],
    blind: [],
    misconfigured: [],
  };
  zeroes: { blind: number; misconfigured: number; inMaintenance?: number } | null = null;
  enrolledCounts: number[] = [];
  checked(host: HostMeasurement): void {
    this.checkedHosts.push(host);
  }
  failed(id: string, window: HostWindow): void {
    (window.inMaintenance ? this.inWindow.failed : this.failedHosts).push(id);
  }
  blind(id: string, window: HostWindow): void {
    (window.inMaintenance ? this.inWindow.blind : this.blindHosts).push(id);
  }
  misconfigured(id: string, window: HostWindow): void {
    (window.inMaintenance ? this.inWindow.misconfigured : this.misconfiguredHosts).push(id);
  }
  inMaintenance(id: string): void {
    this.maintenanceHosts.push(id);
  }
  enrolled(count: number): void {
    this.enrolledCounts.push(count);
  }
  zeroDispatchCounters(counts: { blind: number; misconfigured: number; inMaintenance?: number }): void {
    this.zeroes = counts;
  }
  flush(): void {}
}

/** Captures what is written to process.stdout while `fn` runs (Powertools prints EMF there). */
export function captureStdout(fn: () => void): string[] {
  const lines: string[] = [];
  const original = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array) => {
    lines.push(
      ...String(chunk)
        .split('\n')
        .filter((l) => l !== ''),
    );
    return true;
  }) as typeof process.stdout.write;
  try {
    fn();
  } finally {
    process.stdout.write = original;
  }
  return lines;
}

/** Collects the collector's structured log lines instead of printing them. */
export function logCapture(): {
  lines: Record<string, unknown>[];
  log: (line: Record<string, unknown>) => void;
} {
  const lines: Record<string, unknown>[] = [];
  return { lines, log: (line) => lines.push(line) };
}

/** An SQS record as the Lambda event source delivers it. */
export function sqsRecord(messageId: string, body: string, receiveCount = '1') {
  return {
    messageId,
    body,
    receiptHandle: 'h',
    attributes: {
      ApproximateReceiveCount: receiveCount,
      SentTimestamp: '0',
      SenderId: 's',
      ApproximateFirstReceiveTimestamp: '0',
    },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn',
    awsRegion: 'eu-west-1',
  };
}
