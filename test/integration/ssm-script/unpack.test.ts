/**
 * The host's decoder, CCM_UNPACK in ssm/run-agent.sh exactly as the generated
 * document carries it, against the build-time encoder (ssm/base85.ts). The text
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
import { BASE85_ALPHABET, base85Length, encodeBase85 } from '../../../ssm/base85.ts';
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
  assert.ok(program.includes(`"${BASE85_ALPHABET}"`), 'with the encoder alphabet');
  return program;
}

/** The same program with its Brotli step replaced by the identity: the base85 decoding alone. */
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

/** The 5 digits of a group value, most significant first; values above 2^32-1 are no encoding. */
function group(value: number): string {
  let text = '';
  for (let i = 0, rest = value; i < 5; i++, rest = Math.floor(rest / 85)) {
    text = BASE85_ALPHABET.charAt(rest % 85) + text;
  }
  return text;
}

/** Random buffers of every length to 24 and some long ones, every byte value, all-0 and all-FF groups. */
function propertyCases(): Buffer[] {
  const cases: Buffer[] = [];
  for (let n = 0; n <= 24; n++) cases.push(randomBytes(n));
  for (const n of [255, 1021, 1022, 1023, 1024, 4099]) cases.push(randomBytes(n));
  const every = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  for (let drop = 0; drop < 4; drop++)
    cases.push(every.subarray(drop), Buffer.from(every.subarray(drop)).reverse());
  for (const n of [1, 2, 3, 4, 5, 6, 7, 8]) cases.push(Buffer.alloc(n, 0xff), Buffer.alloc(n, 0));
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
    assert.deepEqual(new Set(cases.map((c) => c.length % 4)), new Set([0, 1, 2, 3]));
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
          const text = encodeBase85(bytes);
          assert.equal(text.length, base85Length(bytes.length));
          assert.ok(text.length <= (bytes.length * 5) / 4 + 4);
          // Act
          const run = unpackInShell(node.path, decode, text);
          // Assess
          assert.equal(run.status, 0, `${bytes.length} bytes: ${run.stderr}`);
          assert.deepEqual(run.stdout, bytes, `${bytes.length} bytes (${bytes.toString('hex', 0, 16)}...)`);
        }
      });

      it('unpacks Brotli streams of every length mod 4 to the original bundle', () => {
        // Prepare: Brotli output lengths vary with the input, so collect inputs until every
        // final-group length of the packed stream has been seen twice.
        const perTail = [0, 0, 0, 0];
        const bundles: Buffer[] = [];
        for (let n = 0; perTail.some((count) => count < 2) && n < 400; n++) {
          const bundle = n % 2 === 0 ? randomBytes(n * 7) : Buffer.from(`console.log(${n});\n`.repeat(n));
          const tail = packAgent(bundle).length % 4;
          if ((perTail[tail] ?? 0) >= 2) continue;
          perTail[tail] = (perTail[tail] ?? 0) + 1;
          bundles.push(bundle);
        }
        assert.deepEqual(perTail, [2, 2, 2, 2], 'every tail length was found');
        for (const bundle of bundles) {
          const packed = packAgent(bundle);
          const text = encodeBase85(packed);
          assert.ok(
            text.length <= (packed.length * 5) / 4 + 4,
            `${text.length} characters for ${packed.length}`,
          );
          // Act
          const run = unpackInShell(node.path, program, text);
          // Assess
          assert.equal(run.status, 0, `${bundle.length} bytes: ${run.stderr}`);
          assert.deepEqual(run.stdout, bundle);
        }
      });

      it('refuses a text that is no encoding: a stray character, a 5k+1 length, a group above 2^32-1', () => {
        const decode = withoutBrotli(program);
        const valid = encodeBase85(randomBytes(12));
        const bad: Array<[string, Buffer]> = [
          ['one character too many', Buffer.from(`${valid}!`)],
          ['group 2^32', Buffer.from(`${valid}${group(2 ** 32)}`)],
          ['the largest group', Buffer.from(`${valid}${group(85 ** 5 - 1)}`)],
          ['a final group padded above 2^32-1', Buffer.from(`${valid}~~`)],
          [
            'a non-ASCII byte',
            Buffer.concat([Buffer.from(valid), Buffer.from([0xc1, 0x21, 0x21, 0x21, 0x21])]),
          ],
          ...[...'\'"\\{}$`%& \n'].map((char): [string, Buffer] => [
            `the character ${JSON.stringify(char)}`,
            Buffer.from(`${valid.slice(0, 7)}${char}${valid.slice(8)}`),
          ]),
        ];
        // The largest valid group decodes: the bound is exact.
        const max = unpackStdin(node.path, decode, Buffer.from(group(2 ** 32 - 1)));
        assert.deepEqual(max.stdout, Buffer.from([0xff, 0xff, 0xff, 0xff]));
        for (const [label, input] of bad) {
          const run = unpackStdin(node.path, decode, input);
          assert.notEqual(run.status, 0, `${label}: refused`);
          assert.equal(run.stdout.length, 0, `${label}: nothing written`);
        }
      });
    });
  }
});
