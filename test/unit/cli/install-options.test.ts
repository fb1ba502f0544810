import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveInstallOptions, resolveUninstallOptions } from '../../../agent/cli/install-options.ts';
import { parseArgv } from '../../../agent/cli/parse-argv.ts';
import { readConfigObject, resolveOptions } from '../../../agent/cli/resolve-options.ts';
import { DEFAULT_LIB_DIR, DEFAULT_UNIT_DIR } from '../../../agent/install/units.ts';
import { InvalidInputError } from '../../../common/errors.ts';

const CONFIG = { resources: ['10.0.0.1'], count: 5 };

const install = (args: string[], config: Record<string, unknown> | null = CONFIG) =>
  resolveInstallOptions(
    parseArgv(['install', ...args]),
    config === null ? null : readConfigObject(config, 'c.json'),
  );

const rejects = (fn: () => unknown, message: RegExp) =>
  assert.throws(fn, (error: unknown) => error instanceof InvalidInputError && message.test(error.message));

describe('install options', () => {
  it('takes the schedule and the config, and validates the config as check does', () => {
    const o = install(['--every', '5', '--config', '/etc/cloudconnexa-monitor.json']);
    assert.equal(o.everyMinutes, 5);
    assert.equal(o.config, '/etc/cloudconnexa-monitor.json');
    assert.equal(o.unitDir, DEFAULT_UNIT_DIR);
    assert.equal(o.libDir, DEFAULT_LIB_DIR);
    assert.equal(o.enable, true);
    assert.equal(o.check.settings.count, 5);
    assert.equal(o.check.logDir, '/home/ubuntu/Connexa-Logs');
    rejects(() => install(['--every', '5', '--config', '/c.json'], { count: 5 }), /--resources \(missing\)/);
    rejects(
      () => install(['--every', '5', '--config', '/c.json'], { resources: ['10.0.0.1'], count: 0 }),
      /config count "?0"? is not allowed: an integer from 1 to 500/,
    );
  });

  it('takes --every from the config file when the flag is not given, the flag first', () => {
    assert.equal(install(['--config', '/c.json'], { ...CONFIG, every: 10 }).everyMinutes, 10);
    assert.equal(
      install(['--every', '15', '--config', '/c.json'], { ...CONFIG, every: 10 }).everyMinutes,
      15,
    );
    rejects(
      () => install(['--config', '/c.json']),
      /--every \(missing\) is not allowed: minutes between rounds/,
    );
  });

  it('accepts only periods a calendar timer keeps exactly, naming them', () => {
    for (const every of ['1', '30', '60', '120', '1440']) {
      assert.equal(install(['--every', every, '--config', '/c.json']).everyMinutes, Number(every));
    }
    for (const every of ['7', '0.5', '90', '45']) {
      rejects(
        () => install(['--every', every, '--config', '/c.json']),
        new RegExp(
          `--every "${every.replace('.', '\\.')}" is not allowed: .*1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60`,
        ),
      );
    }
    rejects(() => install(['--config', '/c.json'], { ...CONFIG, every: 7 }), /config every 7 is not allowed/);
    rejects(() => install(['--every', 'soon', '--config', '/c.json']), /--every "soon" is not allowed/);
    rejects(
      () => install(['--every', '2880', '--config', '/c.json']),
      /--every "2880" is not allowed: a number from 0\.01 to 1440/,
    );
  });

  it('needs a config file: the service runs check with nothing else', () => {
    rejects(() => install(['--every', '5'], null), /--config \(missing\) is not allowed/);
  });

  it('refuses measuring flags and --json: settings belong in the config file', () => {
    rejects(
      () => install(['--every', '5', '--config', '/c.json', '--resources', '10.0.0.2']),
      /--resources "10\.0\.0\.2" is not allowed: not with install: put settings in the --config file/,
    );
    rejects(() => install(['--every', '5', '--config', '/c.json', '--json']), /"--json" is not allowed/);
  });

  it('resolves a relative --config to the absolute path the unit names', () => {
    // From a directory the service sees (a checkout under /tmp would be refused, below).
    const cwd = process.cwd();
    process.chdir('/etc');
    try {
      assert.equal(install(['--every', '5', '--config', 'monitor.json']).config, '/etc/monitor.json');
      process.chdir('/tmp');
      rejects(
        () => install(['--every', '5', '--config', 'monitor.json']),
        /--config "\/tmp\/monitor\.json" is not allowed: a file outside \/tmp and \/var\/tmp/,
      );
    } finally {
      process.chdir(cwd);
    }
  });

  it('refuses paths a unit cannot hold: relative, or with control characters', () => {
    rejects(
      () => install(['--every', '5', '--config', '/c.json', '--unit-dir', 'units']),
      /--unit-dir "units"/,
    );
    rejects(
      () => install(['--every', '5', '--config', '/c.json', '--lib-dir', '/opt/x\nExecStartPre=/bin/evil']),
      /--lib-dir "\/opt\/x\\nExecStartPre=\/bin\/evil" is not allowed: an absolute path without control characters/,
    );
    rejects(
      () => install(['--every', '5', '--config', '/c\u001b[2J.json']),
      /--config ".*" is not allowed: an absolute path without control characters/,
    );
    rejects(
      () => install(['--every', '5', '--config', '/c.json'], { ...CONFIG, 'log-dir': 'logs' }),
      /config log-dir "logs" is not allowed: an absolute path/,
    );
    rejects(
      () => install(['--every', '5', '--config', '/c.json'], { ...CONFIG, 'log-dir': '/srv/a\nb' }),
      /config log-dir ".*" is not allowed: an absolute path without control characters/,
    );
    for (const logDir of ['/tmp', '/tmp/logs', '/var/tmp/x/../logs', '//tmp/logs']) {
      rejects(
        () => install(['--every', '5', '--config', '/c.json'], { ...CONFIG, 'log-dir': logDir }),
        /config log-dir ".*" is not allowed: a directory outside \/tmp and \/var\/tmp: the service gets private ones/,
      );
    }
    assert.equal(
      install(['--every', '5', '--config', '/c.json'], { ...CONFIG, 'log-dir': '/tmpfiles/logs' }).check
        .logDir,
      '/tmpfiles/logs',
    );
    rejects(
      () => install(['--every', '5', '--config', '/c.json'], { ...CONFIG, 'openvpn-log': 'openvpn.log' }),
      /config openvpn-log "openvpn\.log" is not allowed/,
    );
  });

  it('--no-enable writes the files only', () => {
    assert.equal(install(['--every', '5', '--config', '/c.json', '--no-enable']).enable, false);
  });
});

describe('uninstall options, and the install flags elsewhere', () => {
  it('takes only where the files are', () => {
    assert.deepEqual(resolveUninstallOptions(parseArgv(['uninstall'])), {
      unitDir: DEFAULT_UNIT_DIR,
      libDir: DEFAULT_LIB_DIR,
    });
    assert.deepEqual(resolveUninstallOptions(parseArgv(['uninstall', '--unit-dir', '/u', '--lib-dir=/l/'])), {
      unitDir: '/u',
      libDir: '/l/',
    });
    rejects(
      () => resolveUninstallOptions(parseArgv(['uninstall', '--config', '/c.json'])),
      /not with uninstall/,
    );
    rejects(() => resolveUninstallOptions(parseArgv(['uninstall', '--every', '5'])), /--every "5"/);
    rejects(() => resolveUninstallOptions(parseArgv(['uninstall', '--no-enable'])), /only with install/);
  });

  it('check and watch refuse them', () => {
    const resolve = (args: string[]) => {
      const argv = parseArgv(args);
      return resolveOptions(argv.command === 'watch' ? 'watch' : 'check', argv, {});
    };
    rejects(
      () => resolve(['check', '--resources', '10.0.0.1', '--unit-dir', '/u']),
      /--unit-dir "\/u" is not allowed: only with install or uninstall/,
    );
    rejects(
      () => resolve(['watch', '--every', '5', '--resources', '10.0.0.1', '--no-enable']),
      /"--no-enable" is not allowed: only with install/,
    );
  });

  it('a flag twice is an error, as for every other flag', () => {
    rejects(
      () => parseArgv(['uninstall', '--unit-dir', '/a', '--unit-dir', '/b']),
      /--unit-dir "\/b" is not allowed: the option once/,
    );
  });
});

describe('each command takes only its own flags', () => {
  it('install, uninstall and check refuse the report flags, naming the command they belong to', () => {
    rejects(
      () => install(['--every', '5', '--config', '/c.json', '--html', 'r.html']),
      /--html "r\.html" is not allowed: only with report/,
    );
    rejects(
      () => resolveUninstallOptions(parseArgv(['uninstall', '--since', '24h'])),
      /--since "24h" is not allowed: only with report/,
    );
    rejects(
      () => resolveOptions('check', parseArgv(['check', '--resources', '10.0.0.1', '--resource', 'x']), {}),
      /--resource "x" is not allowed: only with report/,
    );
  });
});

describe('install keeps every path the service opens out of its private /tmp', () => {
  it('refuses the config, lib dir, OpenVPN log and management socket under /tmp or /var/tmp', () => {
    rejects(
      () => install(['--every', '5', '--config', '/tmp/x/c.json']),
      /--config "\/tmp\/x\/c\.json" is not allowed: a file outside \/tmp and \/var\/tmp/,
    );
    rejects(
      () => install(['--every', '5', '--config', '/c.json', '--lib-dir', '/var/tmp/lib']),
      /--lib-dir "\/var\/tmp\/lib" is not allowed: a directory outside \/tmp and \/var\/tmp/,
    );
    rejects(
      () =>
        install(['--every', '5', '--config', '/c.json'], { ...CONFIG, 'openvpn-log': '/tmp/openvpn.log' }),
      /config openvpn-log "\/tmp\/openvpn\.log" is not allowed: a file outside \/tmp/,
    );
    rejects(
      () =>
        install(['--every', '5', '--config', '/c.json'], {
          ...CONFIG,
          'openvpn-management': '/tmp/mgmt.sock',
        }),
      /config openvpn-management "\/tmp\/mgmt\.sock" is not allowed: a file outside \/tmp/,
    );
    // host:port is not a path; a socket elsewhere is fine.
    assert.equal(
      install(['--every', '5', '--config', '/c.json'], { ...CONFIG, 'openvpn-management': '127.0.0.1:7505' })
        .everyMinutes,
      5,
    );
    assert.equal(
      install(['--every', '5', '--config', '/c.json'], {
        ...CONFIG,
        'openvpn-management': '/run/openvpn/mgmt.sock',
      }).everyMinutes,
      5,
    );
  });
});
