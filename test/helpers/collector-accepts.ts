/**
 * The agent must never print a document the collector would reject: what it
 * prints passes the result schema (common/result-schema.ts) unchanged, with
 * no key dropped and no value read differently.
 */
import assert from 'node:assert/strict';
import { serializeResult } from '../../agent/round/fit-result.ts';
import { parseResultDocument, type ResultDocument } from '../../common/result-schema.ts';

/**
 * Asserts that `printed` (the agent's stdout, or a document as JSON) reads back
 * exactly as printed. A document that had to shrink may leave null keys out
 * (`truncated.nullsOmitted`, agent/round/fit-result.ts): read back they are
 * null, and printed again the same way they are left out again.
 */
export function assertCollectorAcceptsText(printed: string): ResultDocument {
  const read = parseResultDocument(printed);
  const lines = printed.trim().split('\n');
  const asPrinted = JSON.parse(lines[lines.length - 1] ?? '');
  assert.deepEqual(
    read.truncated?.nullsOmitted === true ? JSON.parse(serializeResult(read)) : read,
    asPrinted,
    'the schema reads the document as printed',
  );
  return read;
}

/** Asserts that a document the agent built reads back exactly as built once printed. */
export function assertCollectorAccepts(document: ResultDocument): void {
  const read = assertCollectorAcceptsText(serializeResult(document));
  assert.deepEqual(read, parseResultDocument(JSON.stringify(document)), 'leaving nulls out loses nothing');
}
