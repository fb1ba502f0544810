import assert from 'node:assert/strict';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { appendLine } from '../../../agent/files/append-line.ts';
import { exited, killAll, lineReader, spawnFixture } from '../../fixtures/files/children.ts';

const children: ChildProcessWithoutNullStreams[] = [];
let dir = '';
let file = '';

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cc-append-'));
  file = path.join(dir, 'LATENCY-LOSS-CONNEXA-REPORT.json');
});
afterEach(async () => {
  await killAll(children.splice(0));
  fs.rmSync(dir, { recursive: true, force: true });
});

function linesOf(text: string): string[] {
  assert.ok(text.endsWith('\n'), 'file ends with a complete line');
  return text.slice(0, -1).split('\n');
}

describe('appendLine', () => {
  it('creates the file with mode 0644 and appends each record as one line', () => {
    appendLine(file, '{"a":1}');
    appendLine(file, '{"b":2}');
    assert.equal(fs.readFileSync(file, 'utf8'), '{"a":1}\n{"b":2}\n');
    assert.equal(fs.statSync(file).mode & 0o777, 0o644 & ~process.umask());
  });

  it('completes a torn tail left by an earlier crash so the new record stays parseable', () => {
    fs.writeFileSync(file, '{"a":1}\n{"b":');
    fs.utimesSync(file, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
    appendLine(file, '{"c":3}');
    assert.deepEqual(linesOf(fs.readFileSync(file, 'utf8')), ['{"a":1}', '{"b":', '{"c":3}']);
  });

  it('completes a torn tail written a moment ago, once the file has stayed unchanged', () => {
    fs.writeFileSync(file, '{"a":1}\n{"b":');
    // No time bound: appendLine's wait has its own limit, and a hang is the runner's to catch.
    appendLine(file, '{"c":3}');
    assert.deepEqual(linesOf(fs.readFileSync(file, 'utf8')), ['{"a":1}', '{"b":', '{"c":3}']);
  });

  it('does not add a blank line when the file already ends with a newline or is empty', () => {
    fs.writeFileSync(file, '');
    appendLine(file, '{"a":1}');
    appendLine(file, '{"b":2}');
    assert.equal(fs.readFileSync(file, 'utf8'), '{"a":1}\n{"b":2}\n');
  });

  it('refuses a record containing a line break instead of writing two broken lines', () => {
    assert.throws(() => appendLine(file, '{"a":\n1}'), { code: 'E_INTERNAL' });
    assert.equal(fs.existsSync(file), false);
  });

  it('keeps every line whole when 4 processes append 2,000 lines each at once', async () => {
    const writers = ['w0', 'w1', 'w2', 'w3'].map((w) =>
      spawnFixture('append-writer.ts', [file, w, '2000', '9000']),
    );
    children.push(...writers);
    const results = await Promise.all(writers.map((child) => exited(child)));
    assert.deepEqual(
      results,
      Array.from({ length: 4 }, () => ({ code: 0, signal: null })),
    );
    const seen = new Map<string, number>();
    for (const line of linesOf(fs.readFileSync(file, 'utf8'))) {
      const record = JSON.parse(line) as { w: string; i: number; pad: string };
      assert.equal(record.pad.length, (record.i * 7919) % 9001, `record ${record.w}/${record.i} is intact`);
      const key = `${record.w}/${record.i}`;
      seen.set(key, (seen.get(key) ?? 0) + 1);
    }
    assert.equal(seen.size, 8000);
    assert.ok(
      [...seen.values()].every((n) => n === 1),
      'every line exactly once',
    );
  });

  it('leaves only parseable lines when an appending process is killed with SIGKILL', async () => {
    const child = spawnFixture('append-writer.ts', [file, 'victim', 'forever', '300']);
    children.push(child);
    await lineReader(child).next((line) => line === 'STARTED');
    // Killed once it has written 50 lines more, however busy the machine is (not after a fixed time).
    while (linesOf(fs.readFileSync(file, 'utf8')).length < 150) await new Promise((r) => setTimeout(r, 10));
    child.kill('SIGKILL');
    assert.equal((await exited(child)).signal, 'SIGKILL');
    appendLine(file, '{"after":"kill"}');
    const lines = linesOf(fs.readFileSync(file, 'utf8'));
    assert.ok(lines.length > 150, `the writer was killed mid-stream (${lines.length} lines)`);
    for (const line of lines)
      assert.doesNotThrow(() => JSON.parse(line), `unparseable line: ${line.slice(0, 80)}`);
    assert.deepEqual(JSON.parse(lines[lines.length - 1] ?? ''), { after: 'kill' });
  });
});
