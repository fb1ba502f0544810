/**
 * SSM returns only the first 24,000 characters of a command's stdout, and a
 * cut JSON document is worth nothing. The document is shrunk in steps, each
 * only if the previous one was not enough, and says what was dropped:
 * 1. hop lists, where they matter least first: unflagged resources, the
 *    gateway, then flagged resources (largest first) — the MTR files on the
 *    host keep the flagged paths;
 * 2. long texts: error details, unmeasured details, targets and warnings
 *    clipped (50 URLs of 512 characters are ~75,000 characters on their own);
 * 3. the list of dropped paths, all but the first warnings, error messages.
 * Verdicts, flags and numbers are never dropped.
 */
import { isFlagged } from '../../common/flag-rule.ts';
import { RESULT_MAX_CHARS, type ResultDocument } from '../../common/result-schema.ts';

export function serializeResult(doc: ResultDocument): string {
  return JSON.stringify(doc);
}

const TEXT_MAX = 80;

function clip(text: string, max = TEXT_MAX): string {
  return text.length <= max ? text : `${text.slice(0, max - 20)}…(${text.length} chars)`;
}

export function fitResult(doc: ResultDocument, maxChars = RESULT_MAX_CHARS): ResultDocument {
  if (serializeResult(doc).length <= maxChars) return doc;
  const fitted: ResultDocument = {
    ...doc,
    resources: doc.resources.map((r) => ({ ...r })),
    gateway: doc.gateway === null ? null : { ...doc.gateway },
    seed: doc.seed === null ? null : { ...doc.seed },
    warnings: [...doc.warnings],
    truncated: { hopsDroppedFor: [] },
  };
  const dropped: string[] = [];
  const notes: string[] = [];
  const finish = (): ResultDocument => ({
    ...fitted,
    warnings: [...fitted.warnings, ...notes],
    truncated: { ...fitted.truncated, hopsDroppedFor: dropped },
  });
  const fits = (): boolean => serializeResult(finish()).length <= maxChars;

  // Step 1: hop lists.
  const flagged = isFlagged;
  const bySize = (a: { hops: unknown[] | null }, b: { hops: unknown[] | null }) =>
    JSON.stringify(b.hops).length - JSON.stringify(a.hops).length;
  const candidates = [
    ...fitted.resources.filter((r) => !flagged(r) && r.hops !== null).sort(bySize),
    ...(fitted.gateway?.hops ? [fitted.gateway] : []),
    ...fitted.resources.filter((r) => flagged(r) && r.hops !== null).sort(bySize),
  ];
  notes.push(
    `hop lists dropped to keep this document under ${maxChars} characters (the SSM output limit); MTR files on the host keep the paths of flagged resources`,
  );
  for (const entry of candidates) {
    if (fits()) return finish();
    entry.hops = null;
    dropped.push(clip('target' in entry ? entry.target : `gateway ${entry.ip ?? ''}`.trim()));
  }
  if (fits()) return finish();

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
  notes[0] = `hop lists of ${count} path(s) dropped to keep this document under ${maxChars} characters`;
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
