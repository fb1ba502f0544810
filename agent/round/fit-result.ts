/**
 * SSM returns only the first 24,000 characters of a command's stdout, and a
 * cut JSON document is worth nothing. The document is shrunk in steps, each
 * only if the previous one was not enough, and says what was dropped:
 * 0. nothing lost: keys whose value is null and whose schema default is null
 *    are left out of the text (`truncated.nullsOmitted`; OMITTED_WHEN_NULL);
 * 0b. the previous path of each path change (`pathChange.previousHops`): the
 *    previous round's document and the round history on the host have it;
 * 1. hop lists, where they matter least first: unflagged resources, the
 *    gateway, then flagged resources (largest first) — the MTR files on the
 *    host keep the flagged paths — then the new path of each path change
 *    (`pathChange.hops`; the round history keeps it);
 * 2. long texts: error details, unmeasured details, targets and warnings
 *    clipped (50 URLs of 512 characters are ~75,000 characters on their own);
 * 3. the list of dropped paths, all but the first warnings, error messages.
 * Verdicts, flags and numbers are never dropped.
 */
import { headOf, lengthMark, tailOf } from '../../common/clip-text.ts';
import { isFlagged } from '../../common/flag-rule.ts';
import { stringifyPrintable } from '../../common/printable.ts';
import { RESULT_MAX_CHARS } from '../../common/result-contract.ts';
import type { ResultDocument } from '../../common/result-schema.ts';

/**
 * Keys the schema reads as null when absent (`v.optional(..., null)`) and that
 * a resource, a hop or the gateway often carries as null: per resource, so a
 * large round saves up to ~70 characters 50 times over. A key may be listed
 * only if, wherever a key of that name can be null in the document, the
 * schema reads it absent as null (tested).
 */
export const OMITTED_WHEN_NULL: ReadonlySet<string> = new Set([
  'unmeasured',
  'latencyBasis',
  'requestMs',
  'hops',
  'jitterMs',
]);

const omitNulls = (key: string, value: unknown): unknown =>
  value === null && OMITTED_WHEN_NULL.has(key) ? undefined : value;

/**
 * The document's JSON text, with no control character raw (stringifyPrintable):
 * it goes to a terminal with --json, and a hop's name from mtr (reverse DNS)
 * or a path in a warning may hold C1 or bidirectional controls, which
 * JSON.stringify leaves as they are.
 */
export function serializeResult(doc: ResultDocument): string {
  return stringifyPrintable(doc, doc.truncated?.nullsOmitted === true ? omitNulls : undefined);
}

/**
 * Characters `value` takes inside a document serialized with nulls omitted:
 * the replacer looks at the key and value only, so a part serializes alone
 * as it does in place.
 */
const partLength = (value: object): number => stringifyPrintable(value, omitNulls).length;

const TEXT_MAX = 80;

/** The first `max - 20` characters and the length (never half a character): `https://wiki.corp…(140 chars)`. */
function clip(text: string, max = TEXT_MAX): string {
  return text.length <= max ? text : `${headOf(text, max - 20)}${lengthMark(text.length)}`;
}

function shrinkInSteps(doc: ResultDocument, maxChars: number): ResultDocument {
  if (serializeResult(doc).length <= maxChars) return doc;
  const fitted: ResultDocument = {
    ...doc,
    resources: doc.resources.map((r) => ({ ...r })),
    gateway: doc.gateway === null ? null : { ...doc.gateway },
    seed: doc.seed === null ? null : { ...doc.seed },
    warnings: [...doc.warnings],
    truncated: { hopsDroppedFor: [], nullsOmitted: true },
  };
  const dropped: string[] = [];
  const notes: string[] = [];
  const finish = (): ResultDocument => ({
    ...fitted,
    warnings: [...fitted.warnings, ...notes],
    truncated: { ...fitted.truncated, hopsDroppedFor: dropped, nullsOmitted: true },
  });
  const fits = (): boolean => serializeResult(finish()).length <= maxChars;

  // Step 0: null keys left out (nullsOmitted, set above).
  if (fits()) return finish();

  // Step 0b: where changed paths came from.
  const changed = fitted.resources.filter((r) => r.pathChange?.previousHops != null);
  for (const r of changed) if (r.pathChange) r.pathChange = { ...r.pathChange, previousHops: null };
  if (changed.length > 0) {
    notes.push(
      `previous paths of ${changed.length} path change(s) dropped to keep this document under ${maxChars} characters; the round history on the host keeps them`,
    );
    if (fits()) return finish();
  }

  // Step 1: hop lists.
  const flagged = isFlagged;
  const hopChars = new Map<object, number>();
  const charsOf = (entry: { hops: unknown[] | null }): number => {
    let chars = hopChars.get(entry);
    if (chars === undefined) {
      chars = JSON.stringify(entry.hops).length;
      hopChars.set(entry, chars);
    }
    return chars;
  };
  const bySize = (a: { hops: unknown[] | null }, b: { hops: unknown[] | null }) => charsOf(b) - charsOf(a);
  const candidates = [
    ...fitted.resources.filter((r) => !flagged(r) && r.hops !== null).sort(bySize),
    ...(fitted.gateway?.hops ? [fitted.gateway] : []),
    ...fitted.resources.filter((r) => flagged(r) && r.hops !== null).sort(bySize),
  ];
  const hopListNote =
    notes.push(
      `hop lists dropped to keep this document under ${maxChars} characters (the SSM output limit); MTR files on the host keep the paths of flagged resources`,
    ) - 1;
  // The document's length kept by arithmetic (what a drop takes from the entry and adds to hopsDroppedFor),
  // so a round that drops 40 hop lists serializes the document twice, not 40 times; a length that says
  // "fits" is still checked on the document itself.
  let chars = serializeResult(finish()).length;
  for (const entry of candidates) {
    if (chars <= maxChars && fits()) return finish();
    const before = partLength(entry);
    entry.hops = null;
    const name = clip('target' in entry ? entry.target : `gateway ${entry.ip ?? ''}`.trim());
    chars += partLength(entry) - before + JSON.stringify(name).length + (dropped.length > 0 ? 1 : 0);
    dropped.push(name);
  }
  if (fits()) return finish();
  const newPaths = fitted.resources.filter((r) => r.pathChange?.hops != null);
  if (newPaths.length > 0) {
    notes.push('new paths of path changes dropped too; the round history on the host keeps them');
    for (const r of newPaths) {
      if (r.pathChange) r.pathChange = { ...r.pathChange, hops: null };
      if (fits()) return finish();
    }
  }

  // Step 2: long texts.
  for (const r of fitted.resources) {
    r.target = clip(r.target);
    r.errors = r.errors.map((e) => ({ code: e.code, message: clip(e.message, 200) }));
    if (r.unmeasured !== null) r.unmeasured = { ...r.unmeasured, detail: clip(r.unmeasured.detail, 200) };
  }
  if (fitted.seed !== null) fitted.seed['RESOURCE(S)'] = fitted.seed['RESOURCE(S)'].map((t) => clip(t));
  if (fitted.gateway !== null) {
    fitted.gateway.errors = fitted.gateway.errors.map((e) => ({
      code: e.code,
      message: clip(e.message, 200),
    }));
  }
  fitted.warnings = fitted.warnings.map((w) => clip(w, 200));
  fitted.truncated = { hopsDroppedFor: [], textShortened: true };
  notes.push(
    `texts longer than ${TEXT_MAX} characters shortened; the JSON report on the host has the full targets`,
  );
  if (fits()) return finish();

  // Step 3: the bookkeeping itself, and the rest of the evidence text.
  const count = dropped.length;
  dropped.length = 0;
  notes[hopListNote] =
    `hop lists of ${count} path(s) dropped to keep this document under ${maxChars} characters`;
  fitted.warnings = fitted.warnings.slice(0, 5);
  // Clipped again from the originals, so the "(N chars)" note keeps the true length.
  fitted.resources.forEach((r, index) => {
    const original = doc.resources[index];
    r.target = clip(original?.target ?? r.target, 48);
    r.errors = r.errors.slice(0, 1).map((e) => ({ code: e.code, message: clip(e.message, 60) }));
    // The reason stays whole: it is short and says why the resource is flagged.
    if (r.unmeasured !== null && original?.unmeasured) {
      r.unmeasured = { ...r.unmeasured, detail: clip(original.unmeasured.detail, 60) };
    }
  });
  if (fitted.seed !== null && doc.seed !== null) {
    fitted.seed['RESOURCE(S)'] = doc.seed['RESOURCE(S)'].map((t) => clip(t, 48));
  }
  if (fits()) return finish();
  for (const r of fitted.resources) {
    r.errors = r.errors.map((e) => ({ code: e.code, message: '' }));
    if (r.unmeasured !== null) r.unmeasured = { ...r.unmeasured, detail: '' };
  }
  return finish();
}

/**
 * Fits a result document into `maxChars` (the SSM output limit) by the steps
 * above and, when even they are not enough (the largest round the settings
 * allow: 50 flagged URL resources of 512 characters on IPv6 addresses, with
 * trouble spots and errors, and many warnings), a last one that keeps only what
 * the round measured: error codes without messages, a single warning saying
 * what was dropped, file paths cut to their file names' end, targets cut to
 * their first characters (the JSON report on the host has them whole), and
 * then, if need be, what the round history adds: the baselines of resources
 * not far from them, the other baselines, then the path changes (their keys
 * removed, which reads as "not known"; the round history on the host keeps
 * them). Verdicts, flags, measured numbers, addresses and trouble spots stay.
 * Returns `doc` itself when it fits as it is.
 */
export function fitResult(doc: ResultDocument, maxChars = RESULT_MAX_CHARS): ResultDocument {
  const shrunk = shrinkInSteps(doc, maxChars);
  if (serializeResult(shrunk).length <= maxChars) return shrunk;
  // shrinkInSteps returned copies of the resources, gateway and seed: changed in place here.
  for (const r of shrunk.resources) r.errors = r.errors.map((e) => ({ code: e.code, message: '' }));
  if (shrunk.gateway !== null)
    shrunk.gateway.errors = shrunk.gateway.errors.map((e) => ({ code: e.code, message: '' }));
  // A file's name says what it is; its directory is the round's --log-dir (up to 4,096 characters).
  shrunk.files = shrunk.files.map((f) =>
    f.path.length <= TEXT_MAX
      ? f
      : { ...f, path: `(${f.path.length} chars)…${tailOf(f.path, TEXT_MAX - 20)}` },
  );
  const dropped = doc.resources.filter((r) => r.hops !== null).length + (doc.gateway?.hops ? 1 : 0);
  shrunk.warnings = [
    `to keep this document under ${maxChars} characters: hop lists of ${dropped} path(s), error messages and warnings dropped, targets shortened; the files on the host keep them`,
  ];
  // Down to the length alone at 20: the address still tells the resources apart.
  for (const max of [32, 20]) {
    if (serializeResult(shrunk).length <= maxChars) break;
    shrunk.resources.forEach((r, index) => {
      r.target = clip(doc.resources[index]?.target ?? r.target, max);
    });
    if (shrunk.seed !== null && doc.seed !== null) {
      shrunk.seed['RESOURCE(S)'] = doc.seed['RESOURCE(S)'].map((t) => clip(t, max));
    }
  }
  // The history's additions, least telling first: each derived from the round history on the host.
  const historySteps: [string, (r: ResultDocument['resources'][number]) => void][] = [
    ['baselines', (r) => (r.baseline?.far !== true ? delete r.baseline : undefined)],
    ['baselines', (r) => delete r.baseline],
    ['path changes', (r) => delete r.pathChange],
  ];
  const droppedHistory = new Set<string>();
  for (const [what, drop] of historySteps) {
    if (serializeResult(shrunk).length <= maxChars) break;
    for (const r of shrunk.resources) drop(r);
    droppedHistory.add(what);
  }
  if (droppedHistory.size > 0) {
    shrunk.warnings = [
      `${shrunk.warnings[0] ?? ''}; ${[...droppedHistory].join(' and ')} of this round dropped too (the round history on the host keeps them)`,
    ];
  }
  return shrunk;
}
