/** The text `npm start` prints after a local round. */
import { relative } from 'node:path';
import { renderTable } from '../../agent/render/render-table.ts';
import { FLEET_METRICS } from '../../common/metric-names.ts';
import { escapeControlCharacters } from '../../common/printable.ts';
import type { HostReport, LocalRoundReport } from './run-local-round.ts';

function shown(path: string, cwd: string): string {
  const rel = relative(cwd, path);
  return rel === '' || rel.startsWith('..') ? path : rel;
}

function hostSection(host: HostReport): string[] {
  const lines = [`--- ${host.instanceId}: ${host.state} ---`];
  if (host.result !== null) {
    lines.push(renderTable(host.result).trimEnd());
    return lines;
  }
  // Record texts come from the host (stderr, agent messages): shown with control characters escaped.
  for (const record of host.records) {
    const error = record.error as { code?: string; message?: string } | undefined;
    const parts = [`${String(record.record)}: ${String(record.status ?? '')}`];
    if (error?.message !== undefined) parts.push(`${error.code ?? ''} ${error.message}`.trim());
    if (typeof record.message === 'string') parts.push(record.message);
    lines.push(escapeControlCharacters(parts.join(' - ')));
    if (typeof record.stderr === 'string' && record.stderr.trim() !== '') {
      const stderr = record.stderr.trim().split('\n').map(escapeControlCharacters).join('\n');
      lines.push(`stderr: ${stderr}`);
    }
  }
  if (host.records.length === 0) lines.push('no record of this round in the stream');
  return lines;
}

/** Sum (counts) or maximum (worst figures) of each fleet metric over EMF lines, as the alarms read them. */
export function fleetTotals(emfLines: string[]): string {
  const totals = new Map<string, number>();
  const worst = new Set<string>([FLEET_METRICS.worstLatencyMs, FLEET_METRICS.worstLossPct]);
  for (const line of emfLines) {
    const emf = JSON.parse(line) as Record<string, unknown>;
    for (const name of Object.values(FLEET_METRICS)) {
      if (!(name in emf) || 'InstanceId' in emf) continue;
      const raw = emf[name];
      const values = (Array.isArray(raw) ? raw : [raw]).map(Number);
      const previous = totals.get(name);
      const value = worst.has(name)
        ? Math.max(previous ?? Number.NEGATIVE_INFINITY, ...values)
        : (previous ?? 0) + values.reduce((a, b) => a + b, 0);
      totals.set(name, value);
    }
  }
  return Object.values(FLEET_METRICS)
    .filter((name) => totals.has(name))
    .map((name) => `${name}=${totals.get(name)}`)
    .join(' ');
}

export function formatSummary(report: LocalRoundReport, cwd = process.cwd()): string {
  const c = report.counts;
  const lines = [
    '',
    `Round ${report.roundId} (stage ${report.config.stage}, metric granularity ${report.config.metricGranularity})`,
    `hosts: ${c.dispatched} dispatched, ${c.checked} checked, ${c.flagged} flagged, ${c.failed} failed, ${c.blind} blind, ${c.misconfigured} misconfigured`,
  ];
  const fleet = fleetTotals(report.emf);
  if (fleet !== '') lines.push(`fleet metrics this round: ${fleet}`);
  const dead = report.collect.drain.deadLetters.length;
  if (dead > 0) lines.push(`collect jobs in the dead-letter queue: ${dead}`);
  for (const host of report.hosts) lines.push('', ...hostSection(host));
  lines.push(
    '',
    'Files:',
    ...report.files.logStreams.map((p) => `  log stream      ${shown(p, cwd)}`),
    `  metrics (EMF)   ${shown(report.files.metrics, cwd)} (${report.emf.length} line(s) this round)`,
    `  agent log dir   ${shown(report.files.agentLogDir, cwd)}`,
    `  SSM work dir    ${shown(report.files.ssmWorkDir, cwd)}`,
  );
  return `${lines.join('\n')}\n`;
}
