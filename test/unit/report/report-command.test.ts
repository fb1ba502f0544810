/**
 * `report`'s options and its file edge on real directories: --since and
 * --resource, bad flags, an empty or missing history, the output written
 * atomically and never through a link, a history file someone planted.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { parseArgv } from '../../../agent/cli/parse-argv.ts';
import { readConfigObject, resolveOptions } from '../../../agent/cli/resolve-options.ts';
import { prepareLogDir } from '../../../agent/files/log-dir.ts';
import { appendRound, HISTORY_FILE, readRecentRounds } from '../../../agent/history/history-store.ts';
import { writeReport } from '../../../agent/report/report-command.ts';
import { parseSince, resolveReportOptions } from '../../../agent/report/report-options.ts';
import { REPORT_LIMITS } from '../../../agent/report/report-series.ts';
import { EnvironmentError, InvalidInputError, MonitorError } from '../../../common/errors.ts';
import { fixtureRounds, writeFixtureHistory } from '../../helpers/history-fixture.ts';
import { NOBODY, ownedDir, plantFifo, plantSymlink } from '../../helpers/hostile-dir.ts';

const NOW = new Date('2026-11-30T12:30:00Z');
const env = { hostname: 'connector-1', now: NOW };

const invalid = (field: string, pattern: RegExp) => (error: unknown) =>
  error instanceof InvalidInputError && error.field === field && pattern.test(error.message);

const options = (args: string[], config: Record<string, unknown> = {}) =>
  resolveReportOptions(parseArgv(['report', ...args]), readConfigObject(config, 'test.json'), NOW);

describe('report options', () => {
  it('takes --since as a duration back from now or an ISO 8601 time with its zone', () => {
    assert.equal(parseSince('24h', NOW).toISOString(), '2026-11-29T12:30:00.000Z');
    assert.equal(parseSince('30m', NOW).toISOString(), '2026-11-30T12:00:00.000Z');
    assert.equal(parseSince('7d', NOW).toISOString(), '2026-11-23T12:30:00.000Z');
    assert.equal(parseSince('2w', NOW).toISOString(), '2026-11-16T12:30:00.000Z');
    assert.equal(parseSince('2026-11-30T08:00Z', NOW).toISOString(), '2026-11-30T08:00:00.000Z');
    assert.equal(parseSince('2026-11-30T09:00:30+01:00', NOW).toISOString(), '2026-11-30T08:00:30.000Z');
    assert.equal(parseSince('2026-11-30', NOW).toISOString(), '2026-11-30T00:00:00.000Z');
  });

  it('refuses a --since it cannot read, naming the value and what is allowed', () => {
    // Days that do not exist are refused, not rolled over to the next month.
    for (const bad of [
      'yesterday',
      '24',
      '-1h',
      '1y',
      '2026-11-30T08:00',
      '2026-13-40',
      '',
      '24 h',
      '2026-11-31',
      '2026-02-30T00:00Z',
      '2027-02-29T00:00:00+01:00',
    ]) {
      assert.throws(
        () => parseSince(bad, NOW),
        invalid(
          '--since',
          /is not allowed: an ISO 8601 time with its zone .* or a duration back from now: <n>m, <n>h, <n>d or <n>w/,
        ),
        bad,
      );
    }
  });

  it('needs --html, and takes --log-dir from the flag, else the config file, else the default', () => {
    assert.throws(
      () => options([]),
      invalid('--html', /--html \(missing\) is not allowed: the file to write/),
    );
    assert.equal(options(['--html', 'r.html']).logDir, '/home/ubuntu/Connexa-Logs');
    assert.equal(options(['--html', 'r.html'], { 'log-dir': '/var/log/cc' }).logDir, '/var/log/cc');
    assert.equal(options(['--html', 'r.html', '--log-dir', '/x'], { 'log-dir': '/var/log/cc' }).logDir, '/x');
    const full = options(['--html', 'r.html', '--since', '1h', '--resource', 'db.corp.internal']);
    assert.deepEqual(full, {
      html: 'r.html',
      since: new Date('2026-11-30T11:30:00Z'),
      resource: 'db.corp.internal',
      logDir: '/home/ubuntu/Connexa-Logs',
    });
  });

  it("refuses check's flags with report and report's flags with check (exit 2 names the flag)", () => {
    assert.throws(
      () => options(['--html', 'r.html', '--count', '5']),
      invalid('--count', /only with check or watch; report takes --html, --since, --resource/),
    );
    assert.throws(
      () => options(['--html', 'r.html', '--json']),
      invalid('--json', /report writes an HTML file/),
    );
    assert.throws(
      () => options(['--html', 'r.html', '--resource', '']),
      invalid('--resource', /a resource as the rounds list it/),
    );
    assert.throws(
      () => parseArgv(['report', '--html', 'a', '--html', 'b']),
      invalid('--html', /the option once/),
    );
    const check = parseArgv(['check', '--resources', '10.0.0.1', '--since', '24h']);
    assert.throws(() => resolveOptions('check', check, {}), invalid('--since', /only with report/));
    assert.throws(() => parseArgv(['reprot']), invalid('command', /one of check, watch, report/));
  });
});

describe('report command on a log directory', () => {
  let dir = '';
  let logs = '';
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cc-report-'));
    logs = path.join(dir, 'logs');
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const report = (o: Partial<Parameters<typeof writeReport>[0]> = {}) =>
    writeReport(
      { html: path.join(dir, 'report.html'), since: null, resource: null, logDir: logs, ...o },
      env,
    );
  const page = () => fs.readFileSync(path.join(dir, 'report.html'), 'utf8');

  it('draws every resource of every round, or those --since and --resource select', () => {
    // Prepare: 48 rounds, one every 5 minutes up to 12:00.
    writeFixtureHistory(logs, { rounds: 48, end: new Date('2026-11-30T12:00:00Z') });
    // Act / Assess
    const all = report();
    assert.deepEqual([all.rounds, all.resources], [48, 3]);
    assert.equal(all.file, path.join(dir, 'report.html'));
    assert.equal(all.bytes, Buffer.byteLength(fs.readFileSync(all.file)));
    assert.equal(page().split('<svg viewBox=').length - 1, 3);
    const recent = report({ since: new Date('2026-11-30T11:00:00Z') });
    assert.deepEqual([recent.rounds, recent.resources], [13, 3]);
    assert.match(page(), /13 round\(s\) from 2026-11-30 11:00 to 2026-11-30 12:00/);
    const one = report({ resource: 'db.corp.internal' });
    assert.deepEqual([one.rounds, one.resources], [48, 1]);
    assert.equal(page().split('<svg viewBox=').length - 1, 1);
    assert.ok(page().includes('<h2 id="r0h">db.corp.internal'));
  });

  it('refuses a --resource the history does not have, listing those it has (escaped)', () => {
    writeFixtureHistory(logs, { rounds: 3, extraTargets: ['evil\u001b[2J'] });
    assert.throws(
      () => report({ resource: 'db.corp' }),
      invalid(
        '--resource',
        /one of the resources in the history: "10\.20\.0\.5", "db\.corp\.internal", "https:\/\/wiki\.corp\.internal\/", "evil\\\\x1b\[2J"$/,
      ),
    );
    assert.equal(fs.existsSync(path.join(dir, 'report.html')), false, 'no page for bad input');
  });

  it('writes a page that says there is no data for an empty or too old history, and exits 0', () => {
    fs.mkdirSync(logs);
    const none = report();
    assert.equal(none.rounds, 0);
    assert.match(none.notes.join(' '), /No rounds in .*cc-monitor-history\.jsonl yet/);
    assert.match(page(), /No rounds recorded: nothing to draw yet/);
    writeFixtureHistory(logs, { rounds: 3, end: new Date('2026-11-29T10:00:00Z') });
    const old = report({ since: new Date('2026-11-30T00:00:00Z') });
    assert.equal(old.rounds, 0);
    assert.match(old.notes.join(' '), /the newest was at 2026-11-29T10:00:00\.000Z/);
    assert.match(page(), /No rounds recorded for since 2026-11-30 00:00/);
  });

  it('fails with E_LOG_DIR for a log directory that does not exist, creating nothing', () => {
    assert.throws(
      () => report(),
      (error: unknown) =>
        error instanceof EnvironmentError &&
        error.code === 'E_LOG_DIR' &&
        /cannot be read \(ENOENT/.test(error.message),
    );
    assert.equal(fs.existsSync(logs), false);
  });

  it('notes damaged history lines and draws the rest', () => {
    writeFixtureHistory(logs, { rounds: 5 });
    fs.appendFileSync(path.join(logs, HISTORY_FILE), 'not json\n{"hv":1}\n');
    const done = report();
    assert.equal(done.rounds, 5);
    assert.match(done.notes.join(' '), /2 damaged line\(s\) or entries of .* were skipped/);
    assert.match(page(), /2 damaged line\(s\)/);
  });

  it('charts at most maxResources resources of a churning history and says on stderr how many it left out', () => {
    // Prepare: every round names 50 new targets, 1,000 in all, appended as the agent does.
    const rounds = fixtureRounds({ rounds: 20 }).map((round, k) => {
      const entry = round.resources[0] as (typeof round.resources)[number];
      return {
        ...round,
        resources: Array.from({ length: 50 }, (_, i) => ({ ...entry, target: `10.${k}.0.${i}` })),
      };
    });
    const logDir = prepareLogDir(logs);
    try {
      for (const round of rounds) appendRound(logDir, round, readRecentRounds(logDir).paths);
    } finally {
      logDir.close();
    }
    // Act
    const done = report();
    // Assess
    const left = 1000 - REPORT_LIMITS.maxResources;
    assert.deepEqual([done.rounds, done.resources], [20, 1000]);
    assert.equal(page().split('<section id="r').length - 1, REPORT_LIMITS.maxResources);
    const note = `${left} resource(s) left out: the report charts at most ${REPORT_LIMITS.maxResources}`;
    assert.ok(
      done.notes.some((n) => n.startsWith(note)),
      'said on stderr',
    );
    assert.ok(page().includes(note), 'and on the page');
    assert.ok(page().includes('>10.19.0.49<') && !page().includes('>10.0.0.0<'), 'the newest rounds charted');
  });

  it('replaces an existing page atomically, leaving no temporary file', () => {
    writeFixtureHistory(logs, { rounds: 3 });
    const out = path.join(dir, 'report.html');
    fs.writeFileSync(out, 'old');
    const before = fs.statSync(out).ino;
    report();
    assert.notEqual(fs.statSync(out).ino, before, 'a new file renamed into place');
    assert.ok(page().startsWith('<!doctype html>'));
    assert.deepEqual(fs.readdirSync(dir).sort(), ['logs', 'report.html']);
    assert.equal(fs.statSync(out).mode & 0o777, 0o644);
  });

  it('keeps the mode, owner and group of the page it replaces; a new page gets 0644', {
    skip: process.getuid?.() === 0 ? false : 'needs root: only root gives a file to another user',
  }, () => {
    writeFixtureHistory(logs, { rounds: 3 });
    const out = path.join(dir, 'report.html');
    fs.writeFileSync(out, 'old');
    fs.chownSync(out, NOBODY, NOBODY);
    fs.chmodSync(out, 0o600);
    report();
    const replaced = fs.statSync(out);
    assert.deepEqual([replaced.uid, replaced.gid, replaced.mode & 0o7777], [NOBODY, NOBODY, 0o600]);
    assert.ok(page().startsWith('<!doctype html>'));
    const fresh = path.join(dir, 'fresh.html');
    const umask = process.umask(0o022);
    try {
      report({ html: fresh });
    } finally {
      process.umask(umask);
    }
    const created = fs.statSync(fresh);
    assert.deepEqual([created.uid, created.mode & 0o7777], [0, 0o644]);
  });

  it('refuses a symbolic link, directory or FIFO at the output name, and leaves it and its target alone', () => {
    writeFixtureHistory(logs, { rounds: 3 });
    const victim = path.join(dir, 'victim');
    fs.writeFileSync(victim, 'precious');
    const link = plantSymlink(victim, path.join(dir, 'link.html'));
    const sub = path.join(dir, 'sub.html');
    fs.mkdirSync(sub);
    const fifo = plantFifo(path.join(dir, 'fifo.html'));
    for (const [at, what] of [
      [link, 'a symbolic link'],
      [sub, 'a directory'],
      [fifo, 'a FIFO'],
    ] as const) {
      assert.throws(
        () => report({ html: at }),
        invalid('--html', new RegExp(`it is ${what}.*neither follows nor replaces`)),
      );
    }
    assert.equal(fs.readFileSync(victim, 'utf8'), 'precious');
    assert.ok(fs.lstatSync(link).isSymbolicLink());
    assert.deepEqual(fs.readdirSync(dir).sort(), ['fifo.html', 'link.html', 'logs', 'sub.html', 'victim']);
  });

  it('fails with E_REPORT_FILE (exit 3) when the output directory is missing or not writable', () => {
    writeFixtureHistory(logs, { rounds: 3 });
    assert.throws(
      () => report({ html: path.join(dir, 'missing', 'r.html') }),
      (error: unknown) =>
        error instanceof MonitorError &&
        error.code === 'E_REPORT_FILE' &&
        /its directory cannot be used/.test(error.message),
    );
    assert.throws(() => report({ html: '/' }), invalid('--html', /a file name/));
    // A read-only file system stands in for a directory the agent may not write, root included.
    assert.throws(
      () => report({ html: '/proc/report.html' }),
      (error: unknown) =>
        error instanceof MonitorError &&
        error.code === 'E_REPORT_FILE' &&
        /writing report\.html failed/.test(error.message),
    );
  });

  it('reads the history as the log directory rules say: a planted link is refused, its target never read', {
    skip: process.geteuid?.() !== 0 ? 'needs root' : false,
  }, () => {
    // Prepare: a log directory nobody owns, its history a link to a root-only file.
    fs.chmodSync(dir, 0o755);
    const home = ownedDir(path.join(dir, 'home'));
    const nobodyLogs = ownedDir(path.join(home, 'logs'), NOBODY);
    const secret = path.join(dir, 'secret');
    fs.writeFileSync(secret, '{"hv":1}\n', { mode: 0o600 });
    plantSymlink(secret, path.join(nobodyLogs, HISTORY_FILE));
    // Act / Assess
    assert.throws(
      () => report({ logDir: nobodyLogs }),
      (error: unknown) =>
        error instanceof EnvironmentError &&
        error.code === 'E_LOG_DIR' &&
        /symbolic link/.test(error.message),
    );
    assert.equal(fs.existsSync(path.join(dir, 'report.html')), false);
  });
});

describe('report refuses the install flags', () => {
  it('names the commands --unit-dir, --lib-dir and --no-enable belong to', () => {
    assert.throws(
      () => options(['--html', 'r.html', '--unit-dir', '/etc/systemd/system']),
      invalid('--unit-dir', /only with install or uninstall/),
    );
    assert.throws(
      () => options(['--html', 'r.html', '--lib-dir', '/usr/local/lib']),
      invalid('--lib-dir', /only with install or uninstall/),
    );
    assert.throws(() => options(['--html', 'r.html', '--no-enable']), invalid('option', /only with install/));
  });
});
