/**
 * Deterministic bytes for property tests: SHA-256 of `seed` and a block
 * counter, block after block. As incompressible as random bytes, and the same
 * on every run, so a failure names inputs that fail again.
 */
import { createHash } from 'node:crypto';

export function seededBytes(seed: string, length: number): Buffer {
  const blocks: Buffer[] = [];
  for (let block = 0; blocks.length * 32 < length; block++) {
    blocks.push(createHash('sha256').update(`${seed}\0${block}`).digest());
  }
  return Buffer.concat(blocks).subarray(0, length);
}
