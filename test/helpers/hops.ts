import type { Hop } from '../../common/result-schema.ts';

/** An mtr path from `[host, loss %, avg ms]` per hop; host null or loss 100 makes a silent hop. */
export function pathOf(spec: readonly [string | null, number, number][]): Hop[] {
  return spec.map(([host, lossPct, avg], index) => {
    const silent = host === null || lossPct >= 100;
    return {
      ttl: index + 1,
      host,
      lossPct: host === null ? 100 : lossPct,
      sent: 10,
      lastMs: silent ? null : avg,
      avgMs: silent ? null : avg,
      bestMs: silent ? null : avg,
      worstMs: silent ? null : avg,
      stdevMs: silent ? null : 0,
      jitterMs: silent ? null : 0,
    };
  });
}
