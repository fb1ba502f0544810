/**
 * Every probe ends by its deadline, whatever mtr's descendants do: a stand-in
 * mtr starts a descendant that leaves its process group (setsid) and keeps
 * mtr's stdout open, out of reach of the group kill. The round still ends,
 * through the built agent. Loopback only.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseResultDocument } from '../../../common/result-schema.ts';
import { mtrTimeoutMs } from '../../../common/round-budget.ts';
import { assertEndedByDeadline, halfwayMs } from '../../helpers/deadline.ts';
import { AGENT, runAgent, shQuote, standInBin, tempDir } from '../../helpers/run-agent.ts';

const HOLD_SEC = 300;

/**
 * A stand-in mtr in `caseDir/bin` whose descendant (`mtr-holder`) leaves the
 * process group and holds stdout for HOLD_SEC, writing its pid to `pidFile`;
 * `then` is sh text run after it started (print a report and exit, or hang).
 */
function standInMtr(caseDir: string, pidFile: string, then: string): string {
  const holder = join(caseDir, 'bin', 'mtr-holder');
  const bin = standInBin(caseDir, {
    'mtr-holder': `#!/bin/sh\necho $$ > ${shQuote(pidFile)}\nexec sleep ${HOLD_SEC}\n`,
    mtr: [
      '#!/bin/sh',
      'if [ "$1" = "--version" ]; then echo "mtr 0.95"; exit 0; fi',
      `setsid -f ${shQuote(holder)}`,
      then,
      '',
    ].join('\n'),
  });
  return bin;
}

const REPORT =
  '{"report":{"mtr":{"dst":"127.0.0.1","tests":1},"hubs":[{"count":1,"host":"127.0.0.1","Loss%":0.0,"Snt":1,"Last":0.5,"Avg":0.5,"Best":0.5,"Wrst":0.5,"StDev":0.0}]}}';

function holderPid(pidFile: string): number {
  return existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : 0;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function killHolder(pidFile: string): void {
  const pid = holderPid(pidFile);
  if (pid > 0 && alive(pid)) process.kill(pid, 'SIGKILL');
}

describe('agent check: a descendant of mtr holding its stdout cannot stop the round from ending', () => {
  let dir: ReturnType<typeof tempDir>;
  before(() => {
    assert.ok(existsSync(AGENT), 'dist/agent.js must be built first (npm run build)');
    dir = tempDir('agent-probe-deadline-');
  });
  after(() => dir.cleanup());

  it('mtr hangs: the round ends after the mtr timeout with E_MTR_TIMEOUT, the holder still running', () => {
    // Prepare
    const caseDir = join(dir.path, 'hang');
    mkdirSync(caseDir);
    const pidFile = join(caseDir, 'holder.pid');
    const bin = standInMtr(caseDir, pidFile, `exec sleep ${HOLD_SEC}`);
    const settings = { count: 1, intervalSec: 0.2 };
    try {
      // Act
      const run = runAgent(
        [
          'check',
          '--json',
          '--resources',
          '127.0.0.1',
          '--count',
          String(settings.count),
          '--interval',
          String(settings.intervalSec),
          '--log-dir',
          join(caseDir, 'logs'),
        ],
        { env: { PATH: `${bin}:${process.env.PATH ?? ''}` }, timeoutMs: HOLD_SEC * 1000 },
      );
      // Assess
      assert.equal(run.status, 0, run.stderr);
      const doc = parseResultDocument(run.stdout);
      assert.equal(doc.resources[0]?.errors[0]?.code, 'E_MTR_TIMEOUT');
      // Ended by mtr's timeout (and the kill and drain after it), not by the holder's end.
      assertEndedByDeadline(run.durationMs, {
        deadlineMs: mtrTimeoutMs(settings),
        alternativeMs: HOLD_SEC * 1000,
        alternative: "the descendant's release of stdout",
      });
      assert.ok(alive(holderPid(pidFile)), 'the descendant still held stdout when the round ended');
    } finally {
      killHolder(pidFile);
    }
  });

  it('mtr exits 0: the round uses its report and ends long before the mtr timeout', () => {
    const caseDir = join(dir.path, 'exit');
    mkdirSync(caseDir);
    const pidFile = join(caseDir, 'holder.pid');
    const bin = standInMtr(caseDir, pidFile, `echo '${REPORT}'\nexit 0`);
    const settings = { count: 1, intervalSec: 0.2 };
    try {
      const run = runAgent(
        [
          'check',
          '--json',
          '--resources',
          '127.0.0.1',
          '--count',
          String(settings.count),
          '--interval',
          String(settings.intervalSec),
          '--log-dir',
          join(caseDir, 'logs'),
        ],
        { env: { PATH: `${bin}:${process.env.PATH ?? ''}` }, timeoutMs: HOLD_SEC * 1000 },
      );
      assert.equal(run.status, 0, run.stderr);
      const resource = parseResultDocument(run.stdout).resources[0];
      assert.equal(resource?.verdict, 'ok', JSON.stringify(resource));
      assert.equal(resource?.latencyMs, 0.5);
      assert.ok(
        run.durationMs < halfwayMs(0, mtrTimeoutMs(settings)),
        `the round took ${run.durationMs} ms, nearer mtr's ${mtrTimeoutMs(settings)} ms timeout than its exit`,
      );
    } finally {
      killHolder(pidFile);
    }
  });
});
