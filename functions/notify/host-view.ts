/**
 * One host's record as text: a one-line brief, and the detail an on-call
 * engineer needs to act (resources against thresholds, where trouble starts
 * and on which side, tunnel state, path changes, warnings, the MTR excerpt
 * CloudConnexa support asks for). Every value from the host passes `show`
 * (./safe-text.ts); the MTR text is the collector's own rendering of the
 * record's hops (common/mtr-report-text.ts roundMtrTexts), the same text the
 * collector writes next to the record and the agent into its MTR files.
 */
import { isFlagged } from '../../common/flag-rule.ts';
import { formatFixed1, roundMtrTexts } from '../../common/mtr-report-text.ts';
import type { ResourceResult, ResultDocument } from '../../common/result-schema.ts';
import type { HostRecord, PathChangeNote, TunnelNote } from './host-records.ts';
import { NOTIFY_LIMITS } from './limits.ts';
import { show } from './safe-text.ts';

export interface Thresholds {
  latencyMs: number;
  lossPct: number;
  hops: number;
}

const V = NOTIFY_LIMITS.valueMaxChars;

export const fmtMs = (v: number | null): string =>
  v === null ? '-' : `${v < 10 ? v.toFixed(2) : v.toFixed(1)} ms`;
export const fmtPct = (v: number | null): string => (v === null ? '-' : `${formatFixed1(v)} %`);

/** The thresholds the host was judged by: its own settings when the document has them, else the stage's. */
export function thresholdsOf(doc: ResultDocument | null, stage: Thresholds): Thresholds {
  const s = doc?.settings;
  return s === null || s === undefined
    ? stage
    : { latencyMs: s.latencyThresholdMs, lossPct: s.lossThresholdPct, hops: s.hops };
}

function verdictOf(r: ResourceResult): string {
  if (r.verdict === 'unmeasured') return `unmeasured (${r.unmeasured?.reason ?? '?'})`;
  return r.verdict;
}

function troubleOf(r: ResourceResult): string {
  const t = r.trouble;
  if (t === null) return '-';
  const side = t.side === 'tunnel' ? 'CloudConnexa (tunnel) side' : 'resource side';
  return `hop ${t.hop} ${show(t.host ?? '???', 64)}, ${side}`;
}

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

/** `db.corp.internal 120.4 ms > 75` style judgement of one resource, for briefs. */
export function resourceBrief(r: ResourceResult, t: Thresholds): string {
  const parts = [show(r.target, 60)];
  if (r.verdict === 'unmeasured') parts.push(`not measured (${r.unmeasured?.reason ?? '?'})`);
  else {
    if (r.latencyFlag) parts.push(`latency ${fmtMs(r.latencyMs)} > ${t.latencyMs}`);
    if (r.lossFlag) parts.push(`loss ${fmtPct(r.lossPct)} > ${t.lossPct}`);
  }
  if (r.trouble !== null) {
    parts.push(
      `trouble from hop ${r.trouble.hop}, ${r.trouble.side === 'tunnel' ? 'tunnel' : 'resource'} side`,
    );
  }
  return parts.join(' ');
}

export function tunnelText(t: TunnelNote | null): string | null {
  if (t === null) return null;
  const parts = [show(t.state ?? 'unknown', 24)];
  if (t.source !== null) parts.push(`(${show(t.source, 40)})`);
  let text = parts.join(' ');
  if (t.detail !== null && t.detail !== '') text += `: "${show(t.detail, V)}"`;
  if (t.extras.length > 0) text += `; ${t.extras.map(([k, v]) => `${k} ${show(v, 40)}`).join(', ')}`;
  return text;
}

function hopsAround(hops: (string | null)[], first: number | null): string {
  const from = first === null ? 0 : Math.max(0, first - 2);
  const shown = hops.slice(from, from + 6).map((h) => (h === null ? '???' : show(h, 48)));
  return `${from > 0 ? '… ' : ''}${shown.join(', ')}${from + 6 < hops.length ? ', …' : ''}`;
}

export function pathChangeText(p: PathChangeNote): string {
  const where = p.firstDifferentHop === null ? '' : ` at hop ${p.firstDifferentHop}`;
  return `${show(p.target, 60)} changed${where}: ${hopsAround(p.previousHops, p.firstDifferentHop)} -> ${hopsAround(p.hops, p.firstDifferentHop)}`;
}

/** The host's name as it reported it, or '-'. */
export const hostnameOf = (r: HostRecord): string => show(r.doc?.hostname ?? r.hostname, 64);

/** One line: who, and what is wrong (or right) with it. */
export function hostBrief(r: HostRecord, stage: Thresholds): string {
  const who = `${r.instanceId} (${hostnameOf(r)})`;
  if (r.kind !== 'result') {
    const what = r.kind === 'blind' ? 'not reachable' : r.kind;
    return `${who}: ${what}${r.status === null ? '' : ` [${show(r.status, 40)}]`}: ${show(r.message, V)}`;
  }
  const doc = r.doc;
  if (doc === null) return `${who}: ${show(r.problem, V)}`;
  const s = doc.summary;
  const t = thresholdsOf(doc, stage);
  const tunnel = r.tunnel === null ? '' : `; tunnel ${show(r.tunnel.state ?? 'unknown', 24)}`;
  if (s.flagged === 0) {
    return `${who}: ok, ${s.resources} resource(s), worst latency ${fmtMs(s.worstLatencyMs)}, worst loss ${fmtPct(s.worstLossPct)}${tunnel}`;
  }
  const worst = doc.resources.filter(isFlagged)[0];
  return `${who}: ${s.flagged} of ${s.resources} flagged${worst === undefined ? '' : `, e.g. ${resourceBrief(worst, t)}`}${tunnel}`;
}

/** The MTR excerpt: the collector's MTR text for the record, bounded in lines and characters. */
export function mtrExcerpt(doc: ResultDocument): { lines: string[]; cut: boolean } {
  const texts = roundMtrTexts(doc.mtrId, doc.resources, doc.gateway);
  const all = [texts.resource, texts.gateway]
    .filter((t): t is string => t !== null)
    .flatMap((t) => t.split('\n').filter((l) => l !== ''));
  const lines: string[] = [];
  let chars = 0;
  for (const line of all) {
    const shown = show(line, 160);
    if (
      lines.length >= NOTIFY_LIMITS.mtrLinesPerHost ||
      chars + shown.length > NOTIFY_LIMITS.mtrCharsPerHost
    ) {
      return { lines, cut: true };
    }
    lines.push(shown);
    chars += shown.length + 1;
  }
  return { lines, cut: false };
}

/** The detail block of a host (without its heading and links). `withMtr` false: the compact form. */
export function hostDetail(r: HostRecord, stage: Thresholds, withMtr: boolean): string[] {
  const out: string[] = [];
  if (r.kind !== 'result') {
    out.push(`Record: ${r.kind}${r.status === null ? '' : `, status ${show(r.status, 40)}`}`);
    if (r.message !== null) out.push(`Why: ${show(r.message, NOTIFY_LIMITS.textMaxChars)}`);
    if (r.stderr !== null && r.stderr.trim() !== '')
      out.push(`stderr: "${show(r.stderr.trim(), NOTIFY_LIMITS.textMaxChars)}"`);
    return out;
  }
  const doc = r.doc;
  if (doc === null) {
    out.push(`Record could not be read: ${show(r.problem, NOTIFY_LIMITS.textMaxChars)}`);
    return out;
  }
  const t = thresholdsOf(doc, stage);
  out.push(
    `Thresholds: latency ${t.latencyMs} ms, loss ${t.lossPct} %; hops 1-${t.hops} are the CloudConnexa (tunnel) side`,
  );
  const tunnel = tunnelText(r.tunnel);
  if (tunnel !== null) out.push(`Tunnel: ${tunnel}`);
  const g = doc.gateway;
  out.push(
    g?.ip
      ? `Gateway: ${show(g.ip, 64)} (${g.source ?? '?'}): latency ${fmtMs(g.latencyMs)}, loss ${fmtPct(g.lossPct)}`
      : 'Gateway: not found',
  );
  const ordered = [...doc.resources.filter(isFlagged), ...doc.resources.filter((x) => !isFlagged(x))];
  const shown = ordered.slice(0, NOTIFY_LIMITS.resourcesPerHost);
  const rows = shown.map((x) => [
    show(x.target, 48),
    x.address !== null && x.address !== x.target ? show(x.address, 40) : '',
    x.method ?? '-',
    `${fmtMs(x.latencyMs)}${x.latencyFlag ? ` > ${t.latencyMs}` : ''}`,
    `${fmtPct(x.lossPct)}${x.lossFlag ? ` > ${t.lossPct}` : ''}`,
    verdictOf(x),
    troubleOf(x),
  ]);
  out.push(
    ...table(['TARGET', 'ADDRESS', 'METHOD', 'LATENCY', 'LOSS', 'VERDICT', 'TROUBLE STARTS AT'], rows).map(
      (l) => `  ${l}`,
    ),
  );
  const rest = ordered.length - shown.length;
  if (rest > 0) {
    const restFlagged = ordered.slice(shown.length).filter(isFlagged).length;
    out.push(
      `  (${rest} more resource(s) not shown${restFlagged > 0 ? `, ${restFlagged} of them flagged` : ', all OK'})`,
    );
  }
  for (const x of shown.filter((y) => y.method === 'http' && y.requestMs !== null)) {
    out.push(
      `${show(x.target, 60)}: latency is the TCP connect time; the whole request took ${fmtMs(x.requestMs)}`,
    );
  }
  for (const x of shown.filter((y) => y.verdict === 'unmeasured' && y.unmeasured !== null)) {
    out.push(`Not measured: ${show(x.target, 60)}: ${show(x.unmeasured?.detail ?? '', V)}`);
  }
  for (const p of r.pathChanges.slice(0, 5)) out.push(`Path change: ${pathChangeText(p)}`);
  if (r.pathChanges.length > 5) out.push(`(${r.pathChanges.length - 5} more path changes)`);
  for (const w of doc.warnings.slice(0, NOTIFY_LIMITS.warningsPerHost)) out.push(`Warning: ${show(w, V)}`);
  if (doc.warnings.length > NOTIFY_LIMITS.warningsPerHost) {
    out.push(`(${doc.warnings.length - NOTIFY_LIMITS.warningsPerHost} more warnings in the record)`);
  }
  if (withMtr) {
    const mtr = mtrExcerpt(doc);
    if (mtr.lines.length > 0) {
      out.push('MTR (for CloudConnexa support):');
      out.push(...mtr.lines.map((l) => `    ${l}`));
      if (mtr.cut) out.push('    (MTR cut here: the whole report is in the log stream)');
    }
  }
  return out;
}
