/**
 * The host's decoder, CCM_UNPACK in ssm/run-agent.sh exactly as the generated
 * document carries it, against the build-time encoder (ssm/base90.ts). The text
 * reaches the decoder the way the script hands it over (printf of a
 * single-quoted sh string piped into `node -e "$CCM_UNPACK"`), run by this
 * node and by Node 12.22, the oldest the document accepts.
 */
import assert from 'node:assert/strict';
import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createContext, Script } from 'node:vm';
import {
  BASE90_ALPHABET,
  base90Length,
  bytesIn,
  digitsFor,
  encodeBase90,
  GROUP_BYTES,
} from '../../../ssm/base90.ts';
import { buildDocument, documentScript, packAgent } from '../../../ssm/document.ts';
import { NODE12 } from '../../helpers/run-agent.ts';
import { seededBytes } from '../../helpers/seeded-bytes.ts';

const scratch = mkdtempSync(join(tmpdir(), 'ccm-unpack-'));
const NODES = [
  { label: `node ${process.version}`, path: process.execPath },
  { label: 'Node 12.22', path: NODE12 },
];

/** CCM_UNPACK as the step's script defines it, tokens filled in. */
function documentUnpack(): string {
  const agent = join(scratch, 'agent.js');
  writeFileSync(agent, "console.log('{}');\n");
  const script = documentScript(buildDocument({ agentPath: agent, executionTimeoutSeconds: 60 }));
  const program = /^CCM_UNPACK='([^']*)'$/m.exec(script)?.[1];
  assert.ok(program, 'the document script defines CCM_UNPACK in single quotes');
  assert.ok(program.includes(`"${BASE90_ALPHABET}"`), 'with the encoder alphabet');
  return program;
}

/** The same program with its Brotli step replaced by the identity: the base90 decoding alone. */
function withoutBrotli(program: string): string {
  const call = 'z.brotliDecompressSync(';
  assert.equal(program.split(call).length, 2, 'one Brotli call to stand in for');
  return program.replace(call, '(');
}

let scriptCount = 0;

/** As run-agent.sh does it: printf '%s' '<text>' | node -e "$CCM_UNPACK". */
function unpackInShell(node: string, program: string, text: string): SpawnSyncReturns<Buffer> {
  assert.ok(!text.includes("'"), 'the text fits in single quotes');
  const script = join(scratch, `unpack-${scriptCount++}.sh`);
  writeFileSync(script, `printf '%s' '${text}' | "$1" -e "$2"\n`);
  return spawnSync('/bin/sh', [script, node, program], { timeout: 60_000 });
}

/** The decoder fed `input` on stdin directly, for texts no sh single quote can carry. */
function unpackStdin(node: string, program: string, input: Buffer): SpawnSyncReturns<Buffer> {
  return spawnSync(node, ['-e', program], { input, timeout: 60_000 });
}

/**
 * The decoder program run in this process on `text`, with the stdin and stdout
 * it reads and writes stood in for: many thousand texts in the time of a few
 * node processes. Returns what it wrote, or throws what it threw.
 */
function decoderHere(program: string): (text: string) => Buffer {
  const script = new Script(program);
  const context = createContext({ require: () => ({}), Buffer, BigInt, Error, Math, process: null });
  return (text) => {
    const written: Buffer[] = [];
    const handlers = new Map<string, (chunk?: Buffer) => void>();
    const stdin = {
      on(event: string, handler: (chunk?: Buffer) => void) {
        handlers.set(event, handler);
        return stdin;
      },
    };
    context.process = { stdin, stdout: { write: (chunk: Buffer) => written.push(chunk) } };
    script.runInContext(context);
    handlers.get('data')?.(Buffer.from(text, 'latin1'));
    handlers.get('end')?.();
    return Buffer.concat(written);
  };
}

/** The `digits` digits of a group value, most significant first (21 for a full group, whose values above 2^136-1 are no encoding). */
function group(value: bigint, digits = 21): string {
  let text = '';
  for (let i = 0, rest = value; i < digits; i++, rest /= 90n) {
    text = BASE90_ALPHABET.charAt(Number(rest % 90n)) + text;
  }
  return text;
}

/**
 * Seeded buffers of every length to 3 groups and one byte, around later group
 * boundaries and some long ones, every byte value, all-0 and all-FF groups.
 */
function propertyCases(): Buffer[] {
  const cases: Buffer[] = [];
  for (let n = 0; n <= 3 * GROUP_BYTES + 1; n++) cases.push(seededBytes(`length ${n}`, n));
  for (const groups of [8, 60, 61])
    for (const n of [groups * GROUP_BYTES - 1, groups * GROUP_BYTES, groups * GROUP_BYTES + 1])
      cases.push(seededBytes(`boundary ${n}`, n));
  for (const n of [255, 1021, 1022, 1023, 1024, 4099]) cases.push(seededBytes(`long ${n}`, n));
  const every = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  for (let drop = 0; drop < GROUP_BYTES; drop++)
    cases.push(every.subarray(drop), Buffer.from(every.subarray(drop)).reverse());
  for (let n = 1; n <= 2 * GROUP_BYTES; n++) cases.push(Buffer.alloc(n, 0xff), Buffer.alloc(n, 0));
  return cases;
}

describe('agent unpacking on the host (CCM_UNPACK) against the build-time encoder', () => {
  let program = '';

  before(() => {
    assert.ok(existsSync(NODE12), `Node 12 binary not installed at ${NODE12} (npm test installs it)`);
    program = documentUnpack();
  });

  after(() => rmSync(scratch, { recursive: true, force: true }));

  it('covers every final-group length and every byte value', () => {
    const cases = propertyCases();
    assert.equal(new Set(cases.map((c) => c.length % GROUP_BYTES)).size, GROUP_BYTES);
    const seen = new Set<number>();
    for (const c of cases) for (const byte of c) seen.add(byte);
    assert.equal(seen.size, 256);
  });

  it('gives back every 1- and 2-byte final group and refuses every final group one above its bytes, at every length', () => {
    // Prepare: a full group in front, so the final group is decoded as the tail of a longer text.
    const decodeHere = decoderHere(withoutBrotli(program));
    const head = seededBytes('exhaustive head', GROUP_BYTES);
    const prefix = encodeBase90(head);
    // Act + Assess: every value of a final group of 1 and of 2 bytes.
    for (let value = 0; value < 0x10000; value++) {
      const tail = value < 0x100 ? Buffer.from([value]) : Buffer.from([value >> 8, value & 0xff]);
      for (const bytes of value < 0x100 ? [tail, Buffer.from([0, value])] : [tail]) {
        const text = prefix + encodeBase90(bytes);
        assert.deepEqual(decodeHere(text), Buffer.concat([head, bytes]), text);
      }
    }
    // Every final-group length: the largest value of its bytes decodes, one more is refused,
    // and so is every length the encoder never writes, whatever its digits.
    for (let digits = 1; digits <= 21; digits++) {
      const bytes = bytesIn(digits);
      const written = bytes > 0 && digitsFor(bytes) === digits;
      const largest = 256n ** BigInt(bytes) - 1n;
      if (written) {
        assert.deepEqual(
          decodeHere(prefix + group(largest, digits)),
          Buffer.concat([head, Buffer.alloc(bytes, 0xff)]),
        );
        assert.throws(() => decodeHere(prefix + group(largest + 1n, digits)), /not base90/, `${digits}`);
      } else {
        assert.throws(() => decodeHere(prefix + group(0n, digits)), /not base90/, `${digits} digits`);
      }
    }
    // Every character outside the alphabet, in every position of a group.
    for (let code = 0; code < 256; code++) {
      const char = String.fromCharCode(code);
      if (BASE90_ALPHABET.includes(char)) continue;
      for (let at = 0; at < 21; at += code % 7 === 0 ? 1 : 20) {
        const text = `${prefix.slice(0, at)}${char}${prefix.slice(at + 1)}`;
        assert.throws(() => decodeHere(text), /not base90/, `${code} at ${at}`);
      }
    }
  });

  for (const node of NODES) {
    describe(`run by ${node.label}`, () => {
      it('decodes whatever the encoder wrote back to the same bytes, whatever the length', () => {
        const decode = withoutBrotli(program);
        for (const bytes of propertyCases()) {
          // Prepare
          const text = encodeBase90(bytes);
          assert.equal(text.length, base90Length(bytes.length));
          assert.ok(text.length <= (bytes.length * 21) / 17 + 2);
          // Act
          const run = unpackInShell(node.path, decode, text);
          // Assess
          assert.equal(run.status, 0, `${bytes.length} bytes: ${run.stderr}`);
          assert.deepEqual(run.stdout, bytes, `${bytes.length} bytes (${bytes.toString('hex', 0, 16)}...)`);
        }
      });

      it('unpacks Brotli streams of every length mod 17 to the original bundle', () => {
        // Prepare: Brotli output lengths vary with the input, so collect inputs until every
        // final-group length of the packed stream has been seen.
        const perTail = new Array<number>(GROUP_BYTES).fill(0);
        const bundles: Buffer[] = [];
        for (let n = 0; perTail.some((count) => count < 1) && n < 2000; n++) {
          const bundle =
            n % 2 === 0 ? seededBytes(`bundle ${n}`, n * 7) : Buffer.from(`console.log(${n});\n`.repeat(n));
          const tail = packAgent(bundle).length % GROUP_BYTES;
          if ((perTail[tail] ?? 0) >= 1) continue;
          perTail[tail] = (perTail[tail] ?? 0) + 1;
          bundles.push(bundle);
        }
        assert.deepEqual(perTail, new Array<number>(GROUP_BYTES).fill(1), 'every tail length was found');
        for (const bundle of bundles) {
          const packed = packAgent(bundle);
          const text = encodeBase90(packed);
          assert.ok(
            text.length <= (packed.length * 21) / 17 + 2,
            `${text.length} characters for ${packed.length}`,
          );
          // Act
          const run = unpackInShell(node.path, program, text);
          // Assess
          assert.equal(run.status, 0, `${bundle.length} bytes: ${run.stderr}`);
          assert.deepEqual(run.stdout, bundle);
        }
      });

      it('refuses a text that is no encoding: a stray character, a length the encoder never writes, a group above its bytes', () => {
        const decode = withoutBrotli(program);
        const valid = encodeBase90(seededBytes('refusals', 34));
        const bad: Array<[string, Buffer]> = [
          // 1, 6, 11 and 16 digits: one digit fewer carries as many bytes.
          ...[1, 6, 11, 16].map((k): [string, Buffer] => [
            `a final group of ${k} digits`,
            Buffer.from(`${valid}${'!'.repeat(k)}`),
          ]),
          ['group 2^136', Buffer.from(`${valid}${group(2n ** 136n)}`)],
          ['the largest group', Buffer.from(`${valid}${group(90n ** 21n - 1n)}`)],
          ['a final 2-digit group above 255', Buffer.from(`${valid}${group(256n, 2)}`)],
          ['a final 20-digit group above 2^128-1', Buffer.from(`${valid}${group(2n ** 128n, 20)}`)],
          [
            'a non-ASCII byte',
            Buffer.concat([Buffer.from(valid), Buffer.from([0xc1, 0x21, 0x21, 0x21, 0x21])]),
          ],
          ...[...'\'"\\{ \n\t'].map((char): [string, Buffer] => [
            `the character ${JSON.stringify(char)}`,
            Buffer.from(`${valid.slice(0, 7)}${char}${valid.slice(8)}`),
          ]),
        ];
        // The largest valid groups decode: the bounds are exact.
        const max = unpackStdin(node.path, decode, Buffer.from(group(2n ** 136n - 1n)));
        assert.equal(max.status, 0, String(max.stderr));
        assert.deepEqual(max.stdout, Buffer.alloc(17, 0xff));
        const maxTail = unpackStdin(node.path, decode, Buffer.from(`${valid}${group(255n, 2)}`));
        assert.deepEqual(maxTail.stdout.subarray(34), Buffer.from([0xff]));
        for (const [label, input] of bad) {
          const run = unpackStdin(node.path, decode, input);
          assert.notEqual(run.status, 0, `${label}: refused`);
          assert.equal(run.stdout.length, 0, `${label}: nothing written`);
        }
      });
    });
  }
});
