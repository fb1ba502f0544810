/**
 * The history report in a real browser: the built agent runs real rounds
 * against loopback (real mtr) and writes its history; a realistic history
 * with every kind of event is written the way the agent appends it;
 * `node dist/agent.js report --html` draws both; headless Chromium (Debian's)
 * opens each file and the test checks what it rendered: one chart per
 * resource with its marks, the text alternatives, no console error, no
 * request but the file itself; at desktop width, at phone width and as
 * printed. Screenshots (and a PDF) are saved under the test's temp dir and
 * their paths printed.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import type { Page } from 'playwright-core';
import { type Browser, CHROMIUM, haveChromium, launchChromium } from '../../helpers/chromium.ts';
import { writeFixtureHistory } from '../../helpers/history-fixture.ts';
import { AGENT, runAgent } from '../../helpers/run-agent.ts';

const skip = !haveChromium() ? `needs ${CHROMIUM} (apt-get install chromium)` : false;

interface Opened {
  page: Page;
  requests: string[];
  errors: string[];
}

/** Opens `file`, recording every request the page makes and every console error or warning. */
async function open(browser: Browser, file: string): Promise<Opened> {
  const requests: string[] = [];
  const errors: string[] = [];
  const page = await browser.context.newPage();
  page.on('request', (request) => requests.push(request.url()));
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning') errors.push(message.text());
  });
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
  return { page, requests, errors };
}

function assertQuiet(opened: Opened, file: string): void {
  const self = pathToFileURL(file).href;
  assert.deepEqual(
    opened.requests.filter((url) => url !== self),
    [],
    'no request but the file itself',
  );
  assert.ok(opened.requests.includes(self), 'the recorder saw the page load itself');
  assert.deepEqual(opened.errors, [], 'no console errors or warnings');
}

interface Chart {
  heading: string;
  role: string | null;
  title: string;
  desc: string;
  /** Tag names of the elements aria-labelledby names. */
  tags: string[];
  tables: string[];
  /** Rendered width, CSS px. */
  rendered: number;
  /** Class → path elements of that class that draw something. */
  marks: Record<string, number>;
}

// Runs in the page (this project's TypeScript has no DOM types, so page code is a string).
const CHARTS_IN_PAGE = `Array.from(document.querySelectorAll('main section')).map((section) => {
  const svg = section.querySelector('svg');
  const marks = {};
  for (const p of svg ? Array.from(svg.querySelectorAll('path[class]')) : []) {
    const box = p.getBBox();
    if ((p.getAttribute('d') || '') !== '' && (box.width > 0 || box.height > 0)) {
      const cls = p.getAttribute('class');
      marks[cls] = (marks[cls] || 0) + 1;
    }
  }
  const named = (svg ? svg.getAttribute('aria-labelledby') || '' : '').split(' ').map((id) => document.getElementById(id));
  return {
    heading: section.querySelector('h2').textContent,
    role: svg ? svg.getAttribute('role') : null,
    title: named[0] ? named[0].textContent : '',
    desc: named[1] ? named[1].textContent : '',
    tags: named.map((e) => (e ? e.tagName : '')),
    tables: Array.from(section.querySelectorAll('table caption')).map((c) => c.textContent),
    rendered: svg ? svg.getBoundingClientRect().width : 0,
    marks,
  };
})`;

const chartsOf = async (page: Page): Promise<Chart[]> => (await page.evaluate(CHARTS_IN_PAGE)) as Chart[];

const evaluate = async <T>(page: Page, expression: string): Promise<T> =>
  (await page.evaluate(expression)) as T;

describe('history report in headless Chromium', { skip }, () => {
  let dir = '';
  let browser: Browser;

  before(async () => {
    assert.ok(existsSync(AGENT), 'dist/agent.js must be built first (npm run build)');
    dir = mkdtempSync(join(tmpdir(), 'ccm-report-browser-'));
    console.log(`report browser test files: ${dir}`);
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    // The screenshots stay (CI artifacts); the histories go.
    for (const name of ['real-logs', 'week-logs']) rmSync(join(dir, name), { recursive: true, force: true });
  });

  it('draws real rounds of the built agent against loopback', async () => {
    // Prepare: three real rounds (real mtr) to two loopback resources.
    const logs = join(dir, 'real-logs');
    const root = process.geteuid?.() === 0;
    for (let i = 0; i < 3; i++) {
      const args = ['check', '--resources', '127.0.0.1,localhost', '--count', '3'];
      const round = runAgent([...args, '--interval', root ? '0.2' : '1', '--log-dir', logs]);
      assert.equal(round.status, 0, round.stderr);
    }
    const file = join(dir, 'real.html');
    // Act
    const run = runAgent(['report', '--html', file, '--log-dir', logs]);
    // Assess
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /wrote .*real\.html \(\d+ bytes\): 3 round\(s\), 2 resource\(s\)/);
    const opened = await open(browser, file);
    const charts = await chartsOf(opened.page);
    assert.deepEqual(
      charts.map((c) => c.heading),
      ['127.0.0.1', 'localhost 127.0.0.1'],
    );
    for (const chart of charts) {
      for (const mark of ['band-outer', 'band-inner', 'median', 'threshold']) {
        assert.ok((chart.marks[mark] ?? 0) > 0, `${chart.heading}: ${mark} drawn`);
      }
      assert.equal(chart.role, 'img');
      assert.match(
        chart.desc,
        /^Median latency [\d.]+ ms .* over 3 round\(s\); threshold 75\.0 ms\. Loss up to 0 %/,
      );
    }
    const shot = join(dir, 'report-real.png');
    await opened.page.screenshot({ path: shot, fullPage: true });
    console.log(`screenshot: ${shot}`);
    assertQuiet(opened, file);
    await opened.page.close();
  });

  describe('days of history with every kind of event', () => {
    let file = '';
    before(() => {
      const logs = join(dir, 'week-logs');
      // Three days of 5-minute rounds; the page shows the last two (bucketed: more rounds than points).
      writeFixtureHistory(logs, { rounds: 864, tunnel: true, end: new Date(Date.now() - 60_000) });
      file = join(dir, 'week.html');
      const run = runAgent(['report', '--html', file, '--log-dir', logs, '--since', '2d']);
      assert.equal(run.status, 0, run.stderr);
      assert.match(run.stdout, /: 576 round\(s\), 3 resource\(s\)/);
    });

    it('shows one chart per resource with band, latency, thresholds, loss, flags, path change and tunnel periods', async () => {
      const opened = await open(browser, file);
      const charts = await chartsOf(opened.page);
      assert.equal(charts.length, 3, 'one chart per resource');
      const [steady, db, wiki] = charts;
      for (const chart of charts) {
        for (const mark of ['band-outer', 'band-inner', 'median', 'tunnel-down', 'tunnel-reconnecting']) {
          assert.ok((chart.marks[mark] ?? 0) > 0, `${chart.heading}: ${mark} drawn`);
        }
        assert.equal(chart.marks.threshold, 2, `${chart.heading}: latency and loss thresholds`);
      }
      assert.equal(steady?.marks['path-change'], 1, 'the path change');
      assert.equal(db?.marks['flag-latency'], 1, 'the latency episode flagged');
      assert.equal(wiki?.marks['flag-loss'], 1);
      assert.equal(wiki?.marks['flag-down'], 1, 'unreachable while the tunnel was down');
      assert.equal(wiki?.marks['loss-over'], 1);
      assert.equal(await opened.page.locator('script').count(), 0);
      const shot = join(dir, 'report-desktop.png');
      await opened.page.screenshot({ path: shot, fullPage: true });
      console.log(`screenshot: ${shot}`);
      assertQuiet(opened, file);
      await opened.page.close();
    });

    it('gives each chart a text alternative and a data table', async () => {
      const opened = await open(browser, file);
      for (const chart of await chartsOf(opened.page)) {
        assert.equal(chart.role, 'img');
        assert.deepEqual(chart.tags, ['title', 'desc']);
        assert.match(chart.title, /^Latency and loss of .+ over time$/);
        assert.match(
          chart.desc,
          /Median latency [\d.]+ ms .* Loss up to [\d.]+ % .*Tunnel down or reconnecting in \d+ round/,
        );
        assert.ok(
          chart.tables.some((c) => c.startsWith('Summary: ')),
          `${chart.heading}: summary table`,
        );
        assert.ok(
          chart.tables.some((c) => c.startsWith('Events: ')),
          `${chart.heading}: events table`,
        );
      }
      assert.equal(await evaluate(opened.page, 'document.documentElement.lang'), 'en');
      assertQuiet(opened, file);
      await opened.page.close();
    });

    it('fits a phone: no sideways scrolling, charts scaled to the width, labels still legible', async () => {
      const phone = await launchChromium({ width: 375, height: 812 });
      try {
        const opened = await open(phone, file);
        const layout = await evaluate<{ scrollWidth: number; labelPx: number; oddShown: boolean }>(
          opened.page,
          `({
            scrollWidth: document.documentElement.scrollWidth,
            labelPx: document.querySelector('svg text.x').getBoundingClientRect().height,
            oddShown: Array.from(document.querySelectorAll('svg text.x-odd')).some((t) => getComputedStyle(t).display !== 'none'),
          })`,
        );
        assert.ok(layout.scrollWidth <= 375, `page width ${layout.scrollWidth} px`);
        for (const chart of await chartsOf(opened.page)) {
          assert.ok(chart.rendered > 300 && chart.rendered <= 375, `chart ${chart.rendered} px wide`);
        }
        assert.ok(layout.labelPx >= 9, `axis labels ${layout.labelPx} px high`);
        assert.equal(layout.oddShown, false, 'every other time label left out');
        const shot = join(dir, 'report-phone.png');
        await opened.page.screenshot({ path: shot, fullPage: true });
        console.log(`screenshot: ${shot}`);
        assertQuiet(opened, file);
      } finally {
        await phone.close();
      }
    });

    it('prints: navigation left out, sections kept whole, colours kept, a PDF comes out', async () => {
      const opened = await open(browser, file);
      await opened.page.emulateMedia({ media: 'print' });
      const print = await evaluate(
        opened.page,
        `({
          nav: getComputedStyle(document.querySelector('nav')).display,
          breakInside: getComputedStyle(document.querySelector('section')).breakInside,
          colours: getComputedStyle(document.querySelector('.band-outer')).printColorAdjust,
        })`,
      );
      assert.deepEqual(print, { nav: 'none', breakInside: 'avoid', colours: 'exact' });
      const pdf = join(dir, 'report.pdf');
      await opened.page.pdf({ path: pdf, format: 'A4', printBackground: true });
      assert.ok(statSync(pdf).size > 10_000, 'a PDF with the charts');
      const shot = join(dir, 'report-print.png');
      await opened.page.screenshot({ path: shot, fullPage: true });
      console.log(`screenshot: ${shot} (print media), PDF: ${pdf}`);
      assertQuiet(opened, file);
      await opened.page.close();
    });
  });
});
