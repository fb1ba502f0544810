/**
 * Counts distinct names without keeping them: each is told apart by a
 * 53-bit hash (two 32-bit multiplicative hashes of its UTF-16 code units) in
 * an open-addressing table of doubles, 8 to 16 bytes a name whatever its
 * length. Two names that share a hash count once: for a million names about
 * one chance in 10^4 by accident, but the hash is no defence against a
 * crafted store (colliding names are found in seconds: a multicollision on
 * the FNV half, then a birthday match on the rest; see
 * test/unit/report/report-stream-attacks.test.ts). So a count only ever
 * comes out lower than the truth, and a caller counts with it only names
 * whose undercount misleads no one: the report counts the resources it left
 * out this way, never the ones it charts, so that the count is never
 * negative and never 0 when one is left out (series-from-store.ts). Used
 * where the report says how many resources it left out of a history that
 * may name hundreds of thousands.
 */
export class NameCount {
  private table = new Float64Array(1024);
  size = 0;

  /** Adds `name`; true when it was not counted yet. */
  add(name: string): boolean {
    return this.addHash(hashOf(name));
  }

  has(name: string): boolean {
    return this.hasHash(hashOf(name));
  }

  /** The hashes counted (for counting those of another NameCount that this one lacks). */
  hashes(): number[] {
    return Array.from(this.table).filter((h) => h !== 0);
  }

  hasHash(hash: number): boolean {
    const mask = this.table.length - 1;
    for (let i = hash % this.table.length; ; i = (i + 1) & mask) {
      const h = this.table[i] as number;
      if (h === hash) return true;
      if (h === 0) return false;
    }
  }

  private addHash(hash: number): boolean {
    if (this.hasHash(hash)) return false;
    if ((this.size + 1) * 4 > this.table.length * 3) {
      const old = this.table;
      this.table = new Float64Array(old.length * 2);
      for (const h of old) if (h !== 0) this.place(h);
    }
    this.place(hash);
    this.size++;
    return true;
  }

  private place(hash: number): void {
    const mask = this.table.length - 1;
    let i = hash % this.table.length;
    while (this.table[i] !== 0) i = (i + 1) & mask;
    this.table[i] = hash;
  }
}

/** 1 to 2^53: never 0, the table's empty slot. */
function hashOf(name: string): number {
  let a = 0x811c9dc5;
  let b = 0x9747b28c ^ name.length;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 13;
  }
  return (a >>> 0) * 2097152 + (b >>> 11) + 1;
}
