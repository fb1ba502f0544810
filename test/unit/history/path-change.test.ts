import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  detectPathChange,
  type HopAddresses,
  hopAddresses,
  PATH_RULE,
} from '../../../agent/history/path-change.ts';
import { pathOf } from '../../helpers/hops.ts';

const A = '10.199.100.1';
const B = '10.199.3.2';
const C = '10.199.4.2';
const D = '10.199.128.11';
const X = '10.199.5.2';
const Y = '10.199.6.2';

/**
 * Runs rounds in order through the rule, each against the paths before it (as
 * the store hands them: newest first), and returns what each round reported.
 */
function runRounds(paths: readonly HopAddresses[]) {
  const reports: ReturnType<typeof detectPathChange>[] = [];
  for (let i = 0; i < paths.length; i++) {
    const earlier = paths.slice(0, i).reverse();
    reports.push(detectPathChange(earlier, paths[i] as HopAddresses));
  }
  return reports;
}

const changedRounds = (paths: readonly HopAddresses[]): number[] =>
  runRounds(paths).flatMap((report, i) => (report === null ? [] : [i]));

describe('path change: the responding hops of an mtr report', () => {
  it('keeps each address at its position, null for silent hops, and stops at the destination', () => {
    // Prepare: hop 3 silent, and mtr listing one more (silent) line past the destination.
    const hops = pathOf([
      [A, 0, 1],
      [B, 0, 2],
      [null, 100, 0],
      [D, 0, 4],
      [null, 100, 0],
    ]);
    // Act, Assess
    assert.deepEqual(hopAddresses(hops, D), [A, B, null, D]);
  });

  it('treats a hop that lost every probe as silent and drops trailing silent hops of a destination that did not answer', () => {
    const hops = pathOf([
      [A, 0, 1],
      [B, 100, 0],
      [C, 0, 3],
      [null, 100, 0],
      [null, 100, 0],
    ]);
    assert.deepEqual(hopAddresses(hops, D), [A, null, C]);
  });

  it('keeps the numbering when mtr skips a position', () => {
    const hops = pathOf([
      [A, 0, 1],
      [D, 0, 2],
    ]);
    const second = hops[1];
    if (second !== undefined) second.ttl = 4;
    assert.deepEqual(hopAddresses(hops, D), [A, null, null, D]);
  });

  it('finds the destination whatever form its IPv6 address is written in', () => {
    const hops = pathOf([
      ['2001:db8::1', 0, 1],
      ['2001:db8:0:0:0:0:0:5', 0, 2],
      ['2001:db8::9', 0, 3],
    ]);
    assert.deepEqual(hopAddresses(hops, '2001:DB8::5'), ['2001:db8::1', '2001:db8:0:0:0:0:0:5']);
  });

  it('keeps as silent a hop whose name is no address (mtr runs with -n), as the history reader refuses it', () => {
    const zoned = `fe80::1%${'e'.repeat(64 - 'fe80::1%'.length)}`;
    const hops = pathOf([
      [A, 0, 1],
      ['x'.repeat(65), 0, 2],
      ['gw\u001b[31m', 0, 3],
      [zoned, 0, 4],
      [D, 0, 5],
    ]);
    assert.deepEqual(hopAddresses(hops, D), [A, null, null, zoned, D]);
  });
});

describe('path change: the rule', () => {
  const stable: HopAddresses = [A, B, C, D];

  it('reports nothing on the first round or on stable rounds', () => {
    assert.deepEqual(changedRounds([stable, stable, stable, stable]), []);
    assert.equal(detectPathChange([], stable), null);
  });

  it('does not count silent hops as a change', () => {
    // Prepare: hop 2 and hop 3 silent in turn, the destination silent once.
    const paths = [stable, [A, null, C, D], [A, B, null, D], [A, B, C], stable];
    // Act, Assess
    assert.deepEqual(changedRounds(paths), []);
  });

  it('does not count one hop briefly missing, and compares with the last address a position had', () => {
    // Hop 2 missing for two rounds, then back: the same address is no change...
    assert.deepEqual(changedRounds([stable, [A, null, C, D], [A, null, C, D], stable]), []);
    // ...while a new address after the gap is one, measured against the address before the gap.
    const change = detectPathChange([[A, null, C, D], stable], [A, X, C, D]);
    assert.deepEqual(change, { previousHops: [A, B, C, D], hops: [A, X, C, D], firstDifferentHop: 2 });
  });

  it('reports a real change with the previous path, the new one and the first hop that differs', () => {
    const change = detectPathChange([stable, stable, stable], [A, B, X, D]);
    assert.deepEqual(change, { previousHops: [A, B, C, D], hops: [A, B, X, D], firstDifferentHop: 3 });
  });

  it('reports the change once, then the new path is stable', () => {
    const paths = [stable, stable, [A, X, Y, D], [A, X, Y, D], [A, X, Y, D]];
    assert.deepEqual(changedRounds(paths), [2]);
  });

  it('reports the change back to the earlier path', () => {
    // Prepare: stable, switched through another router for two rounds, then back.
    const switched: HopAddresses = [A, B, X, C, D];
    const paths = [stable, stable, stable, switched, switched, stable, stable];
    // Act
    const reports = runRounds(paths);
    // Assess
    assert.deepEqual(
      reports.flatMap((r, i) => (r === null ? [] : [i])),
      [3, 5],
    );
    assert.deepEqual(reports[5], { previousHops: switched, hops: stable, firstDifferentHop: 3 });
  });

  it('reports a longer path at the first shifted hop, and a shorter one too', () => {
    assert.equal(detectPathChange([stable], [A, B, X, C, D])?.firstDifferentHop, 3);
    assert.equal(detectPathChange([stable], [A, B, D])?.firstDifferentHop, 3);
  });

  it('does not count a path that reaches further or stops earlier with the same hops', () => {
    assert.equal(detectPathChange([[A, B, C]], stable), null);
    assert.equal(detectPathChange([stable], [A, B]), null);
  });

  it('does not flap on a load-balanced hop whose address alternates between rounds', () => {
    // Prepare: hop 2 alternates between two next hops (ECMP) for 40 rounds.
    const paths = Array.from({ length: 40 }, (_, i): HopAddresses => [A, i % 2 === 0 ? B : X, C, D]);
    // Act
    const changes = changedRounds(paths);
    // Assess: the alternation is learned in its first two switches, then never reported again.
    assert.deepEqual(changes, [1, 2]);
  });

  it('does not flap on a load-balanced hop chosen at random each round, once the window has seen it alternate', () => {
    // Prepare: a window full of random ECMP choices among three next hops, then 200 more rounds.
    let seed = 7;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed / 2_147_483_648;
    };
    const pick = (): HopAddresses => [A, [B, X, Y][Math.floor(random() * 3)] ?? B, C, D];
    const paths = Array.from({ length: 260 }, pick);
    // Act
    const changes = changedRounds(paths).filter((round) => round >= PATH_RULE.windowRounds);
    // Assess
    assert.deepEqual(changes, []);
  });

  it('still reports a new address at a load-balanced hop', () => {
    const paths: HopAddresses[] = Array.from({ length: 10 }, (_, i) => [A, i % 2 === 0 ? B : X, C, D]);
    const earlier = [...paths].reverse();
    assert.deepEqual(detectPathChange(earlier, [A, Y, C, D]), {
      previousHops: paths[9],
      hops: [A, Y, C, D],
      firstDifferentHop: 2,
    });
  });

  it('forgets what left the window: an address seen only before it is a change again', () => {
    const old: HopAddresses = [A, X, C, D];
    const earlier = [
      ...Array.from({ length: PATH_RULE.windowRounds }, () => stable),
      old,
      stable,
      old,
      stable,
    ];
    assert.equal(detectPathChange(earlier, old)?.firstDifferentHop, 2);
  });
});
