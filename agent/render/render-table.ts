/**
 * The human view of a round: what an operator reads on a terminal. Every text
 * in it that came from outside the agent (targets, hop names from mtr, the
 * gateway from OpenVPN, the tunnel's status text, warnings and error messages
 * quoting them, file paths) is shown with its control characters escaped
 * (common/printable.ts): an ESC from a hop's name must not recolour or clear
 * the operator's terminal, nor a CR or bidirectional override forge what a
 * line appears to say.
 */
import { escapeControlCharacters as shown } from '../../common/printable.ts';
import type {
  ResourceResult,
  ResultDocument,
  TroubleSpot,
  TunnelResult,
} from '../../common/result-schema.ts';
import { causeOfFlags, tunnelCause, tunnelIsDown } from '../../common/tunnel-rule.ts';

const fmtMs = (v: number | null): string => (v === null ? '-' : `${v < 10 ? v.toFixed(2) : v.toFixed(1)} ms`);
const fmtPct = (v: number | null): string => (v === null ? '-' : `${v.toFixed(1)} %`);

function trouble(t: TroubleSpot | null): string {
  if (t === null) return '-';
  const where = t.side === 'tunnel' ? 'CloudConnexa side' : 'resource side';
  return `hop ${t.hop} ${t.host === null ? '???' : shown(t.host)} (${t.kind}, ${where})`;
}

function verdict(r: ResourceResult): string {
  if (r.verdict === 'ok') return 'OK';
  // Unmeasured is flagged (common/flag-rule.ts): the reason says what could not be done.
  if (r.unmeasured !== null) return `${r.verdict.toUpperCase()} (${r.unmeasured.reason})`;
  return r.verdict.toUpperCase();
}

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)];
}

const fmtBytes = (v: number): string =>
  v < 1000 ? `${v} B` : v < 1e6 ? `${(v / 1e3).toFixed(1)} kB` : `${(v / 1e6).toFixed(1)} MB`;

/** The header line: the tunnel's state, its counters since the last round, and whether it explains the flags. */
function tunnelLine(t: TunnelResult, flagged: number): string {
  const cause = tunnelCause(t).replace(
    /^tunnel \S+/,
    `Tunnel ${tunnelIsDown(t.state) ? t.state.toUpperCase() : t.state}`,
  );
  const counts = [
    t.reconnects === null ? null : `${t.reconnects} reconnect(s)`,
    t.bytesIn === null ? null : `${fmtBytes(t.bytesIn)} in`,
    t.bytesOut === null ? null : `${fmtBytes(t.bytesOut)} out`,
  ].filter((c) => c !== null);
  const since = counts.length === 0 ? '' : `; since the last round ${counts.join(', ')}`;
  const explains = t.explains ? ` — ${causeOfFlags(flagged)}` : '';
  // The cause quotes the tunnel's status text, which came from the host's OpenVPN.
  return shown(`${cause}${since}${explains}`);
}

export function renderTable(doc: ResultDocument): string {
  const out: string[] = [];
  if (doc.outcome !== 'completed') {
    out.push(`Round not run (${doc.outcome}): ${shown(doc.error?.message ?? 'unknown error')}`);
    return `${out.join('\n')}\n`;
  }
  if (doc.tunnel) out.push(tunnelLine(doc.tunnel, doc.summary.flagged), '');
  const rows = doc.resources.map((r) => [
    shown(r.target),
    r.address !== null && r.address !== r.target ? shown(r.address) : '',
    r.method ?? '-',
    fmtMs(r.latencyMs),
    fmtPct(r.lossPct),
    verdict(r),
    trouble(r.trouble),
  ]);
  out.push(
    ...table(['TARGET', 'ADDRESS', 'METHOD', 'LATENCY', 'LOSS', 'VERDICT', 'TROUBLE STARTS AT'], rows),
  );
  for (const r of doc.resources) {
    if (r.method === 'http') {
      out.push(
        `${shown(r.target)}: latency is the TCP connect time of each request; the whole request took ${fmtMs(r.requestMs)}`,
      );
    }
  }
  out.push('');
  const g = doc.gateway;
  if (g?.ip) {
    out.push(
      `Gateway ${shown(g.ip)} (from ${g.source}): latency ${fmtMs(g.latencyMs)}, loss ${fmtPct(g.lossPct)}`,
    );
  } else {
    out.push('Gateway: not found');
  }
  const s = doc.settings;
  if (s !== null) {
    out.push(
      `Thresholds: latency > ${s.latencyThresholdMs} ms, loss > ${s.lossThresholdPct} % (${s.lossRule}), first ${s.hops} hops; ${s.count} probes every ${s.intervalSec} s`,
    );
  }
  out.push(
    `${doc.summary.flagged} of ${doc.summary.resources} resource(s) flagged; MTR id ${doc.mtrId}; round took ${(doc.timings.totalMs / 1000).toFixed(1)} s`,
  );
  for (const f of doc.files) out.push(`wrote ${shown(f.path)}`);
  for (const w of doc.warnings) out.push(`warning: ${shown(w)}`);
  return `${out.join('\n')}\n`;
}
