/**
 * `report` through the built bundle, as an operator runs it, under Node.js
 * 12.22 and the current Node: the page written from a history the agent's
 * way of appending wrote, the exit codes and messages for bad flags, a
 * missing log dir and an output it must not write through, and the fleet
 * build (the one the SSM document embeds) without the command; paths shown
 * escaped, and a replaced page keeping its mode and owner.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isPrintable } from '../../../common/printable.ts';
import { DEFAULT_AGENT_PATH } from '../../../ssm/document.ts';
import { writeFixtureHistory } from '../../helpers/history-fixture.ts';
import { NOBODY } from '../../helpers/hostile-dir.ts';
import { AGENT, NODE12, ROOT, runAgent } from '../../helpers/run-agent.ts';

const notRoot = process.getuid?.() === 0 ? false : 'needs root: only root gives a file to another user';

for (const [label, node] of [
  ['Node 12.22', NODE12],
  ['current Node', process.execPath],
] as const) {
  describe(`report command (${label})`, () => {
    let dir = '';
    let logs = '';
    const run = (args: string[]) => runAgent(['report', ...args], { node });

    before(() => {
      assert.ok(existsSync(AGENT), 'dist/agent.js must be built first (npm run build)');
      assert.ok(existsSync(node), `${node} missing (npm ci --prefix test/node12)`);
      dir = mkdtempSync(join(tmpdir(), 'ccm-report-cli-'));
      logs = join(dir, 'logs');
      writeFixtureHistory(logs, { rounds: 300, tunnel: true, end: new Date('2026-11-30T12:00:00Z') });
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    it('writes the page and says where, how large and what is in it', () => {
      const file = join(dir, 'report.html');
      const done = run(['--html', file, '--log-dir', logs, '--since', '2026-11-30T00:00Z']);
      assert.equal(done.status, 0, done.stderr);
      assert.match(done.stdout, /^wrote .*report\.html \(\d+ bytes\): 145 round\(s\), 3 resource\(s\)\n$/);
      const page = readFileSync(file, 'utf8');
      assert.equal(page.split('<svg viewBox=').length - 1, 3);
      assert.ok(page.includes('145 round(s) from 2026-11-30 00:00 to 2026-11-30 12:00'));
    });

    it('takes the log dir from --config as check does', () => {
      const config = join(dir, 'config.json');
      writeFileSync(config, JSON.stringify({ resources: '10.20.0.5', 'log-dir': logs }), { mode: 0o644 });
      const file = join(dir, 'from-config.html');
      const done = run(['--html', file, '--config', config, '--resource', 'db.corp.internal']);
      assert.equal(done.status, 0, done.stderr);
      assert.match(done.stdout, /: 300 round\(s\), 1 resource\(s\)/);
    });

    it('exits 2 naming the value and what is allowed for bad flags', () => {
      const cases: Array<[string[], RegExp]> = [
        [['--log-dir', logs], /^error: --html \(missing\) is not allowed: the file to write the report to/],
        [
          ['--html', 'x.html', '--since', 'yesterday'],
          /^error: --since "yesterday" is not allowed: an ISO 8601 time/,
        ],
        [
          ['--html', 'x.html', '--count', '3'],
          /^error: --count "3" is not allowed: only with check or watch/,
        ],
        [['--html', 'x.html', '--bogus', '1'], /^error: option "--bogus" is not allowed: a known option/],
        [
          ['--html', join(dir, 'x.html'), '--log-dir', logs, '--resource', 'nope'],
          /^error: --resource "nope" is not allowed: one of the resources in the history: "10\.20\.0\.5", "db\.corp\.internal", "https:\/\/wiki\.corp\.internal\/"/,
        ],
      ];
      for (const [args, message] of cases) {
        const done = run(args);
        assert.equal(done.status, 2, `${args.join(' ')}: ${done.stderr}`);
        assert.match(done.stderr, message);
        assert.equal(done.stdout, '');
      }
      assert.equal(existsSync(join(dir, 'x.html')), false);
    });

    it('refuses a config file the round refuses, with the same error and exit code as check', () => {
      // Prepare: files that check refuses, each with a usable log-dir (report reads only that).
      const bodies: Array<[string, string, RegExp]> = [
        [
          'threshold',
          `{"log-dir": ${JSON.stringify(logs)}, "latency-threshold": -1}`,
          /config latency-threshold -1 is not allowed: a number from 0\.1 to 60000/,
        ],
        [
          'exponent',
          `{"log-dir": ${JSON.stringify(logs)}, "count": 1e2}`,
          /config count 1e2 is not allowed: an integer from 1 to 500/,
        ],
        [
          'unknown key',
          `{"log-dir": ${JSON.stringify(logs)}, "treshold": 5}`,
          /config key "treshold" is not allowed: one of resources, /,
        ],
        [
          'duplicate key',
          `{"log-dir": ${JSON.stringify(logs)}, "count": 5, "count": 6}`,
          /config key "count" is not allowed: each key once/,
        ],
        [
          'after a BOM',
          `\ufeff{"log-dir": ${JSON.stringify(logs)}, "loss-rule": " any-hop"}`,
          /config loss-rule " any-hop" is not allowed: one of persistent, any-hop/,
        ],
        [
          'watch only',
          `{"log-dir": ${JSON.stringify(logs)}, "every": "0"}`,
          /config every "0" is not allowed: a number from 0\.01 to 1440/,
        ],
        [
          'round too long for any resource list',
          `{"log-dir": ${JSON.stringify(logs)}, "count": 500, "interval": 60}`,
          /config count × config interval "500 × 60 s" is not allowed: a round whose worst case/,
        ],
        [
          'round too long',
          `{"log-dir": ${JSON.stringify(logs)}, "resources": "10.20.0.5", "count": 500, "interval": 60}`,
          /config count × config interval "500 × 60 s" is not allowed: a round whose worst case/,
        ],
      ];
      for (const [label, body, message] of bodies) {
        const config = join(dir, `refused-${label.replace(/ /g, '-')}.json`);
        writeFileSync(config, body, { mode: 0o644 });
        const page = join(dir, 'refused.html');
        // Act
        const report = run(['--html', page, '--config', config]);
        const check = runAgent(['check', '--resources', '127.0.0.1', '--config', config], { node });
        // Assess
        assert.equal(report.status, 2, `${label}: ${report.stderr}`);
        assert.match(report.stderr, message, label);
        assert.equal(report.stderr, check.stderr, `${label}: report and check say the same`);
        assert.equal(check.status, 2, label);
        assert.equal(existsSync(page), false, label);
      }
    });

    it('takes --since and --resource as written, spaces not trimmed (as every flag)', () => {
      const file = join(dir, 'spaced.html');
      const since = run(['--html', file, '--log-dir', logs, '--since', ' 2026-11-30T00:00Z']);
      assert.equal(since.status, 2, since.stderr);
      assert.match(since.stderr, /^error: --since " 2026-11-30T00:00Z" is not allowed: an ISO 8601 time/);
      const resource = run(['--html', file, '--log-dir', logs, '--resource', 'db.corp.internal ']);
      assert.equal(resource.status, 2, resource.stderr);
      assert.match(
        resource.stderr,
        /^error: --resource "db\.corp\.internal " is not allowed: one of the resources in the history/,
      );
      assert.equal(existsSync(file), false);
    });

    it('exits 3 for a missing log dir or output directory, 2 for an output name that is a link (left alone)', () => {
      const missing = run(['--html', join(dir, 'y.html'), '--log-dir', join(dir, 'nowhere')]);
      assert.equal(missing.status, 3, missing.stderr);
      assert.match(missing.stderr, /^error: log directory .*nowhere cannot be read \(ENOENT/);
      const target = join(dir, 'target.txt');
      writeFileSync(target, 'keep');
      const link = join(dir, 'link.html');
      symlinkSync(target, link);
      const linked = run(['--html', link, '--log-dir', logs]);
      assert.equal(linked.status, 2, linked.stderr);
      assert.match(linked.stderr, /it is a symbolic link, which the report neither follows nor replaces/);
      assert.equal(readFileSync(target, 'utf8'), 'keep');
      const noDir = run(['--html', join(dir, 'no', 'such', 'r.html'), '--log-dir', logs]);
      assert.equal(noDir.status, 3, noDir.stderr);
      assert.match(noDir.stderr, /its directory cannot be used/);
    });

    it('names paths with their control characters escaped, in "wrote" and in the notes', () => {
      // ESC, a C1 CSI and a right-to-left override in the directory, BEL in the file name: each would
      // act on the terminal (clear it, recolour it, reorder the line) if printed raw.
      const odd = join(dir, 'out\u001b[2J\u009b31m\u202e');
      const empty = join(odd, 'logs');
      mkdirSync(empty, { recursive: true });
      const done = run(['--html', join(odd, 'r\u0007.html'), '--log-dir', empty]);
      assert.equal(done.status, 0, done.stderr);
      assert.ok(
        done.stdout.startsWith(`wrote ${dir}/out\\x1b[2J\\x9b31m\\u202e/r\\x07.html (`),
        JSON.stringify(done.stdout),
      );
      assert.ok(done.stderr.startsWith(`note: No rounds in ${dir}/out\\x1b[2J\\x9b31m\\u202e/logs/`));
      for (const line of `${done.stdout}${done.stderr}`.split('\n')) {
        assert.ok(isPrintable(line), JSON.stringify(line));
      }
      assert.ok(existsSync(join(odd, 'r\u0007.html')), 'the file has the name asked for');
    });

    it('keeps the mode and owner of a page it replaces; a new page gets 0644', { skip: notRoot }, () => {
      const file = join(dir, 'private.html');
      writeFileSync(file, 'old');
      chownSync(file, NOBODY, NOBODY);
      chmodSync(file, 0o600);
      const umask = process.umask(0o022); // the agent inherits it
      try {
        const replaced = run(['--html', file, '--log-dir', logs]);
        assert.equal(replaced.status, 0, replaced.stderr);
        const fresh = run(['--html', join(dir, 'fresh.html'), '--log-dir', logs]);
        assert.equal(fresh.status, 0, fresh.stderr);
      } finally {
        process.umask(umask);
      }
      const kept = statSync(file);
      assert.deepEqual([kept.uid, kept.gid, kept.mode & 0o7777], [NOBODY, NOBODY, 0o600]);
      assert.ok(readFileSync(file, 'utf8').startsWith('<!doctype html>'));
      const created = statSync(join(dir, 'fresh.html'));
      assert.deepEqual([created.uid, created.mode & 0o7777], [0, 0o644]);
    });

    it('writes a page that says so for an empty log dir, exit 0 and a note', () => {
      const empty = join(dir, 'empty-logs');
      mkdirSync(empty, { recursive: true });
      const file = join(dir, 'empty.html');
      const done = run(['--html', file, '--log-dir', empty]);
      assert.equal(done.status, 0, done.stderr);
      assert.match(done.stderr, /^note: No rounds in .*cc-monitor-history\.jsonl yet\.\n$/);
      assert.match(readFileSync(file, 'utf8'), /No rounds recorded: nothing to draw yet/);
    });
  });
}

describe('the fleet build in the SSM document leaves the report out', () => {
  it('is the bundle the document embeds, without the report code, and says where report is', () => {
    assert.equal(DEFAULT_AGENT_PATH, join(ROOT, 'dist', 'agent-fleet.js'));
    const fleet = readFileSync(DEFAULT_AGENT_PATH, 'utf8');
    assert.ok(readFileSync(AGENT, 'utf8').includes('band-outer'), 'the full build has it');
    assert.ok(!fleet.includes('band-outer') && !fleet.includes('Content-Security-Policy'));
    const done = spawnSync(process.execPath, [DEFAULT_AGENT_PATH, 'report', '--html', 'r.html'], {
      encoding: 'utf8',
    });
    assert.equal(done.status, 2, done.stderr);
    assert.match(done.stderr, /command "report" is not allowed: .*dist\/agent\.js has every command/);
    assert.ok(
      !spawnSync(process.execPath, [DEFAULT_AGENT_PATH, '--help'], { encoding: 'utf8' }).stdout.includes(
        '--html',
      ),
    );
  });
});
