/**
 * Files are kept within limits across rounds: the JSON report rotates past its
 * size limit and old MTR files are pruned, through the bundle as a user runs it.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseResultDocument } from '../../../common/result-schema.ts';
import { runAgent, tempDir } from '../../helpers/run-agent.ts';

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

  it('prunes the oldest MTR files beyond --max-mtr-files, leaving other files alone', () => {
    const logDir = join(dir.path, 'mtr');
    mkdirSync(logDir);
    for (let i = 0; i < 6; i++) {
      writeFileSync(join(logDir, `MTR-RESOURCE-2020010100000${i}.txt`), 'old\n');
      writeFileSync(join(logDir, `MTR-GATEWAY-2020010100000${i}.txt`), 'old\n');
    }
    writeFileSync(join(logDir, 'notes.txt'), 'mine\n');

    // Loopback usually stays under 0.1 ms; whether or not this round is flagged, pruning runs.
    const run = runAgent([
      'check',
      '--json',
      '--resources',
      '127.0.0.1',
      '--count',
      '2',
      '--interval',
      '0.2',
      '--latency-threshold',
      '0.1',
      '--hops',
      '1',
      '--gateway-ip',
      '127.0.0.1',
      '--log-dir',
      logDir,
      '--max-mtr-files',
      '4',
    ]);

    assert.equal(run.status, 0, run.stderr);
    const mtrFiles = readdirSync(logDir)
      .filter((f) => f.startsWith('MTR-'))
      .sort();
    assert.equal(mtrFiles.length, 4, mtrFiles.join(' '));
    assert.ok(readdirSync(logDir).includes('notes.txt'));
    const doc = parseResultDocument(run.stdout);
    if (doc.mtrId !== '0') {
      assert.ok(mtrFiles.includes(`MTR-RESOURCE-${doc.mtrId}.txt`), 'the newest files are kept');
    }
  });
});
