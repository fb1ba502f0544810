// A node:test reporter that writes one JSON line per skipped or todo test (or
// suite): { file, name, kind: 'skip' | 'todo', reason }. scripts/run-tests.mjs
// reads it after the run to decide whether the skips are allowed.
// Event shapes: https://nodejs.org/docs/latest-v20.x/api/test.html#event-testpass
export default async function* skipReporter(source) {
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    const { skip, todo, name, file } = event.data;
    const kind =
      skip !== undefined && skip !== false ? 'skip' : todo !== undefined && todo !== false ? 'todo' : null;
    if (kind === null) continue;
    const reason = kind === 'skip' ? skip : todo;
    yield `${JSON.stringify({ file: file ?? null, name, kind, reason: typeof reason === 'string' ? reason : '' })}\n`;
  }
}
