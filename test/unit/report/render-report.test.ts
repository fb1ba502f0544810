/**
 * The history report's renderer (pure: rounds in, HTML out): what each chart
 * draws, the text alternatives, hostile names escaped, the page for no
 * rounds, and a page whose size does not grow with the history.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HistoryRound } from '../../../agent/history/history-store.ts';
import { html, renderReport } from '../../../agent/report/render-report.ts';
import { buildSeries, REPORT_LIMITS } from '../../../agent/report/report-series.ts';
import { fixtureRounds } from '../../helpers/history-fixture.ts';

const base = {
  hostname: 'connector-1',
  generatedAt: new Date('2026-11-30T12:30:00Z'),
  logDir: '/home/ubuntu/Connexa-Logs',
  since: null,
  resource: null,
  notes: [],
};

const count = (page: string, needle: string): number => page.split(needle).length - 1;

/** The `d` attribute of the chart paths of class `cls` in section `i`. */
function pathsOf(page: string, i: number, cls: string): string[] {
  const section = page.split(`<section id="r${i}"`)[1]?.split('</section>')[0] ?? '';
  return [...section.matchAll(new RegExp(`<path class="${cls}" d="([^"]*)"`, 'g'))].map(
    (m) => m[1] as string,
  );
}

describe('history report renderer', () => {
  it('draws one chart per resource with band, latency line, thresholds, flags, loss, path change and tunnel periods', () => {
    // Prepare
    const rounds = fixtureRounds({ rounds: 200, tunnel: true });
    // Act
    const page = renderReport({ ...base, rounds });
    // Assess
    assert.equal(count(page, '<svg viewBox='), 3, 'one chart per resource');
    assert.equal(count(page, '<section id="r'), 3);
    for (const i of [0, 1, 2]) {
      assert.equal(pathsOf(page, i, 'band-outer').length, 1, `chart ${i}: outer band`);
      assert.equal(pathsOf(page, i, 'band-inner').length, 1, `chart ${i}: inner band`);
      assert.equal(pathsOf(page, i, 'median').length, 1, `chart ${i}: latency line`);
      assert.equal(pathsOf(page, i, 'threshold').length, 2, `chart ${i}: latency and loss thresholds`);
      assert.equal(pathsOf(page, i, 'tunnel-down').length, 1, `chart ${i}: tunnel down shaded`);
      assert.equal(pathsOf(page, i, 'tunnel-reconnecting').length, 1, `chart ${i}: reconnecting shaded`);
    }
    assert.equal(pathsOf(page, 0, 'path-change').length, 1, 'the steady resource changed path once');
    assert.equal(count(pathsOf(page, 0, 'path-change')[0] ?? '', 'M'), 1);
    assert.deepEqual(pathsOf(page, 0, 'flag-latency'), [], 'nothing flagged on the steady resource');
    assert.equal(pathsOf(page, 1, 'flag-latency').length, 1, 'the latency episode is flagged');
    assert.equal(pathsOf(page, 2, 'flag-loss').length, 1, 'loss flagged');
    assert.equal(pathsOf(page, 2, 'flag-down').length, 1, 'unreachable while the tunnel was down');
    assert.equal(pathsOf(page, 2, 'loss-over').length, 1, 'loss above its threshold');
    // The latency threshold (75 ms of an axis to 100 or more) is a horizontal line inside the plot.
    const threshold = pathsOf(page, 0, 'threshold')[0] ?? '';
    assert.match(threshold, /^M44 [\d.]+H552$/, 'one horizontal line across the plot');
  });

  it('gives every chart and table a text alternative', () => {
    const page = renderReport({ ...base, rounds: fixtureRounds({ rounds: 60, tunnel: true }) });
    for (const i of [0, 1, 2]) {
      assert.ok(
        page.includes(`role="img" aria-labelledby="r${i}t r${i}d"`),
        `chart ${i} is an image with a name`,
      );
      assert.match(page, new RegExp(`<title id="r${i}t">Latency and loss of [^<]+ over time</title>`));
      assert.match(page, new RegExp(`<desc id="r${i}d">Median latency [\\d.]+ ms \\(95th percentile`));
    }
    assert.match(page, /<desc id="r1d">[^<]*round\(s\) flagged \(\d+ latency\)/);
    assert.match(
      page,
      /<desc id="r0d">[^<]*1 path change\(s\)\. Tunnel down or reconnecting in \d+ round\(s\)/,
    );
    assert.equal(count(page, '<caption>Summary: '), 3, 'a data table per resource');
    assert.ok(page.includes('<caption>Events: https://wiki.corp.internal/ (newest first)</caption>'));
    assert.ok(page.includes('<html lang="en">'));
  });

  it('escapes hostile resource names, addresses, host name, log dir and notes', () => {
    // Prepare: names a non-root user could put into the history file.
    const hostile = [
      '<script>alert(1)</script>',
      '"><img src=x onerror=alert(2)>',
      "a'b&c",
      'evil\u202eevil\u001b[2J',
      '</title><svg onload=alert(3)>',
    ];
    const rounds = fixtureRounds({ rounds: 5, extraTargets: hostile }).map((r) => ({
      ...r,
      resources: r.resources.map((e) =>
        e.target === hostile[1] ? { ...e, address: '<b>10.0.0.1</b>', method: 'http' as const } : e,
      ),
    }));
    // Act
    const page = renderReport({
      ...base,
      rounds,
      hostname: '<h1>host</h1>',
      logDir: '/tmp/"><script>',
      resource: null,
      notes: ['<marquee>note</marquee>'],
    });
    // Assess: no markup from the history, only our own elements.
    assert.ok(!page.includes('<script'), 'no script element');
    assert.ok(!page.includes('<img'), 'no img element');
    assert.ok(!page.includes('<marquee'), 'no marquee');
    assert.ok(!page.includes('<b>'), 'no b from an address');
    assert.ok(!page.includes('<h1>host'), 'host name escaped');
    assert.ok(
      !/onerror=|onload=/.test(
        page.replace(
          /&quot;&gt;&lt;img src=x onerror=alert\(2\)&gt;|&lt;\/title&gt;&lt;svg onload=alert\(3\)&gt;/g,
          '',
        ),
      ),
    );
    assert.ok(page.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
    assert.ok(page.includes('&quot;&gt;&lt;img src=x onerror=alert(2)&gt;'));
    assert.ok(page.includes('a&#39;b&amp;c'));
    assert.ok(page.includes('evil\\u202eevil\\x1b[2J'), 'control characters made visible');
    assert.ok(!page.includes('\u202e') && !page.includes('\u001b'));
    assert.ok(page.includes('&lt;b&gt;10.0.0.1&lt;/b&gt;'));
    // Ids and links are numbered, never names.
    assert.deepEqual(
      [...page.matchAll(/ id="([^"]*)"/g)]
        .map((m) => m[1])
        .filter((id) => !/^r\d+[htd]?$/.test(id as string)),
      [],
    );
  });

  it('escapes what HTML needs escaped', () => {
    assert.equal(html(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });

  it('says there is nothing to draw when there are no rounds, naming the filter', () => {
    const page = renderReport({
      ...base,
      rounds: [],
      since: new Date('2026-11-30T00:00:00Z'),
      resource: 'db<x>',
      notes: ['No rounds since 2026-11-30T00:00:00.000Z; the newest was at 2026-11-29T10:00:00.000Z.'],
    });
    assert.ok(!page.includes('<svg viewBox='));
    assert.match(
      page,
      /<p class="empty" role="status">No rounds recorded for resource db&lt;x&gt;, since 2026-11-30 00:00: nothing to draw yet/,
    );
    assert.ok(page.includes('the newest was at 2026-11-29T10:00:00.000Z'));
    assert.ok(page.endsWith('</html>\n'));
  });

  it('draws a resource measured once, and one never measured, without failing', () => {
    const [one] = fixtureRounds({ rounds: 1 });
    const round = one as HistoryRound;
    const unmeasured: HistoryRound = {
      ...round,
      resources: round.resources.map((e) => ({
        ...e,
        latencyMs: null,
        lowMs: null,
        highMs: null,
        stdevMs: null,
        verdict: 'unreachable',
        lossPct: 100,
      })),
    };
    const page = renderReport({ ...base, rounds: [round] });
    assert.equal(pathsOf(page, 0, 'median').length, 1);
    const blind = renderReport({ ...base, rounds: [unmeasured] });
    assert.deepEqual(pathsOf(blind, 0, 'median'), []);
    assert.equal(pathsOf(blind, 0, 'flag-down').length, 1);
    assert.match(blind, /No latency measured in 1 round\(s\)\./);
  });

  it('labels the time axis: hours and dates for days of rounds, the rounds themselves for minutes', () => {
    const labels = (page: string) =>
      [
        ...(page.split('<section id="r1"')[0] ?? '').matchAll(/<text class="x[^"]*"[^>]*>([^<]+)<\/text>/g),
      ].map((m) => m[1]);
    const days = labels(renderReport({ ...base, rounds: fixtureRounds({ rounds: 864 }) }));
    assert.deepEqual(days, ['11-28', '12:00', '11-29', '12:00', '11-30', '12:00']);
    const minutes = fixtureRounds({ rounds: 3, everyMinutes: 0.05 });
    assert.deepEqual(labels(renderReport({ ...base, rounds: minutes })), ['11:59:54', '12:00:00']);
  });

  it('leaves a gap where rounds are missing instead of joining across it', () => {
    const rounds = fixtureRounds({ rounds: 40 });
    const withGap = [...rounds.slice(0, 15), ...rounds.slice(30)];
    const page = renderReport({ ...base, rounds: withGap });
    const median = pathsOf(page, 0, 'median')[0] ?? '';
    assert.equal(count(median, 'M'), 2, 'two stretches of line');
  });

  it('keeps the page small however long the history: at most maxPoints points a chart', () => {
    // Prepare: a week of 5-minute rounds, and four weeks.
    const week = fixtureRounds({ rounds: 2016, tunnel: true });
    const month = fixtureRounds({ rounds: 4 * 2016, tunnel: true });
    // Act
    const weekPage = renderReport({ ...base, rounds: week });
    const monthPage = renderReport({ ...base, rounds: month });
    const series = buildSeries(month);
    // Assess
    for (const r of series?.resources ?? []) assert.ok(r.points.length <= REPORT_LIMITS.maxPoints);
    assert.equal(series?.rounds, 4 * 2016);
    assert.ok(weekPage.length < 100_000, `a week of 3 resources: ${weekPage.length} characters`);
    assert.ok(monthPage.length < weekPage.length * 1.15, `${monthPage.length} vs ${weekPage.length}`);
    assert.match(monthPage, /each point of a chart stands for up to \d+ rounds/);
    const points = series?.resources[0]?.points ?? [];
    assert.equal(
      points.reduce((sum, p) => sum + p.rounds, 0),
      4 * 2016,
      'every round is in a point',
    );
  });

  it('takes a point of several rounds as their median, widest band and highest loss', () => {
    const rounds = fixtureRounds({ rounds: REPORT_LIMITS.maxPoints * 3 });
    const series = buildSeries(rounds);
    const target = series?.resources.find((r) => r.target === 'https://wiki.corp.internal/');
    const point = target?.points.find((p) => p.rounds === 3 && p.lossPct > 0);
    assert.ok(point !== undefined);
    const members = rounds
      .filter((r) => Date.parse(r.at) >= point.from && Date.parse(r.at) <= point.to)
      .map((r) => r.resources.find((e) => e.target === 'https://wiki.corp.internal/'));
    const latencies = members.map((e) => e?.latencyMs as number).sort((a, b) => a - b);
    assert.equal(point.ms, latencies[1]);
    assert.equal(point.lowMs, Math.min(...members.map((e) => e?.lowMs as number)));
    assert.equal(point.highMs, Math.max(...members.map((e) => e?.highMs as number)));
    assert.equal(point.lossPct, Math.max(...members.map((e) => e?.lossPct as number)));
  });

  it('counts a round read twice (across a rotation) once', () => {
    const rounds = fixtureRounds({ rounds: 10 });
    const series = buildSeries([...rounds, ...rounds.slice(7)]);
    assert.equal(series?.rounds, 10);
    assert.equal(series?.resources[0]?.stats.rounds, 10);
  });

  it('charts at most maxResources resources, the newest, and says how many it left out', () => {
    // Prepare: a churning (or hostile) history naming 50 new long targets every
    // round, 2,000 in all; and, as the baseline, a page of exactly maxResources.
    const template = fixtureRounds({ rounds: 40 });
    const name = (round: number, i: number): string => `${'x'.repeat(200)}-${round}-${i}.corp.internal`;
    const churn = template.map((round, k) => {
      const entry = round.resources[0] as HistoryRound['resources'][number];
      return {
        ...round,
        resources: Array.from({ length: 50 }, (_, i) => ({ ...entry, target: name(k, i) })),
      };
    });
    const max = REPORT_LIMITS.maxResources;
    const newestOnly = churn.slice(-Math.ceil(max / 50));
    // Act
    const page = renderReport({ ...base, rounds: churn });
    const baseline = renderReport({ ...base, rounds: newestOnly });
    // Assess
    const left = 2000 - max;
    assert.equal(count(page, '<section id="r'), max, `${max} resources charted`);
    assert.equal(count(baseline, '<section id="r'), max);
    assert.ok(
      page.includes(`<p class="note">${left} resource(s) left out: the report charts at most ${max}`),
      'the page says how many were left out',
    );
    assert.ok(!baseline.includes('left out'), 'nothing said when nothing is left out');
    assert.ok(page.includes(name(39, 49)) && page.includes(name(38, 0)), 'the newest rounds are charted');
    assert.ok(!page.includes(name(0, 0)) && !page.includes(name(37, 49)), 'older ones are not');
    assert.ok(
      page.length < baseline.length * 1.1,
      `page ${page.length} bytes, no larger than a page of ${max} resources (${baseline.length})`,
    );
    assert.equal(buildSeries(churn)?.resourcesLeftOut, left);
  });

  it('lists at most maxEvents events per resource, the newest, and says how many it left out', () => {
    // Prepare: a resource flagged every other round, so every flag is an event.
    const rounds = fixtureRounds({ rounds: 200 }).map((round, k) => ({
      ...round,
      resources: round.resources.map((e) => ({
        ...e,
        verdict: k % 2 === 0 ? ('ok' as const) : ('loss' as const),
      })),
    }));
    // Act
    const series = buildSeries(rounds);
    const page = renderReport({ ...base, rounds });
    // Assess
    const first = series?.resources[0];
    assert.equal(first?.events.length, REPORT_LIMITS.maxEvents);
    assert.equal(first?.events[0]?.from, rounds[199]?.at, 'the newest first');
    assert.ok((first?.moreEvents ?? 0) >= 100 - REPORT_LIMITS.maxEvents);
    assert.ok(page.includes(`<p class="note">${first?.moreEvents} earlier event(s) not listed.</p>`));
  });
});
