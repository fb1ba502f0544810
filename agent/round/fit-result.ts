/**
 * SSM returns only the first 24,000 characters of a command's stdout, and a
 * cut JSON document is worth nothing. Hop lists are the bulk of a document, so
 * they are dropped first where they matter least: unflagged resources, then the
 * gateway, then flagged resources (largest first). The document says what was
 * dropped.
 */
import { RESULT_MAX_CHARS, type ResultDocument } from '../../common/result-schema.ts';

export function serializeResult(doc: ResultDocument): string {
  return JSON.stringify(doc);
}

export function fitResult(doc: ResultDocument, maxChars = RESULT_MAX_CHARS): ResultDocument {
  if (serializeResult(doc).length <= maxChars) return doc;
  const fitted: ResultDocument = {
    ...doc,
    resources: doc.resources.map((r) => ({ ...r })),
    gateway: doc.gateway === null ? null : { ...doc.gateway },
    warnings: [...doc.warnings],
    truncated: { hopsDroppedFor: [] },
  };
  const dropped: string[] = [];
  const fits = (): boolean =>
    serializeResult({ ...fitted, truncated: { hopsDroppedFor: dropped } }).length <= maxChars;

  const flagged = (r: ResultDocument['resources'][number]) => r.latencyFlag || r.lossFlag;
  const bySize = (a: { hops: unknown[] | null }, b: { hops: unknown[] | null }) =>
    JSON.stringify(b.hops).length - JSON.stringify(a.hops).length;
  const candidates = [
    ...fitted.resources.filter((r) => !flagged(r) && r.hops !== null).sort(bySize),
    ...(fitted.gateway?.hops ? [fitted.gateway] : []),
    ...fitted.resources.filter((r) => flagged(r) && r.hops !== null).sort(bySize),
  ];
  for (const entry of candidates) {
    if (fits()) break;
    entry.hops = null;
    dropped.push('target' in entry ? entry.target : `gateway ${entry.ip ?? ''}`.trim());
  }
  if (!fits()) {
    // Only pathological inputs get here (huge error texts): keep the verdicts, drop the evidence.
    for (const r of fitted.resources)
      r.errors = r.errors.map((e) => ({ code: e.code, message: e.message.slice(0, 200) }));
    fitted.warnings = fitted.warnings.slice(0, 20);
  }
  fitted.truncated = { hopsDroppedFor: dropped };
  fitted.warnings.push(
    `hop lists dropped for ${dropped.length} path(s) to keep this document under ${maxChars} characters (SSM output limit); the MTR files on the host keep them`,
  );
  return fitted;
}
