import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parseMtrJson } from '../../../agent/mtr/parse-mtr-json.ts';
import { unmeasuredJudgement } from '../../../common/flag-rule.ts';
import {
  formatFixed1,
  mtrResourceSections,
  renderMtrFile,
  renderMtrHopLines,
  renderMtrSection,
  roundMtrTexts,
} from '../../../common/mtr-report-text.ts';
import type { Hop } from '../../../common/result-schema.ts';

const FIXTURES = path.join(__dirname, '..', '..', 'fixtures', 'mtr');

function hop(ttl: number, host: string | null, avgMs: number | null, lossPct: number): Hop {
  return {
    ttl,
    host,
    lossPct,
    sent: 3,
    lastMs: avgMs,
    avgMs,
    bestMs: avgMs,
    worstMs: avgMs,
    stdevMs: 0,
    jitterMs: avgMs === null ? null : 0.5,
  };
}

/**
 * Reads the values back out of an mtr 0.95 `-r -o AL` hop line: the host is
 * whatever sits between `|-- ` and column 33, Avg the next 6 characters, Loss%
 * the rest. Only usable for hosts of up to 25 characters and Avg below 1000.
 */
function hopFromReportLine(line: string): Hop {
  const match = /^ +(\d+)\.\|-- (.{25})(.{6}) *([\d.]+)%$/.exec(line);
  assert.ok(match, `not an mtr -o AL hop line: ${JSON.stringify(line)}`);
  const [, ttl = '', host = '', avg = '', loss = ''] = match;
  const name = host.trim();
  const lossPct = Number(loss);
  return hop(Number(ttl), name === '???' ? null : name, lossPct >= 100 ? null : Number(avg), lossPct);
}

function hopLinesOf(report: string): string[] {
  return report.split('\n').filter((line) => line.includes('.|-- '));
}

function canRunMtr(): boolean {
  const probe = spawnSync('mtr', ['--version'], { encoding: 'utf8' });
  return probe.status === 0 && process.getuid?.() === 0;
}

describe('renderMtrHopLines matches mtr 0.95 report mode byte for byte', () => {
  const reports = [
    'mtr095-report-AL-loopback-v4.txt',
    'mtr095-report-AL-ns-loss.txt',
    'mtr095-report-AL-ns-ratelimited.txt',
    'mtr095-report-AL-ns-silentdst.txt',
    'mtr095-report-AL-ns-silentrouter.txt',
  ];
  for (const name of reports) {
    it(`re-renders the hop lines of ${name} from their own values`, () => {
      // Prepare
      const expected = hopLinesOf(readFileSync(path.join(FIXTURES, name), 'utf8'));
      assert.ok(expected.length > 0);
      const hops = expected.map(hopFromReportLine);
      // Act
      const lines = renderMtrHopLines(hops);
      // Assess
      assert.deepEqual(lines, expected);
    });
  }

  const targets = ['127.0.0.1', '::1'];
  for (const target of targets) {
    it(`re-renders a live mtr -r -o AL run against ${target}`, {
      skip: !canRunMtr() && 'needs mtr and root',
    }, () => {
      // Prepare
      const run = spawnSync('mtr', ['-r', '-n', '-c', '3', '-i', '0.2', '-o', 'AL', '--', target], {
        encoding: 'utf8',
        timeout: 30_000,
      });
      assert.equal(run.status, 0, run.stderr);
      const expected = hopLinesOf(run.stdout);
      assert.ok(expected.length > 0, run.stdout);
      // Act
      const lines = renderMtrHopLines(expected.map(hopFromReportLine));
      // Assess
      assert.deepEqual(lines, expected);
    });
  }

  it('renders the JSON of the captured runs in the same layout as their report', () => {
    // The report and JSON fixtures come from separate runs; on these paths
    // every value rounds to the same printed text, so the lines must agree.
    const pairs: [string, string][] = [
      ['mtr095-netns-silent-router.json', 'mtr095-report-AL-ns-silentrouter.txt'],
      ['mtr095-netns-silent-destination.json', 'mtr095-report-AL-ns-silentdst.txt'],
    ];
    for (const [json, report] of pairs) {
      const hops = parseMtrJson(readFileSync(path.join(FIXTURES, json), 'utf8')).hops;
      const expected = hopLinesOf(readFileSync(path.join(FIXTURES, report), 'utf8'));
      assert.deepEqual(renderMtrHopLines(hops), expected, json);
    }
  });
});

describe('the MTR text does not change with the jitter fields (issue 10)', () => {
  it('renders a path read with Javg byte for byte as the same path read without it', () => {
    // Prepare: the agent now asks mtr for -o LSNABWVM; the old files show only Avg and Loss%.
    const withJitter = readFileSync(path.join(FIXTURES, 'mtr095-netns-jitter-varied.json'), 'utf8');
    const without = withJitter.replace(/,\n\s*"Javg": [\d.]+/g, '');
    assert.ok(!without.includes('Javg') && withJitter.includes('Javg'));
    // Act
    const a = renderMtrFile('RESOURCE', '1', [{ target: 'r', hops: parseMtrJson(withJitter).hops }]);
    const b = renderMtrFile('RESOURCE', '1', [{ target: 'r', hops: parseMtrJson(without).hops }]);
    // Assess
    assert.equal(a, b);
    assert.equal(a.split('\n')[3], '  3.|-- 10.199.4.2                 26.9  0.0%');
  });
});

describe('renderMtrHopLines reproduces report-mode quirks', () => {
  it('prints a silent hop as ??? with Avg 0.0 and 100.0% (Loss% is the last column, so % stays)', () => {
    const lines = renderMtrHopLines([hop(2, null, null, 100)]);
    assert.deepEqual(lines, ['  2.|-- ???                         0.0 100.0%']);
  });

  it('cuts Avg of 1000 ms or more at its 6-character column', () => {
    const lines = renderMtrHopLines([hop(1, '10.0.0.1', 2002.4, 0), hop(2, '10.0.0.2', 12345.6, 50)]);
    assert.deepEqual(lines, [
      '  1.|-- 10.0.0.1                  2002.  0.0%',
      '  2.|-- 10.0.0.2                  12345 50.0%',
    ]);
  });

  it('cuts host names longer than 25 characters', () => {
    const lines = renderMtrHopLines([hop(1, 'ip-100-64-0-1.eu-west-1.compute.internal', 1.25, 0)]);
    assert.deepEqual(lines, ['  1.|-- ip-100-64-0-1.eu-west-1.c   1.2  0.0%']);
  });

  it('keeps a 25-character name whole and pads a short one to column 33', () => {
    const lines = renderMtrHopLines([hop(1, 'a'.repeat(25), 0.1, 0), hop(2, 'b', 0.1, 0)]);
    assert.deepEqual(lines, [
      `  1.|-- ${'a'.repeat(25)}   0.1  0.0%`,
      `  2.|-- b${' '.repeat(24)}   0.1  0.0%`,
    ]);
  });

  it('aligns two-digit and three-digit hop numbers as %2d does', () => {
    const lines = renderMtrHopLines([hop(12, '10.0.0.1', 3, 33.333), hop(100, '10.0.0.2', 3, 0)]);
    assert.deepEqual(lines, [
      ' 12.|-- 10.0.0.1                    3.0 33.3%',
      ' 100.|-- 10.0.0.2                   3.0  0.0%',
    ]);
  });

  it('prints a full IPv6 address within the host column', () => {
    const lines = renderMtrHopLines([hop(1, '2001:db8:1234:5678::1', 10.05, 6.667)]);
    assert.deepEqual(lines, ['  1.|-- 2001:db8:1234:5678::1      10.1  6.7%']);
  });

  it('renders an Avg the -o L run did not measure as 0.0, as mtr would', () => {
    const lines = renderMtrHopLines([{ ...hop(1, '10.0.0.1', null, 0) }]);
    assert.deepEqual(lines, ['  1.|-- 10.0.0.1                    0.0  0.0%']);
  });
});

describe('formatFixed1 rounds like glibc printf %.1f', () => {
  it('rounds exact ties to even (0.25 -> 0.2, 0.75 -> 0.8, 2.25 -> 2.2)', () => {
    assert.deepEqual([0.25, 0.75, 1.25, 2.25, 2.75, 130.25].map(formatFixed1), [
      '0.2',
      '0.8',
      '1.2',
      '2.2',
      '2.8',
      '130.2',
    ]);
  });

  it('rounds values that only look like ties by their binary value (0.05 -> 0.1, 2.35 -> 2.4, 0.15 -> 0.1)', () => {
    assert.deepEqual([0.05, 2.35, 0.15, 0.067, 0, 100].map(formatFixed1), [
      '0.1',
      '2.4',
      '0.1',
      '0.1',
      '0.0',
      '100.0',
    ]);
  });
});

describe('renderMtrSection and renderMtrFile write the old file layout', () => {
  const hops = [hop(1, '127.0.0.1', 0.1, 0)];
  const line = '  1.|-- 127.0.0.1                   0.1  0.0%\n';

  it('writes the old header when no target is given', () => {
    assert.equal(
      renderMtrSection('RESOURCE', '20260126164029', null, hops),
      `RESOURCE MTR: 20260126164029 (Hop, Avg, Loss%)\n${line}`,
    );
  });

  it('names the target in the header when one is given', () => {
    assert.equal(
      renderMtrSection('GATEWAY', '20260126164029', '203.0.113.5', hops),
      `GATEWAY MTR: 20260126164029 203.0.113.5 (Hop, Avg, Loss%)\n${line}`,
    );
  });

  it('keeps the old exact layout for a file with one section', () => {
    assert.equal(
      renderMtrFile('RESOURCE', '20260126164029', [{ target: '127.0.0.1', hops }]),
      `RESOURCE MTR: 20260126164029 (Hop, Avg, Loss%)\n${line}`,
    );
  });

  it('names each target and separates sections by one blank line', () => {
    const other = [hop(1, '::1', 0.1, 0)];
    const text = renderMtrFile('RESOURCE', '1', [
      { target: '127.0.0.1', hops },
      { target: 'localhost6', hops: other },
    ]);
    assert.equal(
      text,
      'RESOURCE MTR: 1 127.0.0.1 (Hop, Avg, Loss%)\n' +
        line +
        '\n' +
        'RESOURCE MTR: 1 localhost6 (Hop, Avg, Loss%)\n' +
        '  1.|-- ::1                         0.1  0.0%\n',
    );
  });

  it('writes nothing for no sections', () => {
    assert.equal(renderMtrFile('GATEWAY', '1', []), '');
  });
});

describe('which paths get an MTR section (one rule for the agent files and the collector records)', () => {
  const path2 = [hop(1, '10.8.0.1', 1.5, 0), hop(2, '10.20.0.5', 120, 0)];
  const flaggedSlow = {
    target: '10.20.0.5',
    hops: path2,
    lossPct: 0,
    latencyFlag: true,
    lossFlag: false,
    verdict: 'latency' as const,
  };
  const clean = { ...flaggedSlow, target: '10.20.0.6', latencyFlag: false, verdict: 'ok' as const };
  const dead = {
    target: '10.20.0.7',
    hops: [hop(1, null, null, 100)],
    lossPct: 100,
    latencyFlag: false,
    lossFlag: true,
    verdict: 'unreachable' as const,
  };
  const unmeasured = {
    target: 'db.corp.internal',
    hops: null,
    ...unmeasuredJudgement({ code: 'E_RESOLVE', message: 'could not resolve "db.corp.internal": EAI_AGAIN' }),
  };

  it('a flagged resource with a path gets one; clean, 100 % loss and unmeasured ones get none', () => {
    assert.deepEqual(
      mtrResourceSections([clean, flaggedSlow, dead, unmeasured]).map((s) => s.target),
      ['10.20.0.5'],
    );
  });

  it('a flagged path with no hops (0.92 dead path measured by TCP with loss) gets none', () => {
    assert.deepEqual(
      mtrResourceSections([
        { ...flaggedSlow, hops: [], latencyFlag: false, lossFlag: true, lossPct: 40, verdict: 'loss' },
      ]),
      [],
    );
  });

  it('a round flagged only by an unmeasured resource has the gateway text and no resource text', () => {
    const gatewayPath = [hop(1, '192.0.2.1', 9.5, 0), hop(2, '203.0.113.5', 11, 0)];
    const texts = roundMtrTexts('20260101120000', [clean, unmeasured], {
      ip: '203.0.113.5',
      hops: gatewayPath,
    });
    assert.equal(texts.resource, null);
    assert.equal(
      texts.gateway,
      renderMtrFile('GATEWAY', '20260101120000', [{ target: '203.0.113.5', hops: gatewayPath }]),
    );
  });

  it('an unflagged round has no text at all, and no gateway path means no gateway text', () => {
    assert.deepEqual(roundMtrTexts('0', [clean], { ip: '203.0.113.5', hops: [] }), {
      resource: null,
      gateway: null,
    });
    assert.equal(roundMtrTexts('1', [flaggedSlow], { ip: null, hops: null }).gateway, null);
    assert.equal(roundMtrTexts('1', [flaggedSlow], null).gateway, null);
  });
});
