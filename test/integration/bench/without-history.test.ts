/**
 * The history bench's "without" agent (bench/history-cost.ts): built from this
 * source with the history modules stood in for, it must still build (the
 * stand-ins export what the agent imports) and must run a real round that
 * reads, writes and adds no history, while the real bundle does; otherwise
 * the bench would compare the history with itself. Real mtr against loopback.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { HISTORY_FILE } from '../../../agent/history/history-store.ts';
import { buildWithoutHistory, ruleStateBytes } from '../../../bench/history-cost.ts';
import { parseResultDocument, type ResultDocument } from '../../../common/result-schema.ts';
import { AGENT, tempDir } from '../../helpers/run-agent.ts';

function checkRound(bundle: string, logDir: string): ResultDocument {
  const args = ['check', '--json', '--resources', '127.0.0.1', '--gateway-ip', '127.0.0.2'];
  const run = spawnSync(
    process.execPath,
    [bundle, ...args, '--log-dir', logDir, '--count', '2', '--interval', '0.2'],
    { encoding: 'utf8', timeout: 120_000 },
  );
  assert.equal(run.status, 0, run.stderr);
  return parseResultDocument(run.stdout);
}

describe('history bench: the agent without the history', () => {
  let dir: ReturnType<typeof tempDir>;
  let bare: string;
  before(async () => {
    assert.ok(existsSync(AGENT), 'dist/agent.js must be built first (npm run build)');
    dir = tempDir('bench-no-history-');
    bare = join(dir.path, 'agent-no-history.js');
    await buildWithoutHistory(bare);
  });
  after(() => dir.cleanup());

  it('builds, says so in its version, and runs rounds that keep no history and add no history fields', () => {
    const logDir = join(dir.path, 'without');

    const version = spawnSync(process.execPath, [bare, '--version'], { encoding: 'utf8' });
    const docs = [checkRound(bare, logDir), checkRound(bare, logDir)];

    assert.equal(version.status, 0, version.stderr);
    assert.match(version.stdout, /-no-history\n$/);
    assert.ok(!readdirSync(logDir).includes(HISTORY_FILE), `${HISTORY_FILE} written`);
    for (const doc of docs) {
      assert.equal(doc.resources.length, 1);
      assert.ok(!('pathChange' in (doc.resources[0] ?? {})), 'pathChange present');
      assert.ok(!('baseline' in (doc.resources[0] ?? {})), 'baseline present');
    }
  });

  it('while the real bundle, in the same rounds, keeps the history and adds both fields', () => {
    const logDir = join(dir.path, 'with');

    const docs = [checkRound(AGENT, logDir), checkRound(AGENT, logDir)];

    assert.ok(readdirSync(logDir).includes(HISTORY_FILE), `${HISTORY_FILE} missing`);
    const second = docs[1]?.resources[0];
    assert.ok(second !== undefined && 'pathChange' in second && 'baseline' in second);
  });

  it("counts as the rules' state exactly the hop addresses, hop lists, path-change flags and tunnel state of a line", () => {
    // Prepare: a line as the real bundle writes it (the first line of a file names every path)
    const logDir = join(dir.path, 'split');
    checkRound(AGENT, logDir);
    const line = readFileSync(join(logDir, HISTORY_FILE), 'utf8').trimEnd().split('\n')[0] ?? '';
    const wire = JSON.parse(line) as { ad: string[]; h?: unknown[]; tn?: string; b: string };
    // By hand: the band entries' flags (position 4) are 0 here (no path change on a first round), so
    // the band stays as written, and the rules' state is ad, h and tn.
    const band = JSON.parse(wire.b) as unknown[][];
    assert.ok(
      band.every((e) => e.length <= 4 || e[4] === 0),
      wire.b,
    );
    const hand = JSON.stringify(
      Object.fromEntries(Object.entries(wire).filter(([k]) => k !== 'ad' && k !== 'h' && k !== 'tn')),
    );

    // Act
    const bytes = ruleStateBytes(line);

    // Assess: the loopback path has hops, so there is state; removing it is what the bench counts
    assert.ok(wire.ad.length > 0 && wire.h !== undefined, line);
    assert.equal(bytes, Buffer.byteLength(line) - Buffer.byteLength(hand));
    assert.ok(bytes > 0);
    assert.throws(() => ruleStateBytes(line.replace('"hv":4', '"hv":3')), /format 3/);
  });
});
