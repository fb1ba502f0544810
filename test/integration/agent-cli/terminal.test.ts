/**
 * On a terminal the agent shows progress while mtr runs, then the table; when
 * stderr is not a terminal (cron, SSM, pipes) it prints no progress at all.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AGENT, runAgent, tempDir } from '../../helpers/run-agent.ts';

const SCRIPT = '/usr/bin/script';

describe('agent check on a terminal', {
  skip: existsSync(SCRIPT) ? false : 'script(1) from bsdutils is missing',
}, () => {
  let dir: ReturnType<typeof tempDir>;
  before(() => {
    dir = tempDir('agent-tty-');
  });
  after(() => dir.cleanup());

  it('prints progress per resource and the gateway, then the table', () => {
    const logDir = join(dir.path, 'tty');
    // script(1) runs the agent on a pseudo-terminal; the command is a fixed string built from our own paths.
    const command = `${process.execPath} ${AGENT} check --resources 127.0.0.1,::1 --count 2 --interval 0.2 --log-dir ${logDir}`;
    const run = spawnSync(SCRIPT, ['-qec', command, '/dev/null'], { encoding: 'utf8', timeout: 60_000 });

    assert.equal(run.status, 0, run.stdout + run.stderr);
    const screen = run.stdout.replace(/\r/g, '');
    assert.match(screen, /^probing 2 resource\(s\) and the gateway, about \d+ s$/m);
    assert.match(screen, /^ {2}\[\d\/2\] 127\.0\.0\.1 done$/m);
    assert.match(screen, /^ {2}\[\d\/2\] ::1 done$/m);
    assert.ok(screen.indexOf('done') < screen.indexOf('TARGET'), 'progress comes before the table');
  });

  it('prints no progress when stderr is not a terminal', () => {
    const run = runAgent([
      'check',
      '--resources',
      '127.0.0.1',
      '--count',
      '2',
      '--interval',
      '0.2',
      '--log-dir',
      join(dir.path, 'pipe'),
    ]);
    assert.equal(run.status, 0);
    assert.doesNotMatch(run.stderr, /probing/);
  });
});
