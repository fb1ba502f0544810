/**
 * Files are kept within limits across rounds: the JSON report rotates past its
 * size limit (and starts again with the permissions it had) and old MTR files
 * are pruned, through the bundle as a user runs it.
 */
import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseResultDocument } from '../../../common/result-schema.ts';
import { NODE12, runAgent, standInBin, tempDir } from '../../helpers/run-agent.ts';

/** Debian's adm group, which may read logs: a group a log dir's files are given. */
const ADM = 4;

/** mtr 0.95 JSON with one hop, the target, at 250 ms: every path is slow. */
const SLOW_MTR = `#!/bin/sh
if [ "$1" = "--version" ]; then echo "mtr 0.95"; exit 0; fi
for last in "$@"; do :; done
printf '{"report":{"mtr":{"src":"stand-in","dst":"%s","tos":0,"tests":2,"psize":"64","bitpattern":"0x00"},"hubs":[{"count":1,"host":"%s","Loss%%":0.0,"Snt":2,"Last":250.1,"Avg":250.0,"Best":249.9,"Wrst":250.1,"StDev":0.1}]}}\\n' "$last" "$last"
`;

describe('agent check: rotation of the report and MTR files', () => {
  let dir: ReturnType<typeof tempDir>;
  before(() => {
    dir = tempDir('agent-rotation-');
  });
  after(() => dir.cleanup());

  it('rotates the JSON report past --max-report-bytes and keeps --keep-reports old copies', () => {
    const logDir = join(dir.path, 'report');
    mkdirSync(logDir);
    const report = join(logDir, 'LATENCY-LOSS-CONNEXA-REPORT.json');
    const oldLine = `${JSON.stringify({ HOSTNAME: 'old', LATENCY_FLAG: '0' })}\n`;
    writeFileSync(report, oldLine.repeat(200));
    writeFileSync(`${report}.1`, 'previous rotation\n');

    const run = runAgent([
      'check',
      '--json',
      '--resources',
      '127.0.0.1',
      '--count',
      '2',
      '--interval',
      '0.2',
      '--log-dir',
      logDir,
      '--max-report-bytes',
      '4096',
      '--keep-reports',
      '2',
    ]);

    assert.equal(run.status, 0, run.stderr);
    assert.equal(readFileSync(`${report}.1`, 'utf8'), oldLine.repeat(200), 'the full report moved to .1');
    assert.equal(readFileSync(`${report}.2`, 'utf8'), 'previous rotation\n', 'older copies shift up');
    const fresh = readFileSync(report, 'utf8').trim().split('\n');
    assert.equal(fresh.length, 1);
    assert.deepEqual(JSON.parse(fresh[0] ?? ''), parseResultDocument(run.stdout).seed);
  });

  for (const [label, node] of [
    ['Node 12.22', NODE12],
    ['current Node', process.execPath],
  ] as const) {
    it(`starts a rotated report and history again with their mode and group (${label})`, () => {
      // Prepare: a report made private, and a history readable by group adm, both due for rotation.
      const logDir = join(dir.path, `modes-${label.replace(/\W/g, '')}`);
      mkdirSync(logDir);
      const report = join(logDir, 'LATENCY-LOSS-CONNEXA-REPORT.json');
      writeFileSync(report, `${JSON.stringify({ HOSTNAME: 'old' })}\n`.repeat(400));
      chmodSync(report, 0o600);
      const history = join(logDir, 'cc-monitor-history.jsonl');
      writeFileSync(history, 'x'.repeat(8 * 1024 * 1024 + 1));
      chownSync(history, 0, ADM);
      chmodSync(history, 0o640);
      // Act
      const run = runAgent(
        [
          'check',
          '--json',
          '--resources',
          '127.0.0.1',
          '--count',
          '2',
          '--interval',
          '0.2',
          '--log-dir',
          logDir,
          '--max-report-bytes',
          '4096',
        ],
        { node },
      );
      // Assess
      assert.equal(run.status, 0, run.stderr);
      assert.equal(readFileSync(report, 'utf8').trim().split('\n').length, 1, 'the report rotated');
      assert.equal(statSync(report).mode & 0o7777, 0o600, 'the private report stays private');
      assert.ok(statSync(`${history}.1`).size > 8 * 1024 * 1024, 'the history rotated');
      const started = statSync(history);
      assert.deepEqual([started.gid, started.mode & 0o7777], [ADM, 0o640]);
    });
  }

  it('prunes the oldest MTR files beyond --max-mtr-files, leaving other files alone', () => {
    const logDir = join(dir.path, 'mtr');
    mkdirSync(logDir);
    for (let i = 0; i < 6; i++) {
      writeFileSync(join(logDir, `MTR-RESOURCE-2020010100000${i}.txt`), 'old\n');
      writeFileSync(join(logDir, `MTR-GATEWAY-2020010100000${i}.txt`), 'old\n');
    }
    writeFileSync(join(logDir, 'notes.txt'), 'mine\n');

    // A stand-in mtr reports 250 ms on every path, so the round is always flagged and writes its own
    // two files: the newest, which pruning must keep (real loopback would flag on some rounds only).
    const bin = standInBin(join(dir.path, 'slow'), { mtr: SLOW_MTR });
    const run = runAgent(
      [
        'check',
        '--json',
        '--resources',
        '127.0.0.1',
        '--count',
        '2',
        '--interval',
        '0.2',
        '--gateway-ip',
        '127.0.0.1',
        '--log-dir',
        logDir,
        '--max-mtr-files',
        '4',
      ],
      { env: { PATH: `${bin}:${process.env.PATH ?? ''}` } },
    );

    assert.equal(run.status, 0, run.stderr);
    const doc = parseResultDocument(run.stdout);
    assert.match(doc.mtrId, /^\d{14}$/, 'the round was flagged');
    const mtrFiles = readdirSync(logDir)
      .filter((f) => f.startsWith('MTR-'))
      .sort();
    assert.deepEqual(mtrFiles, [
      `MTR-GATEWAY-20200101000005.txt`,
      `MTR-GATEWAY-${doc.mtrId}.txt`,
      `MTR-RESOURCE-20200101000005.txt`,
      `MTR-RESOURCE-${doc.mtrId}.txt`,
    ]);
    assert.ok(readdirSync(logDir).includes('notes.txt'));
  });
});
