/**
 * One number grammar through the built bundle, under Node.js 12.22 and the
 * current Node, as an operator meets it: a value refused as a flag is refused
 * in the --config file too, with the same "what is allowed", and the message
 * names the value as it was written in the file (1e999, not null).
 */
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isPrintable } from '../../../common/printable.ts';
import { parseResultDocument } from '../../../common/result-schema.ts';
import { AGENT, NODE12, runAgent, tempDir } from '../../helpers/run-agent.ts';

const LATENCY_ALLOWED =
  'a number from 0.1 to 60000 with at most 3 decimals, in digits (no sign, exponent or spaces)';

for (const [label, node] of [
  ['Node 12.22', NODE12],
  ['current Node', process.execPath],
] as const) {
  describe(`settings from flags and the config file (${label})`, () => {
    let dir: ReturnType<typeof tempDir>;
    let configs = 0;
    before(() => {
      assert.ok(existsSync(AGENT), 'dist/agent.js must be built first (npm run build)');
      assert.ok(existsSync(node), `${node} missing (npm ci --prefix test/node12)`);
      dir = tempDir('agent-grammar-');
    });
    after(() => dir.cleanup());

    /** A config file holding `members` (JSON text) beside resources and a scratch log dir. */
    const config = (members: string): string => {
      const file = join(dir.path, `config-${configs++}.json`);
      const logDir = JSON.stringify(join(dir.path, 'logs'));
      writeFileSync(file, `{"resources": ["127.0.0.1"], "log-dir": ${logDir}, ${members}}`, { mode: 0o644 });
      return file;
    };
    const run = (args: string[]) => runAgent(args, { node });

    it('names a config number as written in the file and says what is allowed: 1e999, not null', () => {
      const done = run(['check', '--config', config('"jitter-threshold": 1e999')]);
      assert.equal(done.status, 2, done.stderr);
      assert.equal(done.stdout, '');
      assert.equal(
        done.stderr,
        'error: config jitter-threshold 1e999 is not allowed: a number from 0 to 60000 with at most 3 decimals, in digits (no sign, exponent or spaces)\n',
      );
      const json = run(['check', '--json', '--config', config('"count": -0')]);
      assert.equal(json.status, 2, json.stderr);
      assert.equal(
        parseResultDocument(json.stdout).error?.message,
        'config count -0 is not allowed: an integer from 1 to 500, in digits (no sign, exponent, point or spaces)',
      );
    });

    it('refuses 1e3 as a flag, as a config number and as a config string alike', () => {
      const cases: Array<[string[], string]> = [
        [['--resources', '127.0.0.1', '--latency-threshold', '1e3'], '--latency-threshold "1e3"'],
        [['--config', config('"latency-threshold": 1e3')], 'config latency-threshold 1e3'],
        [['--config', config('"latency-threshold": "1e3"')], 'config latency-threshold "1e3"'],
      ];
      for (const [args, named] of cases) {
        const done = run(['check', ...args]);
        assert.equal(done.status, 2, `${args.join(' ')}: ${done.stderr}`);
        assert.equal(done.stderr, `error: ${named} is not allowed: ${LATENCY_ALLOWED}\n`);
        for (const line of done.stderr.split('\n')) assert.ok(isPrintable(line));
      }
    });

    it('takes the number written in digits from the config file, as from the flag', () => {
      const done = run([
        'check',
        '--json',
        '--config',
        config('"latency-threshold": 1000, "count": 2, "interval": 0.2, "jitter-threshold": "0.5"'),
      ]);
      assert.equal(done.status, 0, done.stderr);
      const settings = parseResultDocument(done.stdout).settings;
      assert.equal(settings?.latencyThresholdMs, 1000);
      assert.equal(settings?.intervalSec, 0.2);
      assert.equal(settings?.jitterThresholdMs, 0.5);
    });
  });
}
