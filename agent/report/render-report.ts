/**
 * The history report: one self-contained HTML page (inline CSS and SVG, no
 * script, nothing fetched: its Content-Security-Policy forbids every request)
 * with, per resource, a SmokePing-style latency chart, a text description of
 * it and a data table. Pure: rounds in, HTML out.
 *
 * Every string from the host (resource names, addresses, the host name, the
 * log directory, notes) is escaped for HTML (and its control characters made
 * visible, common/printable.ts): the log directory is untrusted. Element ids
 * are numbered, never derived from names.
 *
 * Chart, in SVG user units (the page scales it to its width, viewBox):
 * latency band (fastest to slowest probe, light), inner band (latency ∓ one
 * standard deviation, dark), latency line, latency threshold (dashed red), path
 * changes (dashed green lines), tunnel down/reconnecting (shaded; rounds carry
 * the tunnel state once the agent records it, `tn` in history-store.ts), a
 * row of flag marks, and a loss strip with its threshold.
 */
import { escapeControlCharacters } from '../../common/printable.ts';
import type { HistoryRound } from '../history/history-store.ts';
import {
  buildSeries,
  type ReportPoint,
  type ReportSeries,
  type ResourceSeries,
  resourcesLeftOutNote,
} from './report-series.ts';

export interface ReportInput {
  /** Oldest first, already filtered by --since and --resource. */
  rounds: readonly HistoryRound[];
  hostname: string;
  generatedAt: Date;
  logDir: string;
  since: Date | null;
  resource: string | null;
  /** Said at the top of the page (skipped lines, unread copies, the newest round when none is shown). */
  notes: readonly string[];
}

const W = 560;
const H = 250;
const L = 44;
const R = W - 8;
const TOP = 10;
const BOTTOM = 160;
const FLAG_TOP = 165;
const FLAG_BOTTOM = 175;
const LOSS_TOP = 182;
const LOSS_BOTTOM = 222;

const CSS = `:root{font:15px/1.45 system-ui,sans-serif;color:#1b1b1b;background:#fff}
body{margin:0 auto;max-width:58rem;padding:0 1rem 2rem}h1{font-size:1.4rem;margin:1rem 0 .3rem}
h2{font-size:1.15rem;margin:2rem 0 .3rem;overflow-wrap:anywhere}.sub{color:#555;font-weight:400}
svg{display:block;width:100%;height:auto}figure{margin:.4rem 0}figcaption,.note{color:#555;font-size:.85rem}
text{font-size:11px;fill:#444}.grid{stroke:#e4e4e4}.axis{stroke:#999}
.band-outer{fill:#c6dbef}.band-inner{fill:#6baed6}.median{fill:none;stroke:#08306b;stroke-width:1.5}
.threshold{fill:none;stroke:#d62728;stroke-dasharray:5 3}.loss{fill:#fdae6b}.loss-over{fill:#d62728}
.flag-latency{fill:#9467bd}.flag-loss{fill:#e6550d}.flag-down{fill:#1b1b1b}
.path-change{stroke:#2ca02c;stroke-width:1.5;stroke-dasharray:3 2}.tunnel-down{fill:#7f7f7f;opacity:.35}
.tunnel-reconnecting{fill:#bcbd22;opacity:.35}table{border-collapse:collapse;margin:.5rem 0;font-size:.88rem}
caption{text-align:left;font-weight:600;padding:.2rem 0}th,td{border:1px solid #ccc;padding:.15rem .5rem;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}.legend{display:flex;flex-wrap:wrap;gap:.2rem 1rem;padding:0;list-style:none;font-size:.85rem}
.k{display:inline-block;width:1.4em;height:.8em;margin-right:.3em;vertical-align:middle}nav ul{padding-left:1.2rem}
.empty{font-size:1.1rem;padding:1rem;border:1px solid #ccc}
@media (max-width:40rem){text{font-size:19px}.x-odd,.minor{display:none}table{display:block;overflow-x:auto;max-width:100%}}
@media print{:root{font-size:10pt}body{max-width:none;padding:0}nav{display:none}section{break-inside:avoid}
*{-webkit-print-color-adjust:exact;print-color-adjust:exact}a{color:inherit;text-decoration:none}}`;

const LEGEND: ReadonlyArray<[string, string]> = [
  ['band-outer', 'fastest to slowest probe'],
  ['band-inner', 'latency ∓ one standard deviation'],
  ['median', 'latency (median of the rounds drawn as one point)'],
  ['threshold', 'threshold'],
  ['loss', 'loss'],
  ['loss-over', 'loss above threshold'],
  ['flag-latency', 'flagged: latency'],
  ['flag-loss', 'flagged: loss'],
  ['flag-down', 'flagged: unreachable or unmeasured'],
  ['path-change', 'path change'],
  ['tunnel-down', 'tunnel down'],
  ['tunnel-reconnecting', 'tunnel reconnecting'],
];

/**
 * The page. `series` is buildSeries(input.rounds), passed in by a caller that
 * also reports on it (the resources left out, on stderr).
 */
export function renderReport(input: ReportInput, series = buildSeries(input.rounds)): string {
  const scope = [
    input.resource === null ? null : `resource ${input.resource}`,
    input.since === null ? null : `since ${when(input.since.getTime())}`,
  ].filter((part): part is string => part !== null);
  const title = `Latency history on ${input.hostname}`;
  const head =
    `<!doctype html><html lang="en"><head><meta charset="utf-8">` +
    `<meta name="viewport" content="width=device-width,initial-scale=1">` +
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">` +
    `<title>${html(title)}</title><style>${CSS}</style></head><body><header><h1>${html(title)}</h1>`;
  const leftOut = series === null ? null : resourcesLeftOutNote(series);
  const notes = [...input.notes, ...(leftOut === null ? [] : [leftOut])]
    .map((note) => `<p class="note">${html(note)}</p>`)
    .join('');
  const generated = `Generated ${when(input.generatedAt.getTime())} from ${input.logDir}${scope.length > 0 ? ` (${scope.join(', ')})` : ''}. Times are UTC.`;
  if (series === null) {
    return `${head}<p class="note">${html(generated)}</p>${notes}</header><main><p class="empty" role="status">No rounds recorded${scope.length > 0 ? ` for ${html(scope.join(', '))}` : ''}: nothing to draw yet. The agent keeps the history each round (check or watch) in its log directory.</p></main></body></html>\n`;
  }
  const period = `${series.rounds} round(s) from ${when(series.start)} to ${when(series.end)}, ${series.resources.length} resource(s)${series.roundsPerPoint > 1 ? `; each point of a chart stands for up to ${series.roundsPerPoint} rounds` : ''}.`;
  const legend = `<ul class="legend" aria-label="Legend">${LEGEND.map(
    ([cls, text]) =>
      `<li><svg class="k" viewBox="0 0 14 8" aria-hidden="true">${
        cls === 'median' || cls === 'threshold' || cls === 'path-change'
          ? `<path class="${cls}" d="M0 4H14"/>`
          : `<rect class="${cls}" width="14" height="8"/>`
      }</svg>${text}</li>`,
  ).join('')}</ul>`;
  const nav =
    series.resources.length > 1
      ? `<nav aria-label="Resources"><ul>${series.resources.map((r, i) => `<li><a href="#r${i}">${html(r.target)}</a></li>`).join('')}</ul></nav>`
      : '';
  const sections = series.resources.map((r, i) => section(r, i, series)).join('');
  return `${head}<p>${html(period)}</p><p class="note">${html(generated)}</p>${notes}${legend}${nav}</header><main>${sections}</main></body></html>\n`;
}

function section(r: ResourceSeries, i: number, s: ReportSeries): string {
  const id = `r${i}`;
  const reached = r.address !== null && r.address !== r.target ? ` ${r.address}` : '';
  const method = r.method === null || r.method === 'icmp' ? '' : ` (${r.method})`;
  return (
    `<section id="${id}" aria-labelledby="${id}h"><h2 id="${id}h">${html(r.target)}<span class="sub">${html(reached + method)}</span></h2>` +
    `<figure>${chart(r, id, s)}<figcaption>${html(describe(r))}</figcaption></figure>${summaryTable(r)}${eventsTable(r)}</section>`
  );
}

/** The text alternative of a chart: what a reader of the picture would take from it. */
export function describe(r: ResourceSeries): string {
  const t = r.stats;
  const parts: string[] = [];
  parts.push(
    t.medianMs === null
      ? `No latency measured in ${t.rounds} round(s).`
      : `Median latency ${ms(t.medianMs)} (95th percentile ${ms(t.p95Ms)}, lowest ${ms(t.lowestMs)}, highest ${ms(t.highestMs)}) over ${t.rounds} round(s); threshold ${ms(t.latencyThresholdMs)}.`,
  );
  parts.push(`Loss up to ${pct(t.maxLossPct)} (threshold ${pct(t.lossThresholdPct)}).`);
  const kinds = Object.entries(t.byVerdict).map(([v, n]) => `${n} ${v}`);
  parts.push(t.flagged === 0 ? 'No round flagged.' : `${t.flagged} round(s) flagged (${kinds.join(', ')}).`);
  if (t.pathChanges > 0) parts.push(`${t.pathChanges} path change(s).`);
  if (t.tunnelNotUp > 0) parts.push(`Tunnel down or reconnecting in ${t.tunnelNotUp} round(s).`);
  return parts.join(' ');
}

// ---------------------------------------------------------------- the chart

interface Block {
  left: number;
  right: number;
  p: ReportPoint;
}

function chart(r: ResourceSeries, id: string, s: ReportSeries): string {
  const span = Math.max(s.end - s.start, 1);
  const pad = s.roundsPerPoint > 1 ? 0 : s.stepMs / 2;
  const t0 = s.start - pad;
  const scaleX = (R - L) / (span + 2 * pad);
  const x = (t: number): number => L + (t - t0) * scaleX;
  const half = Math.max(1, (s.stepMs * scaleX) / 2);
  const gap = s.stepMs * 2.5;
  const points = r.points;
  const blocks: Block[] = points.map((p, i) => {
    const mid = x((p.from + p.to) / 2);
    const prev = points[i - 1];
    const next = points[i + 1];
    const left =
      prev === undefined || p.from - prev.to > gap ? mid - half : (x((prev.from + prev.to) / 2) + mid) / 2;
    const right =
      next === undefined || next.from - p.to > gap ? mid + half : (x((next.from + next.to) / 2) + mid) / 2;
    return { left: Math.max(L, left), right: Math.min(R, right), p };
  });
  const tops = points.map((p) => p.highMs ?? p.ms ?? 0).sort((a, b) => a - b);
  const typicalTop = tops[Math.floor((tops.length - 1) * 0.98)] ?? 0;
  const threshold = Math.max(...points.map((p) => p.latencyThresholdMs));
  const yMax = niceCeil(Math.max(typicalTop, threshold) * 1.1);
  const y = (v: number): number => BOTTOM - (Math.min(v, yMax) / yMax) * (BOTTOM - TOP);
  const lossMax = niceCeil(Math.max(10, ...points.map((p) => Math.max(p.lossPct, p.lossThresholdPct * 2))));
  const yl = (v: number): number => LOSS_BOTTOM - (Math.min(v, lossMax) / lossMax) * (LOSS_BOTTOM - LOSS_TOP);
  const clipped = points.filter((p) => (p.highMs ?? p.ms ?? 0) > yMax).length;

  const parts: string[] = [];
  for (const state of ['down', 'reconnecting'] as const) {
    parts.push(
      pathOf(
        `tunnel-${state}`,
        runs(blocks, (b) => b.p.tunnel === state)
          .map((run) => rect(run.left, TOP, run.right, LOSS_BOTTOM))
          .join(''),
        `tunnel ${state}`,
      ),
    );
  }
  const yTicks = ticks(yMax);
  for (const v of yTicks) {
    parts.push(
      `<path class="grid" d="M${L} ${n(y(v))}H${R}"/><text x="${L - 4}" y="${n(y(v) + 4)}" text-anchor="end">${v}</text>`,
    );
  }
  parts.push(
    pathOf(
      'band-outer',
      area(
        blocks,
        (p) => p.highMs,
        (p) => p.lowMs,
        y,
      ),
    ),
    pathOf(
      'band-inner',
      area(
        blocks,
        (p) => p.innerHighMs,
        (p) => p.innerLowMs,
        y,
      ),
    ),
    pathOf(
      'median',
      line(blocks, (p) => p.ms, y),
    ),
    pathOf(
      'threshold',
      line(blocks, (p) => p.latencyThresholdMs, y),
    ),
    pathOf(
      'path-change',
      blocks
        .filter((b) => b.p.pathChanges > 0)
        .map((b) => `M${n((b.left + b.right) / 2)} ${TOP}V${FLAG_BOTTOM}`)
        .join(''),
      'path change',
    ),
  );
  const flagClass = (b: Block): string | null =>
    b.p.verdict === 'ok'
      ? null
      : b.p.verdict === 'latency'
        ? 'flag-latency'
        : b.p.verdict === 'loss' || b.p.verdict === 'latency+loss'
          ? 'flag-loss'
          : 'flag-down';
  for (const cls of ['flag-latency', 'flag-loss', 'flag-down']) {
    parts.push(
      pathOf(
        cls,
        blocks
          .filter((b) => flagClass(b) === cls)
          .map((b) => rect(b.left, FLAG_TOP, Math.max(b.right, b.left + 1.5), FLAG_BOTTOM))
          .join(''),
        cls.replace('-', 'ged: '),
      ),
    );
  }
  for (const over of [false, true]) {
    parts.push(
      pathOf(
        over ? 'loss-over' : 'loss',
        blocks
          .filter((b) => b.p.lossPct > 0 && b.p.lossOver === over)
          .map((b) => rect(b.left, yl(b.p.lossPct), Math.max(b.right, b.left + 1), LOSS_BOTTOM))
          .join(''),
      ),
    );
  }
  parts.push(
    pathOf(
      'threshold',
      line(blocks, (p) => p.lossThresholdPct, yl),
    ),
    `<path class="axis" d="M${L} ${BOTTOM}H${R}M${L} ${LOSS_BOTTOM}H${R}M${L} ${TOP}V${LOSS_BOTTOM}"/>`,
    `<text x="${L - 4}" y="${LOSS_TOP + 8}" text-anchor="end">${lossMax}%</text>`,
    `<text class="minor" x="${L - 4}" y="${LOSS_BOTTOM}" text-anchor="end">loss</text>`,
    `<text x="${L + 3}" y="${TOP + 10}">ms</text>`,
  );
  const axis = timeTicks(s.start, s.end);
  axis.times.forEach((t, k) => {
    const at = x(t);
    if (at < L || at > R) return;
    const anchor = at > R - 24 ? 'end' : at < L + 24 ? 'start' : 'middle';
    parts.push(
      `<text class="${k % 2 === 1 ? 'x-odd' : 'x'}" x="${n(at)}" y="${H - 10}" text-anchor="${anchor}">${timeLabel(t, axis.step)}</text>`,
    );
  });
  const note =
    clipped > 0 ? ` The axis ends at ${yMax} ms; ${clipped} point(s) above it are drawn at its top.` : '';
  return (
    `<svg viewBox="0 0 ${W} ${H}" role="img" aria-labelledby="${id}t ${id}d">` +
    `<title id="${id}t">Latency and loss of ${html(r.target)} over time</title>` +
    `<desc id="${id}d">${html(describe(r) + note)}</desc>${parts.join('')}</svg>`
  );
}

/** Contiguous blocks for which `keep` holds (a gap breaks a run). */
function runs(blocks: Block[], keep: (b: Block) => boolean): Array<{ left: number; right: number }> {
  const out: Array<{ left: number; right: number }> = [];
  let last: Block | null = null;
  for (const b of blocks) {
    if (!keep(b)) {
      last = null;
      continue;
    }
    const current = out[out.length - 1];
    if (last !== null && current !== undefined && Math.abs(last.right - b.left) < 0.01)
      current.right = b.right;
    else out.push({ left: b.left, right: b.right });
    last = b;
  }
  return out;
}

/** Runs of blocks with a value, split where a value is missing or a gap lies between. */
function segments(blocks: Block[], has: (p: ReportPoint) => boolean): Block[][] {
  const out: Block[][] = [];
  let current: Block[] = [];
  for (const b of blocks) {
    const prev = current[current.length - 1];
    if (!has(b.p) || (prev !== undefined && Math.abs(prev.right - b.left) > 0.01)) {
      if (current.length > 0) out.push(current);
      current = [];
    }
    if (has(b.p)) current.push(b);
  }
  if (current.length > 0) out.push(current);
  return out;
}

type Value = (p: ReportPoint) => number | null;

/** A step line through the blocks' values (a step only where the value changes). */
function line(blocks: Block[], value: Value, y: (v: number) => number): string {
  return segments(blocks, (p) => value(p) !== null)
    .map((seg) => steps(seg, (b) => n(y(value(b.p) as number)), 'left', 'right'))
    .join('');
}

/**
 * `M` at the first block's `from` edge, then `H`/`V` where the height
 * changes, ending at the last block's `to` edge. `from`/`to` are 'left' and
 * 'right' forwards, 'right' and 'left' along a reversed list.
 */
function steps(
  seg: Block[],
  height: (b: Block) => string,
  from: 'left' | 'right',
  to: 'left' | 'right',
  move = 'M',
): string {
  const first = seg[0] as Block;
  let at = height(first);
  let d = move === 'M' ? `M${n(first[from])} ${at}` : `V${at}`;
  for (const b of seg.slice(1)) {
    const h = height(b);
    if (h !== at) d += `H${n(b[from])}V${h}`;
    at = h;
  }
  return `${d}H${n((seg[seg.length - 1] as Block)[to])}`;
}

/** A stepped band between two values. */
function area(blocks: Block[], upper: Value, lower: Value, y: (v: number) => number): string {
  return segments(blocks, (p) => upper(p) !== null && lower(p) !== null)
    .map(
      (seg) =>
        `${steps(seg, (b) => n(y(upper(b.p) as number)), 'left', 'right')}${steps(
          [...seg].reverse(),
          (b) => n(y(lower(b.p) as number)),
          'right',
          'left',
          'V',
        )}Z`,
    )
    .join('');
}

function rect(x0: number, y0: number, x1: number, y1: number): string {
  return `M${n(x0)} ${n(y0)}H${n(x1)}V${n(y1)}H${n(x0)}Z`;
}

/** A path element, left out when it draws nothing; `label` becomes its tooltip. */
function pathOf(cls: string, d: string, label?: string): string {
  if (d === '') return '';
  return label === undefined
    ? `<path class="${cls}" d="${d}"/>`
    : `<path class="${cls}" d="${d}"><title>${label}</title></path>`;
}

function niceCeil(v: number): number {
  if (!(v > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * power >= v) return m * power;
  return 10 * power;
}

function ticks(max: number): number[] {
  const step = niceCeil(max / 5);
  const out: number[] = [];
  for (let v = 0; v <= max + 1e-9; v += step) out.push(Number(v.toPrecision(6)));
  return out;
}

const MINUTE = 60_000;
const TICK_STEPS = [5, 15, 30, 60, 180, 360, 720, 1440, 2880, 10080].map((m) => m * MINUTE);

/** Times at round multiples (UTC) of a step that gives at most 6 labels, and the step. */
function timeTicks(start: number, end: number): { times: number[]; step: number } {
  const span = Math.max(end - start, MINUTE);
  const step =
    TICK_STEPS.find((s) => span / s <= 6) ?? 10080 * MINUTE * Math.ceil(span / (6 * 10080 * MINUTE));
  const times: number[] = [];
  for (let t = Math.ceil(start / step) * step; t <= end; t += step) times.push(t);
  // Rounds minutes apart: their own times, to the second.
  return times.length >= 2 ? { times, step } : { times: start === end ? [start] : [start, end], step: 0 };
}

/** Within a day's steps the time of day, and the date at midnight; daily steps or longer, the date; step 0: to the second. */
function timeLabel(t: number, step: number): string {
  const iso = new Date(t).toISOString();
  if (step === 0) return iso.slice(11, 19);
  return step < 1440 * MINUTE && t % (1440 * MINUTE) !== 0 ? iso.slice(11, 16) : iso.slice(5, 10);
}

// ---------------------------------------------------------------- tables

function summaryTable(r: ResourceSeries): string {
  const t = r.stats;
  const rows: Array<[string, string]> = [
    ['Rounds', String(t.rounds)],
    ['Median latency', ms(t.medianMs)],
    ['95th percentile', ms(t.p95Ms)],
    ['Lowest / highest', `${ms(t.lowestMs)} / ${ms(t.highestMs)}`],
    ['Latency threshold', ms(t.latencyThresholdMs)],
    ['Loss: mean / highest', `${pct(t.meanLossPct)} / ${pct(t.maxLossPct)}`],
    ['Loss threshold', pct(t.lossThresholdPct)],
    ['Rounds flagged', String(t.flagged)],
    ['Path changes', String(t.pathChanges)],
    ['Rounds with the tunnel down or reconnecting', String(t.tunnelNotUp)],
  ];
  return `<table><caption>Summary: ${html(r.target)}</caption><tbody>${rows
    .map(([k, v]) => `<tr><th scope="row">${k}</th><td class="n">${html(v)}</td></tr>`)
    .join('')}</tbody></table>`;
}

function eventsTable(r: ResourceSeries): string {
  if (r.events.length === 0) return '';
  const label = (kind: string, detail: string): string =>
    kind === 'flag' ? `flagged: ${detail}` : kind === 'tunnel' ? `tunnel ${detail}` : 'path change';
  const rows = r.events
    .map(
      (e) =>
        `<tr><td>${when(Date.parse(e.from))}</td><td>${when(Date.parse(e.to))}</td><td>${html(label(e.kind, e.detail))}</td><td class="n">${e.rounds}</td></tr>`,
    )
    .join('');
  const more = r.moreEvents > 0 ? `<p class="note">${r.moreEvents} earlier event(s) not listed.</p>` : '';
  return `<table><caption>Events: ${html(r.target)} (newest first)</caption><thead><tr><th scope="col">First round</th><th scope="col">Last round</th><th scope="col">Event</th><th scope="col">Rounds</th></tr></thead><tbody>${rows}</tbody></table>${more}`;
}

// ---------------------------------------------------------------- text

/** Text for HTML content and attribute values: control characters made visible, markup escaped. */
export function html(text: string): string {
  return escapeControlCharacters(text).replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );
}

function n(v: number): string {
  return String(Math.round(v * 10) / 10);
}

function ms(v: number | null): string {
  if (v === null) return '–';
  return `${v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : Math.round(v)} ms`;
}

function pct(v: number): string {
  return `${Number(v.toFixed(1))} %`;
}

function when(t: number): string {
  return `${new Date(t).toISOString().slice(0, 16).replace('T', ' ')}`;
}
