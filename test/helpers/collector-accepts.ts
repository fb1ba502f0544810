/**
 * The agent must never print a document the collector would reject: what it
 * prints passes the result schema (common/result-schema.ts) unchanged, with
 * no key dropped and no value read differently.
 */
import assert from 'node:assert/strict';
import { parseResultDocument, type ResultDocument } from '../../common/result-schema.ts';

/** Asserts that `printed` (the agent's stdout, or a document as JSON) reads back exactly as printed. */
export function assertCollectorAcceptsText(printed: string): ResultDocument {
  const read = parseResultDocument(printed);
  const lines = printed.trim().split('\n');
  assert.deepEqual(
    read,
    JSON.parse(lines[lines.length - 1] ?? ''),
    'the schema reads the document as printed',
  );
  return read;
}

/** Asserts that a document the agent built reads back exactly as built once printed. */
export function assertCollectorAccepts(document: ResultDocument): void {
  assertCollectorAcceptsText(JSON.stringify(document));
}
