import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseArgv } from '../../../agent/cli/parse-argv.ts';
import { readConfigObject, resolveOptions, type WatchOptions } from '../../../agent/cli/resolve-options.ts';
import { InvalidInputError } from '../../../common/errors.ts';
import { MAX_ROUND_MS, roundWorstCaseMs } from '../../../common/round-budget.ts';

const resolve = (args: string[], config: Record<string, unknown> = {}) => {
  const argv = parseArgv(args);
  const command = argv.command === 'watch' ? 'watch' : 'check';
  return resolveOptions(command, argv, readConfigObject(config, 'test.json'));
};

const rejects = (fn: () => unknown, message: RegExp) =>
  assert.throws(fn, (error: unknown) => error instanceof InvalidInputError && message.test(error.message));

describe('command line and config file', () => {
  it('applies the old script defaults: count 25, interval 1 s, 75 ms, 5 %, 3 hops', () => {
    const options = resolve(['check', '--resources', '10.0.0.1']);
    assert.deepEqual(options.settings, {
      count: 25,
      intervalSec: 1,
      latencyThresholdMs: 75,
      lossThresholdPct: 5,
      hops: 3,
      lossRule: 'persistent',
      tcpPort: 443,
      concurrency: 51,
      baselineFlag: false,
      jitterThresholdMs: 0,
    });
    assert.equal(options.logDir, '/home/ubuntu/Connexa-Logs');
  });

  it('accepts --flag=value and --flag value alike', () => {
    const options = resolve([
      'check',
      '--resources=10.0.0.1,db.internal',
      '--count',
      '10',
      '--loss-rule=any-hop',
    ]);
    assert.deepEqual(
      options.resources.map((r) => r.kind),
      ['ipv4', 'hostname'],
    );
    assert.equal(options.settings.count, 10);
    assert.equal(options.settings.lossRule, 'any-hop');
  });

  it('takes URLs with their port for the TCP/HTTP fallback', () => {
    const [url] = resolve(['check', '--resources', 'https://intranet.corp:8443/health']).resources;
    assert.equal(url?.kind, 'url');
    assert.equal(url?.host, 'intranet.corp');
    assert.equal(url?.port, 8443);
  });

  it('lets flags win over the config file and names the config key in errors', () => {
    const options = resolve(['check', '--count', '7'], { resources: ['10.0.0.1'], count: 3, hops: 4 });
    assert.equal(options.settings.count, 7);
    assert.equal(options.settings.hops, 4);
    rejects(
      () => resolve(['check'], { resources: '10.0.0.1', hops: 99 }),
      /^config hops 99 is not allowed: an integer from 1 to 30, in digits \(no sign, exponent, point or spaces\)$/,
    );
  });

  it('turns the baseline flag on from the command line or the config file, and names a bad value', () => {
    assert.equal(
      resolve(['check', '--resources', '10.0.0.1', '--baseline-flag', 'on']).settings.baselineFlag,
      true,
    );
    assert.equal(
      resolve(['check'], { resources: '10.0.0.1', 'baseline-flag': 'on' }).settings.baselineFlag,
      true,
    );
    assert.equal(
      resolve(['check', '--baseline-flag=off'], { resources: '10.0.0.1', 'baseline-flag': 'on' }).settings
        .baselineFlag,
      false,
      'the flag wins',
    );
    rejects(
      () => resolve(['check', '--resources', '10.0.0.1', '--baseline-flag', 'yes']),
      /^--baseline-flag "yes" is not allowed: one of on, off$/,
    );
    rejects(
      () => resolve(['check'], { resources: '10.0.0.1', 'baseline-flag': true }),
      /^config baseline-flag/,
    );
  });

  it('rejects a resource list that is missing, duplicated or unsafe', () => {
    rejects(() => resolve(['check']), /--resources \(missing\)/);
    rejects(() => resolve(['check', '--resources', '10.0.0.1,10.0.0.1']), /duplicate/);
    rejects(() => resolve(['check', '--resources', 'http://user:pw@host/']), /without credentials/);
    rejects(() => resolve(['check', '--resources', 'host name']), /"host name" is not allowed/);
    rejects(() => resolve(['check', '--resources', '`reboot`']), /"`reboot`"/);
  });

  it('requires --every for watch and refuses watch-only flags on check', () => {
    rejects(() => resolve(['watch', '--resources', '10.0.0.1']), /--every \(missing\)/);
    rejects(() => resolve(['check', '--resources', '10.0.0.1', '--every', '5']), /only with watch/);
    const watch = resolve([
      'watch',
      '--resources',
      '10.0.0.1',
      '--every',
      '5',
      '--rounds',
      '3',
    ]) as WatchOptions;
    assert.equal(watch.everyMinutes, 5);
    assert.equal(watch.rounds, 3);
  });

  it('rejects an unknown command, a repeated flag and a value given to a switch', () => {
    rejects(() => parseArgv(['run']), /command "run" is not allowed: one of check, watch/);
    rejects(
      () => parseArgv(['check', '--count', '1', '--count', '2']),
      /--count "2" is not allowed: the option once/,
    );
    rejects(() => parseArgv(['check', '--json=yes']), /--json "yes" is not allowed: no value/);
  });

  it('rejects --config given twice instead of silently using the last file', () => {
    rejects(
      () => parseArgv(['check', '--config', '/tmp/a.json', '--config=/tmp/b.json']),
      /^--config "\/tmp\/b.json" is not allowed: the option once$/,
    );
    assert.equal(parseArgv(['check', '--config', '/tmp/a.json']).config, '/tmp/a.json');
  });

  it('lets check share a config file with watch, still validating every and rounds', () => {
    const shared = { resources: '10.0.0.1', every: 5, rounds: 2 };
    assert.equal(resolve(['check'], shared).resources.length, 1);
    const watch = resolve(['watch'], shared) as WatchOptions;
    assert.equal(watch.rounds, 2);
    rejects(
      () => resolve(['check'], { resources: '10.0.0.1', every: 'soon' }),
      /^config every "soon" is not allowed/,
    );
  });

  it('validates --openvpn-management up front and names the config key for a config value', () => {
    rejects(
      () => resolve(['check', '--resources', '10.0.0.1', '--openvpn-management', 'foo bar']),
      /^--openvpn-management "foo bar" is not allowed: host:port/,
    );
    rejects(
      () => resolve(['check'], { resources: '10.0.0.1', 'openvpn-management': 'foo bar' }),
      /^config openvpn-management "foo bar" is not allowed: host:port/,
    );
    const ok = resolve(['check', '--resources', '10.0.0.1', '--openvpn-management', '127.0.0.1:7505']);
    assert.equal(ok.openvpnManagement, '127.0.0.1:7505');
    assert.equal(
      resolve(['check', '--resources', '10.0.0.1', '--openvpn-management', 'unix:/run/ovpn.sock'])
        .openvpnManagement,
      'unix:/run/ovpn.sock',
    );
  });

  it('rejects settings whose worst-case round exceeds MAX_ROUND_MS, naming both values and the worst case', () => {
    rejects(
      () => resolve(['check', '--resources', '10.0.0.1', '--count', '500', '--interval', '15']),
      /^--count × --interval "500 × 15 s" is not allowed: a round whose worst case \(.*: 15057 s\) is at most 3600 s/,
    );
    rejects(
      () => resolve(['check', '--interval', '15'], { resources: '10.0.0.1', count: 500 }),
      /^config count × --interval "500 × 15 s"/,
    );
    // mtr and then the fallback both take count × interval: about 1800 s of probing is the most one wave allows.
    const edge = resolve(['check', '--resources', '10.0.0.1', '--count', '500', '--interval', '3.5']);
    assert.ok(roundWorstCaseMs(edge.settings, 2) <= MAX_ROUND_MS);
    rejects(
      () => resolve(['check', '--resources', '10.0.0.1', '--count', '500', '--interval', '3.6']),
      /worst case/,
    );
    // Concurrency 1 runs the paths one after another: the same settings no longer fit.
    rejects(
      () =>
        resolve([
          'check',
          '--resources',
          '10.0.0.1,10.0.0.2',
          '--count',
          '500',
          '--interval',
          '2',
          '--concurrency',
          '1',
        ]),
      /3 path\(s\) 1 at a time/,
    );
  });
});

describe('--jitter-threshold (issue 10)', () => {
  it('is off (0) by default, and takes milliseconds from the flag or the config key, flags winning', () => {
    assert.equal(resolve(['check', '--resources', '10.0.0.1']).settings.jitterThresholdMs, 0);
    assert.equal(
      resolve(['check', '--resources', '10.0.0.1', '--jitter-threshold', '30']).settings.jitterThresholdMs,
      30,
    );
    const fromConfig = resolve(['check'], { resources: '10.0.0.1', 'jitter-threshold': 12.5 });
    assert.equal(fromConfig.settings.jitterThresholdMs, 12.5);
    const both = resolve(['check', '--jitter-threshold=0'], {
      resources: '10.0.0.1',
      'jitter-threshold': 12.5,
    });
    assert.equal(both.settings.jitterThresholdMs, 0, 'the flag turns a config file’s threshold off');
  });

  it('refuses what the one number grammar refuses, naming the flag or the config key', () => {
    for (const bad of ['-5', '1e2', '30ms', '60001', '0.0001', ' 5']) {
      rejects(
        () => resolve(['check', '--resources', '10.0.0.1', '--jitter-threshold', bad]),
        /^--jitter-threshold ".*" is not allowed: a number from 0 to 60000 with at most 3 decimals/,
      );
    }
    rejects(
      () => resolve(['check'], { resources: '10.0.0.1', 'jitter-threshold': 'off' }),
      /^config jitter-threshold "off" is not allowed/,
    );
  });
});
