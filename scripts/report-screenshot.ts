/**
 * The README's picture of the history report (docs/report-screenshot.png):
 * writes three days of realistic history the way the agent appends it
 * (test/helpers/history-fixture.ts), runs the built agent's `report --html`
 * on it, and photographs the page (its charts; the tables under them hidden) in Debian's headless Chromium.
 *
 *   npm run build && node --import tsx scripts/report-screenshot.ts [out.png]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { launchChromium } from '../test/helpers/chromium.ts';
import { writeFixtureHistory } from '../test/helpers/history-fixture.ts';

const ROOT = path.resolve(__dirname, '..');
const out = path.resolve(process.argv[2] ?? path.join(ROOT, 'docs', 'report-screenshot.png'));

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'ccm-report-shot-'));
  try {
    writeFixtureHistory(path.join(dir, 'logs'), {
      rounds: 864,
      tunnel: true,
      end: new Date('2026-11-30T12:00:00Z'),
    });
    const html = path.join(dir, 'report.html');
    const run = spawnSync(
      process.execPath,
      [path.join(ROOT, 'dist', 'agent.js'), 'report', '--html', html, '--log-dir', path.join(dir, 'logs')],
      { encoding: 'utf8' },
    );
    if (run.status !== 0) throw new Error(`report failed (${run.status}): ${run.stderr}`);
    const browser = await launchChromium({ width: 900, height: 1400 });
    try {
      const page = await browser.context.newPage();
      await page.goto(pathToFileURL(html).href);
      // The charts are the picture: the tables under each are left out of it (README says so).
      await page.addStyleTag({ content: 'table,figcaption,nav,table+.note{display:none}' });
      await page.screenshot({ path: out, fullPage: true });
    } finally {
      await browser.close();
    }
    process.stdout.write(`${out}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
