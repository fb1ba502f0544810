/**
 * The chunked tail reader (read-lines.ts) on a real log directory: lines
 * found across read boundaries whatever the first read's size, a line longer
 * than the first read, a torn last line, empty lines, the byte bound, and the
 * round history's read spanning the rotated copy and the current file.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { type LogDir, prepareLogDir } from '../../../agent/files/log-dir.ts';
import { fileState, forEachLine, openForReading, readLastLines } from '../../../agent/files/read-lines.ts';
import {
  encodeRound,
  HISTORY_FILE,
  type HistoryEntry,
  type HistoryRound,
  type PathMemory,
  RECENT_ROUNDS,
  readRecentRounds,
} from '../../../agent/history/history-store.ts';
import { PATH_RULE } from '../../../agent/history/path-change.ts';

let dir = '';
let logDir: LogDir;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cc-read-lines-'));
  logDir = prepareLogDir(dir);
});
afterEach(() => {
  logDir.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const NAME = 'lines.jsonl';
const write = (text: string, name = NAME): void => fs.writeFileSync(path.join(dir, name), text);
/** The file as a read finds it: what an append compares with (append-line.ts). */
const file = (name = NAME) => fileState(fs.statSync(path.join(dir, name)));

/** What the reader must return when the whole file is within the budget: complete, non-empty lines, the last n. */
function expected(text: string, maxLines: number): string[] {
  const complete = text.split('\n').slice(0, -1);
  const lines = complete.filter((line) => line !== '');
  return lines.slice(Math.max(0, lines.length - maxLines));
}

/** Lines of uneven lengths (1 to 97 characters, some with 2- and 3-byte UTF-8 characters). */
function unevenLines(count: number): string[] {
  return Array.from({ length: count }, (_, i) => {
    const body = 'x'.repeat((i * 37) % 97);
    return i % 3 === 0 ? `${i}é${body}€` : `${i}${body}`;
  });
}

describe('readLastLines: the chunked tail reader', () => {
  it('finds the needed lines across read boundaries, whatever the first read and the lines asked for', () => {
    // Prepare: 60 lines, some empty, a torn tail.
    const lines = unevenLines(60);
    lines.splice(20, 0, '', '');
    const text = `${lines.join('\n')}\n{"torn":`;
    write(text);
    for (const firstReadBytes of [1, 2, 7, 64, 100, 1000, 1_000_000]) {
      for (const maxLines of [0, 1, 2, 5, 37, 59, 60, 61, 1000]) {
        // Act
        const read = readLastLines(logDir, NAME, { maxLines, maxBytes: 1_000_000, firstReadBytes });
        // Assess
        const label = `first read ${firstReadBytes}, ${maxLines} lines`;
        assert.deepEqual(read?.lines, expected(text, maxLines), label);
        assert.equal(read?.fromStart, read?.bytes === Buffer.byteLength(text), label);
      }
    }
  });

  it('reads only as far back as the lines asked for need', () => {
    // Prepare: 10,000 lines of 100 bytes.
    const line = 'y'.repeat(99);
    write(`${line}\n`.repeat(10_000));
    // Act
    const read = readLastLines(logDir, NAME, { maxLines: 3, maxBytes: 1_000_000, firstReadBytes: 1024 });
    const grown = readLastLines(logDir, NAME, { maxLines: 30, maxBytes: 1_000_000, firstReadBytes: 1024 });
    // Assess: one read of 1 KB, then reads doubling what was read (1, 2, 4 KB) until 30 lines are in.
    assert.deepEqual(read, {
      lines: [line, line, line],
      fromStart: false,
      bytes: 1024,
      openTail: false,
      file: file(),
    });
    assert.equal(grown?.lines.length, 30);
    assert.equal(grown?.bytes, 4096);
  });

  it('reads a line longer than the first read whole', () => {
    const long = `{"long":"${'z'.repeat(10_000)}€"}`;
    const text = `${'older\n'.repeat(20_000)}${long}\nshort\n`;
    write(text);
    for (const firstReadBytes of [1, 3, 16, 4096]) {
      const read = readLastLines(logDir, NAME, { maxLines: 2, maxBytes: 1_000_000, firstReadBytes });
      assert.deepEqual(read?.lines, [long, 'short'], `first read ${firstReadBytes}`);
      assert.equal(read?.fromStart, false, 'the line before was not needed');
    }
  });

  it('stops at the byte bound: the line cut by it is left out, and the read says it did not reach the start', () => {
    // Prepare: the bound falls inside the 4th line from the end.
    const lines = ['a'.repeat(50), 'b'.repeat(50), 'c'.repeat(50), 'd'.repeat(50), 'e'.repeat(50)];
    write(`${lines.join('\n')}\n`);
    const maxBytes = 3 * 51 + 20;
    for (const firstReadBytes of [1, 10, 64, 10_000]) {
      // Act
      const read = readLastLines(logDir, NAME, { maxLines: 10, maxBytes, firstReadBytes });
      // Assess
      assert.deepEqual(
        read,
        { lines: lines.slice(2), fromStart: false, bytes: maxBytes, openTail: false, file: file() },
        `${firstReadBytes}`,
      );
    }
  });

  it('reads nothing from a file without a complete line, and null for no file', () => {
    write('{"being written":');
    assert.deepEqual(readLastLines(logDir, NAME, { maxLines: 5, maxBytes: 1000, firstReadBytes: 4 }), {
      lines: [],
      fromStart: true,
      bytes: 17,
      openTail: true,
      file: file(),
    });
    write('');
    assert.deepEqual(readLastLines(logDir, NAME, { maxLines: 5, maxBytes: 1000 }), {
      lines: [],
      fromStart: true,
      bytes: 0,
      openTail: false,
      file: file(),
    });
    assert.equal(readLastLines(logDir, 'absent.jsonl', { maxLines: 5, maxBytes: 1000 }), null);
  });

  it('says whether the file ends with bytes no newline closes, which the next append makes a line', () => {
    for (const [text, openTail] of [
      ['one\ntwo\n', false],
      ['one\ntwo', true],
      ['one\ntwo\r', true],
      ['one\n\n', false],
    ] as const) {
      write(text);
      for (const firstReadBytes of [1, 4096]) {
        const read = readLastLines(logDir, NAME, { maxLines: 1, maxBytes: 1000, firstReadBytes });
        assert.equal(read?.openTail, openTail, `${JSON.stringify(text)}, first read ${firstReadBytes}`);
        assert.deepEqual(read?.lines, openTail ? ['one'] : [text === 'one\n\n' ? 'one' : 'two']);
      }
    }
  });

  it('refuses bounds that are not bounds', () => {
    for (const bounds of [
      { maxLines: -1, maxBytes: 10 },
      { maxLines: 1, maxBytes: Number.NaN },
      { maxLines: 1, maxBytes: 10, firstReadBytes: 0 },
    ]) {
      assert.throws(() => readLastLines(logDir, NAME, bounds), /bad bounds/);
    }
  });
});

/** The chunk forEachLine reads at a time (read-lines.ts). */
const CHUNK = 1024 * 1024;

/** What forEachLine must give for bytes [from, to) of `bytes`: readLastLines' lines, an overlong one as null. */
function forwardExpected(bytes: Buffer, from: number, to: number, maxLineBytes: number): (string | null)[] {
  const pieces: Buffer[] = [];
  let start = from;
  for (let i = bytes.indexOf(0x0a, from); i >= 0 && i < to; i = bytes.indexOf(0x0a, i + 1)) {
    pieces.push(bytes.subarray(start, i));
    start = i + 1;
  }
  // Before the first newline of a range not at the file's start: the end of an older line.
  if (from > 0) pieces.shift();
  return pieces.filter((p) => p.length > 0).map((p) => (p.length > maxLineBytes ? null : p.toString('utf8')));
}

function forward(from: number, to: number, maxLineBytes: number): (string | null)[] {
  const held = openForReading(logDir, NAME);
  assert.ok(held !== null);
  const got: (string | null)[] = [];
  try {
    forEachLine(held.fd, from, to, maxLineBytes, (line) => got.push(line));
  } finally {
    fs.closeSync(held.fd);
  }
  return got;
}

describe('forEachLine: the chunked forward reader', () => {
  it('gives the same lines as split on newlines whatever falls on a chunk boundary (every piece at every offset near it)', () => {
    // Prepare: a piece placed so that it starts from 6 bytes before to 6 bytes after the 1 MiB boundary:
    // a newline, CRLF, NUL, 2-, 3- and 4-byte characters split across the boundary, an empty line.
    const pieces = ['\n', '\r\n', '\u0000', 'é', '€', '😀', '\n\n', 'é\n€', '\n😀\n'];
    let cases = 0;
    for (const piece of pieces) {
      for (let shift = -6; shift <= 6; shift++) {
        for (const fromStart of [0, 3]) {
          const head = Buffer.from(`${'h'.repeat(40)}\n`);
          const pad = Buffer.alloc(CHUNK + fromStart + shift - head.length, 'a');
          const text = Buffer.concat([head, pad, Buffer.from(`${piece}tail line\nlast`)]);
          fs.writeFileSync(path.join(dir, NAME), text);
          for (const to of [text.length, text.length - 4]) {
            for (const maxLineBytes of [2 * CHUNK, CHUNK + shift, 40]) {
              // Act / Assess
              const label = `${JSON.stringify(piece)} at ${shift}, from ${fromStart}, to ${to}, max ${maxLineBytes}`;
              assert.deepEqual(
                forward(fromStart, to, maxLineBytes),
                forwardExpected(text, fromStart, to, maxLineBytes),
                label,
              );
              cases++;
            }
          }
        }
      }
    }
    assert.equal(cases, pieces.length * 13 * 2 * 2 * 3);
  });

  it('reads a line longer than the chunk whole, and stands null for one over the bound (once)', () => {
    const long = `{"k":"${'€'.repeat(CHUNK)}"}`;
    const text = Buffer.from(`first\n${long}\nlast\n`);
    fs.writeFileSync(path.join(dir, NAME), text);
    assert.deepEqual(forward(0, text.length, 4 * CHUNK), ['first', long, 'last']);
    assert.deepEqual(forward(0, text.length, CHUNK), ['first', null, 'last']);
    // Starting inside it: the rest of it is an older line's end.
    assert.deepEqual(forward(10, text.length, 4 * CHUNK), ['last']);
  });

  it('gives nothing for an empty file, a file of newlines or a line without its newline', () => {
    for (const [text, lines] of [
      ['', []],
      ['\n', []],
      ['\n\n\n\n', []],
      ['no newline', []],
      ['one\ntwo', ['one']],
      ['\r\n', ['\r']],
      ['\u0000\n', ['\u0000']],
    ] as const) {
      write(text);
      assert.deepEqual(forward(0, Buffer.byteLength(text), 100), lines, JSON.stringify(text));
    }
  });

  it('stops where a file cut under it ends (no hang, no line joined across the cut)', () => {
    // Prepare: 3 MiB of lines; the file held open, then cut inside the second chunk.
    const line = `${'q'.repeat(99)}\n`;
    write(line.repeat((3 * CHUNK) / 100));
    const held = openForReading(logDir, NAME);
    assert.ok(held !== null);
    fs.truncateSync(path.join(dir, NAME), CHUNK + 50);
    const got: (string | null)[] = [];
    try {
      // Act
      forEachLine(held.fd, 0, held.size, CHUNK, (l) => got.push(l));
    } finally {
      fs.closeSync(held.fd);
    }
    // Assess: the lines before the cut; the one it cut is not a line.
    assert.equal(got.length, Math.floor((CHUNK + 50) / 100));
    assert.ok(got.every((l) => l === line.slice(0, -1)));
  });
});

describe('readRecentRounds: the newest rounds across the rotated copy and the current file', () => {
  // The round's number as the latency, so the latencies read back say which rounds were read.
  const entry = (target: string, hops: HistoryEntry['hops'], latencyMs: number): HistoryEntry => ({
    target,
    address: target,
    method: 'icmp',
    verdict: 'ok',
    latencyMs,
    lowMs: 11.9,
    highMs: 14.25,
    stdevMs: 0.4,
    lossPct: 0,
    hops,
    trouble: null,
    pathChanged: false,
  });
  const round = (n: number): HistoryRound => ({
    at: new Date(Date.UTC(2026, 0, 1, 12, 0, n)).toISOString(),
    latencyThresholdMs: 75,
    lossThresholdPct: 5,
    // Lines of uneven length, so that the reads' boundaries fall anywhere in them.
    resources: Array.from({ length: 1 + (n % 7) }, (_, k) =>
      entry(`10.20.${k}.5`, ['10.199.100.1', null, `10.20.${k}.5`], n),
    ),
  });

  it('joins the lines of .1 and the current file in order, the paths .1 wrote carried into the current file', () => {
    // Prepare: 100 rounds in .1, each writing its paths; 5 in the current file, leaving them out (known).
    write(
      `${Array.from({ length: 100 }, (_, n) => encodeRound(round(n))).join('\n')}\n`,
      `${HISTORY_FILE}.1`,
    );
    const known: PathMemory = {
      lines: 1,
      written: new Map(
        Array.from({ length: 7 }, (_, k) => [
          `10.20.${k}.5`,
          { hops: ['10.199.100.1', null, `10.20.${k}.5`], line: 0 },
        ]),
      ),
    };
    const current = [100, 101, 102, 103, 104].map((n) => encodeRound(round(n), known));
    assert.ok(
      current.every((line) => !line.includes('10.199.100.1')),
      'the current file names no path',
    );
    write(`${current.join('\n')}\n`, HISTORY_FILE);
    // Act
    const read = readRecentRounds(logDir);
    // Assess: the newest RECENT_ROUNDS, all but 5 of them from .1, each target's newest first.
    assert.equal(read.rounds, RECENT_ROUNDS);
    assert.deepEqual([read.truncated, read.skipped, read.notes], [false, 0, []]);
    for (let k = 0; k < 7; k++) {
      const target = `10.20.${k}.5`;
      const rounds = Array.from({ length: RECENT_ROUNDS }, (_, i) => 104 - i).filter((n) => n % 7 >= k);
      const past = read.past.get(target);
      assert.deepEqual(past?.icmpMs, rounds, target);
      // Its paths from the lines of .1, for the newest rounds of the current file too.
      const path = ['10.199.100.1', null, target];
      assert.deepEqual(
        past?.paths,
        rounds.slice(0, PATH_RULE.windowRounds).map(() => path),
        target,
      );
    }
  });
});
