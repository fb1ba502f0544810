/**
 * The host's decoder, CCM_UNPACK in ssm/run-agent.sh exactly as the generated
 * document carries it, against the build-time encoder (ssm/base90.ts). The text
 * reaches the decoder the way the script hands it over (printf of a
 * single-quoted sh string piped into `node -e "$CCM_UNPACK"`), run by this
 * node and by Node 12.22, the oldest the document accepts.
 */
import assert from 'node:assert/strict';
import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BASE90_ALPHABET, base90Length, encodeBase90, GROUP_BYTES } from '../../../ssm/base90.ts';
import { buildDocument, documentScript, packAgent } from '../../../ssm/document.ts';
import { NODE12 } from '../../helpers/run-agent.ts';

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

/** The `digits` digits of a group value, most significant first (21 for a full group, whose values above 2^136-1 are no encoding). */
function group(value: bigint, digits = 21): string {
  let text = '';
  for (let i = 0, rest = value; i < digits; i++, rest /= 90n) {
    text = BASE90_ALPHABET.charAt(Number(rest % 90n)) + text;
  }
  return text;
}

/** Random buffers of every length to 40 and some long ones, every byte value, all-0 and all-FF groups. */
function propertyCases(): Buffer[] {
  const cases: Buffer[] = [];
  for (let n = 0; n <= 40; n++) cases.push(randomBytes(n));
  for (const n of [255, 1021, 1022, 1023, 1024, 4099]) cases.push(randomBytes(n));
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
          const bundle = n % 2 === 0 ? randomBytes(n * 7) : Buffer.from(`console.log(${n});\n`.repeat(n));
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
        const valid = encodeBase90(randomBytes(34));
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
