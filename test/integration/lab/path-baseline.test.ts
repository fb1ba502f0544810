/**
 * The round history in the lab: the built agent runs round after round in one
 * log directory, as `watch` or cron would, while the lab switches the route to
 * one resource through a second router and back (path changes), and delays
 * the other one below the latency threshold (baseline). Needs root and
 * `dist/agent.js` (`npm run build`); skipped otherwise.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeRound, HISTORY_FILE } from '../../../agent/history/history-store.ts';
import {
  parseResultDocument,
  type ResourceResult,
  type ResultDocument,
} from '../../../common/result-schema.ts';
import { carriesDelay, measureUntil, problems } from '../../helpers/latency.ts';
import { createLab, type Lab } from '../../lab/lab.ts';
import { labSkipReason } from '../../lab/preflight.ts';

const AGENT = process.env.CCM_AGENT_BUNDLE ?? path.resolve(__dirname, '..', '..', '..', 'dist', 'agent.js');
const skip =
  labSkipReason() ?? (fs.existsSync(AGENT) ? false : `${AGENT} is missing: run \`npm run build\` first`);

/** Rounds before the baseline exists (BASELINE_RULE.minRounds) and a few more. */
const BASELINE_ROUNDS = 10;
const INJECTED_MS = 20;

describe('round history in the network lab: path changes and baselines', { skip }, () => {
  let lab: Lab;
  let logDir: string;
  let switched: string;
  let delayed: string;
  const docs: ResultDocument[] = [];

  before(async () => {
    lab = await createLab({ resources: 2 });
    logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ccm-history-lab-'));
    [switched, delayed] = lab.addr.resources as [string, string];
  });

  after(async () => {
    await lab?.destroy();
    fs.rmSync(logDir, { recursive: true, force: true });
  });

  /** One round in the shared log directory. */
  async function round(extra: Record<string, string> = {}): Promise<ResultDocument> {
    const flags: Record<string, string> = {
      '--resources': `${switched},${delayed}`,
      '--count': '5',
      '--interval': '0.2',
      '--latency-threshold': '75',
      '--log-dir': logDir,
      '--gateway-ip': lab.addr.gwUnderlay,
      ...extra,
    };
    const args = [AGENT, 'check', '--json', ...Object.entries(flags).flat()];
    const result = await lab.exec('host', process.execPath, args, { timeoutMs: 120_000 });
    assert.equal(
      result.exitCode,
      0,
      `agent exit ${result.exitCode}\n${result.stderr}\n${result.stdout.slice(0, 2000)}`,
    );
    const doc = parseResultDocument(result.stdout);
    docs.push(doc);
    return doc;
  }

  const resourceOf = (doc: ResultDocument, target: string): ResourceResult => {
    const found = doc.resources.find((r) => r.target === target);
    assert.ok(found, `no ${target} in the round`);
    return found;
  };
  const usual = (): string[] => [...lab.addr.hopsToResource, switched];
  const viaAlt = (): string[] => [lab.addr.gwTunnel, lab.addr.r1, lab.addr.alt, lab.addr.r2, switched];
  const show = (doc: ResultDocument): string =>
    JSON.stringify(
      doc.resources.map((r) => ({
        t: r.target,
        hops: r.hops?.map((h) => h.host),
        pc: r.pathChange,
        b: r.baseline,
      })),
    );

  it('reports no path change on stable rounds', async () => {
    for (let i = 0; i < BASELINE_ROUNDS; i++) {
      const doc = await round();
      for (const target of [switched, delayed]) {
        assert.equal(resourceOf(doc, target).pathChange, null, `round ${i + 1}: ${show(doc)}`);
      }
    }
    assert.deepEqual(
      resourceOf(docs[docs.length - 1] as ResultDocument, switched).hops?.map((h) => h.host),
      usual(),
    );
  });

  it('reports the change in the round the route to one resource goes through a second router', async () => {
    await lab.routeVia('res1', 'alt');
    const doc = await round();
    assert.deepEqual(
      resourceOf(doc, switched).pathChange,
      {
        previousHops: usual(),
        hops: viaAlt(),
        firstDifferentHop: 3,
      },
      show(doc),
    );
    assert.equal(resourceOf(doc, delayed).pathChange, null, 'the other resource kept its path');
    // Still through the second router: no change.
    const again = await round();
    assert.equal(resourceOf(again, switched).pathChange, null, show(again));
  });

  it('flags a round far above its own baseline with --baseline-flag on, under the fixed threshold', async () => {
    // Prepare: the delayed resource's baseline is its clean rounds above; 20 ms behind r1 (the
    // switched resource now bypasses that link).
    // A loaded machine widens the baseline's spread, and "far" is judged against it
    // (more than max(4 × spread, 5 ms, 20 % of the baseline) above): the delay is
    // chosen from this run's baseline, still well under the fixed threshold.
    const clean = resourceOf(await round(), delayed).baseline;
    const injectedMs = Math.min(
      60,
      Math.max(INJECTED_MS, Math.ceil(6 * (clean?.spreadMs ?? 0) + 0.3 * (clean?.ms ?? 0) + 10)),
    );
    await lab.setLatency('r1-r2', injectedMs);
    // Act, Assess: a busy machine can scatter a round; measured again before failing.
    const doc = await measureUntil(
      `${injectedMs} ms over the baseline`,
      () => round({ '--baseline-flag': 'on' }),
      (d) => {
        const r = resourceOf(d, delayed);
        return problems(
          carriesDelay(
            'latency over the baseline',
            r.latencyMs,
            r.baseline?.ms,
            injectedMs,
            r.baseline?.spreadMs,
          ),
          r.baseline?.far === true ? null : `not far: ${JSON.stringify(r.baseline)}`,
        );
      },
    );
    const resource = resourceOf(doc, delayed);
    assert.ok((resource.latencyMs ?? 0) < 75, 'under the fixed threshold');
    assert.deepEqual(
      [resource.latencyFlag, resource.verdict, doc.seed?.LATENCY_FLAG],
      [true, 'latency', '1'],
    );
    assert.ok(
      doc.files.some((f) => f.kind === 'mtr-resource'),
      'flagged: the MTR files are written',
    );
    // The same round without the option: stated, not flagged.
    const off = await round();
    assert.equal(resourceOf(off, delayed).baseline?.far, true, show(off));
    assert.equal(resourceOf(off, delayed).latencyFlag, false);
    await lab.setLatency('r1-r2', 0);
  });

  it('reports the change back when the route returns, then nothing on stable rounds', async () => {
    await lab.routeVia('res1', 'r2');
    const back = await round();
    assert.deepEqual(
      resourceOf(back, switched).pathChange,
      {
        previousHops: viaAlt(),
        hops: usual(),
        firstDifferentHop: 3,
      },
      show(back),
    );
    const stable = await round();
    assert.equal(resourceOf(stable, switched).pathChange, null, show(stable));
    // Every round is in the history, the changes marked.
    const lines = fs.readFileSync(path.join(logDir, HISTORY_FILE), 'utf8').trim().split('\n');
    assert.equal(lines.length, docs.length);
    const marked = lines.map((line) =>
      decodeRound(line)?.round.resources.find((e) => e.target === switched)?.pathChanged ? 1 : 0,
    );
    assert.deepEqual(
      marked.flatMap((pc, i) => (pc === 1 ? [i] : [])),
      docs.flatMap((d, i) => (resourceOf(d, switched).pathChange === null ? [] : [i])),
    );
    assert.equal(marked.filter((pc) => pc === 1).length, 2);
  });
});
