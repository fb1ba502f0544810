/**
 * The old tool's MTR text files, rebuilt from hops.
 *
 * The original script saved `mtr -r -n -c N -o AL target`, replaced the
 * `HOST: ...` header with its own line and dropped `Start:`. We now run
 * `mtr --json`, so the hop lines are re-rendered exactly as mtr 0.95 report
 * mode prints them (ui/report.c report_close, data_fields in ui/mtr.c):
 *
 * - the line starts as `" %2d.|-- %-33s"`, but the first field is written at
 *   column 33, so anything past column 33 is overwritten: host names longer
 *   than 25 characters are cut;
 * - each field is printed at a fixed offset (Avg `" %5.1f"`, Loss% `" %4.1f%%"`,
 *   both 6 wide), so a value wider than its column is cut by the next column:
 *   Avg of 1000 ms or more prints as `1000.`; Loss% is the last column with
 *   `-o AL`, so 100% loss keeps its `%` (` 100.0%`);
 * - hops that never replied print `???` with Avg `0.0`.
 * Load-balancing lines (extra addresses for one hop) are not in the JSON, so
 * they are not rendered.
 *
 * Which paths get a section (mtrResourceSections, roundMtrTexts) is decided
 * here too, for the agent's files and the collector's log records alike.
 *
 * The text is built from host data (targets, hop names, the gateway's
 * address), which the collector must treat as untrusted, and is read in
 * terminals and the CloudWatch console: control characters in it (ESC, CR,
 * LF, bidirectional overrides) are written as visible escapes
 * (common/printable.ts), so a name can neither forge a line nor drive a
 * terminal. Ordinary names are printed exactly as before.
 *
 * Shared with the Lambda collector: no Node imports.
 */
import { headOf } from './clip-text.ts';
import { isFlagged } from './flag-rule.ts';
import { escapeControlCharacters } from './printable.ts';
import type { GatewayResult, Hop, ResourceResult } from './result-schema.ts';

export type MtrSectionKind = 'RESOURCE' | 'GATEWAY';

/** `len_hosts` in report_close: the column where the first field starts. */
const STATS_COLUMN = 33;
/** `data_fields[].length` for Avg and Loss%. */
const FIELD_WIDTH = 6;

export function renderMtrHopLines(hops: Hop[]): string[] {
  return hops.map(renderHopLine);
}

export function renderMtrSection(
  kind: MtrSectionKind,
  mtrId: string,
  target: string | null,
  hops: Hop[],
): string {
  const id = escapeControlCharacters(mtrId);
  const header =
    target === null
      ? `${kind} MTR: ${id} (Hop, Avg, Loss%)`
      : `${kind} MTR: ${id} ${escapeControlCharacters(target)} (Hop, Avg, Loss%)`;
  return [header, ...renderMtrHopLines(hops)].map((line) => `${line}\n`).join('');
}

/**
 * One section keeps the old file exactly (no target in the header); several
 * sections name their target and are separated by one blank line. No section
 * gives an empty file body.
 */
export function renderMtrFile(
  kind: MtrSectionKind,
  mtrId: string,
  sections: { target: string; hops: Hop[] }[],
): string {
  const only = sections.length === 1 ? sections[0] : undefined;
  if (only !== undefined) return renderMtrSection(kind, mtrId, null, only.hops);
  return sections.map((section) => renderMtrSection(kind, mtrId, section.target, section.hops)).join('\n');
}

/**
 * The MTR-RESOURCE sections of a round: one per flagged resource that has a
 * path to show, i.e. hops and loss below 100 %. As in the old tool, a path
 * with 100 % loss gets none: it holds nothing but `???` lines. An unmeasured
 * resource (common/flag-rule.ts) has loss 100 and, mostly, no hops at all, so
 * it gets none either; the seed line flags it and the result document and the
 * warnings say why it was not measured. The layout of the file stays the old
 * one: only hop lines under their headers, never a line of another kind.
 */
export function mtrResourceSections(
  resources: readonly Pick<
    ResourceResult,
    'target' | 'hops' | 'lossPct' | 'latencyFlag' | 'lossFlag' | 'verdict'
  >[],
): { target: string; hops: Hop[] }[] {
  const sections: { target: string; hops: Hop[] }[] = [];
  for (const r of resources) {
    if (isFlagged(r) && r.hops !== null && r.hops.length > 0 && r.lossPct < 100) {
      sections.push({ target: r.target, hops: r.hops });
    }
  }
  return sections;
}

/**
 * The texts of a round's MTR-RESOURCE and MTR-GATEWAY files (null: no file).
 * Only a round with a flagged resource has them; then the gateway's path is
 * always shown when it was traced (it is what CloudConnexa support asks for),
 * even when nothing on it answered.
 */
export function roundMtrTexts(
  mtrId: string,
  resources: Parameters<typeof mtrResourceSections>[0],
  gateway: Pick<GatewayResult, 'ip' | 'hops'> | null,
): { resource: string | null; gateway: string | null } {
  if (!resources.some(isFlagged)) return { resource: null, gateway: null };
  const sections = mtrResourceSections(resources);
  return {
    resource: sections.length > 0 ? renderMtrFile('RESOURCE', mtrId, sections) : null,
    gateway:
      gateway !== null && gateway.ip !== null && gateway.ip !== '' && gateway.hops !== null
        ? renderMtrFile('GATEWAY', mtrId, [{ target: gateway.ip, hops: gateway.hops }])
        : null,
  };
}

function renderHopLine(hop: Hop): string {
  const name = hop.host === null ? '???' : escapeControlCharacters(hop.host);
  const start = cutAt(` ${padStart(String(hop.ttl), 2)}.|-- ${padEnd(name, STATS_COLUMN)}`, STATS_COLUMN);
  const avg = ` ${padStart(formatFixed1(hop.avgMs ?? 0), 5)}`.slice(0, FIELD_WIDTH);
  const loss = ` ${padStart(formatFixed1(hop.lossPct), 4)}%`;
  return `${start}${avg}${loss}`;
}

/**
 * printf("%.1f") as glibc does it: the exact binary value rounded to nearest,
 * ties to even. `toFixed` rounds ties up, and exact ties are common here
 * because mtr's times are whole microseconds (0.25 ms prints as `0.2`).
 * A double is an exact tie at one decimal only when it is an odd multiple of
 * 0.25 (x.25 or x.75); x.75 rounds up under both rules.
 */
export function formatFixed1(value: number): string {
  const quarters = value * 4;
  if (value >= 0 && Number.isInteger(quarters) && quarters % 4 === 1) {
    const tenths = Math.floor(value * 10);
    return `${Math.floor(tenths / 10)}.${tenths % 10}`;
  }
  return value.toFixed(1);
}

/**
 * The first `width` UTF-16 units, as mtr cuts at a column; a surrogate pair
 * that would be split is replaced by a space, so no half character is left.
 */
function cutAt(text: string, width: number): string {
  return padEnd(headOf(text, width), Math.min(width, text.length));
}

function padStart(text: string, width: number): string {
  return text.length >= width ? text : ' '.repeat(width - text.length) + text;
}

function padEnd(text: string, width: number): string {
  return text.length >= width ? text : text + ' '.repeat(width - text.length);
}
