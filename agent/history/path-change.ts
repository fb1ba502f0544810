/**
 * Whether the path to a resource changed since this host's previous rounds,
 * from the addresses of its responding hops. Pure: the rounds come from the
 * history store (history-store.ts).
 *
 * The rule, position by position (hop n of this round against hop n of the
 * earlier rounds, the last PATH_RULE.windowRounds that traced this resource):
 * 1. A hop that did not answer (`???`, null) says nothing: it is never a
 *    change, and a position where no earlier round had an address is not
 *    compared. So silent hops, and a hop missing for a round or two, never
 *    count; nor does a path that reaches further than before (the same hops,
 *    then more of them) or stops earlier (its end silent).
 * 2. Otherwise this round's address is compared with the last address any
 *    earlier round had at that position (the previous round's, or the one
 *    before it when it was silent there). The same address: no change.
 * 3. A different address is a change, unless the position is load-balanced
 *    (ECMP): in the window and this round, its address has returned to an
 *    address it had already shown at least PATH_RULE.ecmpReturns times
 *    (A B A B: two returns). At a load-balanced position only an address not
 *    seen there in the window is a change, so alternating next hops never flap.
 * So a real change is reported in the round it happens, and a change back to
 * the earlier path is reported too (one return is not load balancing). What it
 * costs: a hop that starts load balancing is reported at most twice, while its
 * alternation is learned (A → B, B → A); a route that flips between two paths
 * more than twice within the window is then treated as load-balanced, and only
 * a third path is reported until the flips leave the window.
 * A longer or shorter path shifts the hops after the insertion or removal to
 * other positions, so it shows as a change at the first shifted hop.
 */
import { RESULT_LIMITS } from '../../common/result-contract.ts';
import type { Hop, PathChange } from '../../common/result-schema.ts';
import { normalizeAddress } from '../analysis/analyse-path.ts';

/** Hop addresses by position (index 0 is hop 1); null where no hop answered. */
export type HopAddresses = (string | null)[];

/**
 * A hop address as a path keeps it: what `mtr -n` prints (run-mtr.ts), an
 * IPv4 or IPv6 address, perhaps with a zone index. The round history is
 * read back from a directory another user may write, and its paths go into
 * the result document (`pathChange.previousHops`): held to this, a crafted
 * history cannot make them larger, or costlier to print, than a round's own.
 */
export const HOP_ADDRESS = new RegExp(`^[\\w.:%@[\\]-]{1,${RESULT_LIMITS.maxAddressChars}}$`);

export const PATH_RULE = {
  /** Earlier rounds compared with (2 hours of 5-minute rounds). */
  windowRounds: 24,
  /** Returns to an address already shown at a position that make it load-balanced. */
  ecmpReturns: 2,
} as const;

/**
 * The path of an mtr report as addresses by position: a hop's address when it
 * answered (and is one: HOP_ADDRESS), null otherwise (a position mtr skipped included), up to the
 * destination (`address`; mtr may list hops past it, which are not on the
 * path). Trailing silent positions are dropped.
 */
export function hopAddresses(hops: readonly Hop[], address: string | null): HopAddresses {
  const path: HopAddresses = [];
  const destination = address === null ? null : normalizeAddress(address);
  for (const hop of hops) {
    const index = hop.ttl - 1;
    while (path.length < index) path.push(null);
    // A name that is no address (never, with -n) is kept as silent: the history keeps only addresses.
    const answered = hop.host !== null && hop.lossPct < 100 && HOP_ADDRESS.test(hop.host);
    path[index] = answered ? hop.host : null;
    if (answered && hop.host !== null && normalizeAddress(hop.host) === destination) break;
  }
  while (path.length > 0 && path[path.length - 1] === null) path.pop();
  return path;
}

/**
 * `earlier`: the paths of earlier rounds of this resource, newest first (only
 * the first PATH_RULE.windowRounds are used). Null when the path did not
 * change by the rule above, or when there is no earlier round.
 */
export function detectPathChange(earlier: readonly HopAddresses[], current: HopAddresses): PathChange | null {
  const window = earlier.slice(0, PATH_RULE.windowRounds);
  const previous = window[0];
  if (previous === undefined) return null;
  for (let index = 0; index < current.length; index++) {
    const address = current[index];
    // The previous round's address, when it has one, is the last seen: the same, no change (most hops, most rounds).
    if (address === null || address === undefined || previous[index] === address) continue;
    // Oldest first: what this position showed, silent rounds left out.
    const seen: string[] = [];
    for (let round = window.length - 1; round >= 0; round--) {
      const earlierAddress = window[round]?.[index];
      if (earlierAddress !== null && earlierAddress !== undefined) seen.push(earlierAddress);
    }
    const last = seen[seen.length - 1];
    if (last === undefined || last === address) continue;
    if (seen.includes(address) && returns([...seen, address]) >= PATH_RULE.ecmpReturns) continue;
    return { previousHops: filledIn(previous, window), hops: [...current], firstDifferentHop: index + 1 };
  }
  return null;
}

/** How many times the sequence goes back to a value it had shown before its previous one. */
function returns(sequence: readonly string[]): number {
  let count = 0;
  for (let i = 2; i < sequence.length; i++) {
    const value = sequence[i] as string;
    if (value !== sequence[i - 1] && sequence.slice(0, i - 1).includes(value)) count++;
  }
  return count;
}

/** The previous path with its silent positions filled from the rounds before it, where they had an address. */
function filledIn(previous: HopAddresses, window: readonly HopAddresses[]): HopAddresses {
  return previous.map((address, index) => {
    if (address !== null) return address;
    for (const path of window) {
      const known = path[index];
      if (known !== null && known !== undefined) return known;
    }
    return null;
  });
}
