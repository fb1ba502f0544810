/**
 * `install` and `uninstall` through the built bundle, under the current Node
 * and Node 12.22, with real files in scratch directories. Every run happens in
 * a private mount namespace with an empty tmpfs on /run, so this machine's own
 * systemd (if any) is never asked anything: without /run/systemd/system the
 * host looks like one without systemd; with it (created inside the namespace
 * only), a stand-in `systemctl` first on PATH records what it is asked.
 * The generated units are checked with the real `systemd-analyze`.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isPrintable } from '../../../common/printable.ts';
import { DEFAULT_AGENT_PATH } from '../../../ssm/document.ts';
import { AGENT, type AgentRun, NODE12, ROOT, shQuote, standInBin } from '../../helpers/run-agent.ts';

const SERVICE = 'cloudconnexa-monitor.service';
const TIMER = 'cloudconnexa-monitor.timer';
const ROOT_SKIP =
  process.getuid?.() === 0 ? false : 'needs root: install writes system units, in a mount namespace';

interface Scratch {
  base: string;
  config: string;
  logDir: string;
  unitDir: string;
  libDir: string;
  cleanup(): void;
}

function scratch(): Scratch {
  // Not under /tmp either: install refuses every path the service opens there (PrivateTmp).
  const dir = { path: mkdtempSync('/var/lib/ccm-install-cli-') };
  const base = realpathSync(dir.path);
  chmodSync(base, 0o755);
  const etc = join(base, 'etc');
  mkdirSync(etc, { mode: 0o755 });
  const config = join(etc, 'monitor.json');
  // Not under /tmp, which the service would not see (PrivateTmp): in /run, the
  // namespace's own tmpfs, so nothing is left behind (the boot test keeps one).
  const logDir = '/run/ccm-install-test/logs';
  writeFileSync(
    config,
    JSON.stringify({ resources: ['127.0.0.1'], count: 3, interval: 0.2, 'log-dir': logDir }),
    {
      mode: 0o644,
    },
  );
  const unitDir = join(base, 'units');
  mkdirSync(unitDir, { mode: 0o755 });
  return {
    base,
    config,
    logDir,
    unitDir,
    libDir: join(base, 'lib'),
    cleanup: () => rmSync(dir.path, { recursive: true, force: true }),
  };
}

/**
 * Runs the bundle with `node` in a mount namespace whose /run is an empty
 * tmpfs; `systemd` adds /run/systemd/system there (sd_booted's mark), `bin`
 * goes first on PATH.
 */
function runSetup(
  node: string,
  args: string[],
  o: { systemd?: boolean; bin?: string; prefix?: string[] } = {},
): AgentRun {
  const script = `mount -t tmpfs -o mode=0755 tmpfs /run && ${o.systemd === true ? 'mkdir -p /run/systemd/system && ' : ''}exec "$@"`;
  const started = Date.now();
  const result = spawnSync(
    'unshare',
    [
      '--mount',
      '--propagation',
      'private',
      'sh',
      '-c',
      script,
      'sh',
      ...(o.prefix ?? []),
      node,
      AGENT,
      ...args,
    ],
    {
      encoding: 'utf8',
      cwd: ROOT,
      timeout: 60_000,
      env: { ...process.env, PATH: `${o.bin === undefined ? '' : `${o.bin}:`}${process.env.PATH ?? ''}` },
    },
  );
  return {
    status: result.status,
    stdout: result.stdout,
    stderr: result.stderr,
    durationMs: Date.now() - started,
  };
}

/** A stand-in systemctl that appends its arguments to `log` and answers like systemd `version`. */
function standInSystemctl(dir: string, log: string, o: { version?: number; failOn?: string } = {}): string {
  return standInBin(dir, {
    systemctl: `#!/bin/sh
printf '%s\\n' "$*" >> ${shQuote(log)}
case "$1" in
  --version) printf 'systemd ${o.version ?? 252} (${o.version ?? 252}.39-1~deb12u2)\\n+PAM +AUDIT +SECCOMP\\n' ;;
  ${o.failOn ?? '--never--'}) echo 'Failed to enable unit: Access denied' >&2; exit 1 ;;
esac
exit 0
`,
  });
}

const calls = (log: string) => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : []);

function installArgs(s: Scratch, ...more: string[]): string[] {
  return [
    'install',
    '--every',
    '5',
    '--config',
    s.config,
    '--unit-dir',
    s.unitDir,
    '--lib-dir',
    s.libDir,
    ...more,
  ];
}

function verify(...files: string[]): { status: number | null; output: string } {
  const run = spawnSync('systemd-analyze', ['verify', '--man=no', ...files], { encoding: 'utf8' });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

for (const [label, node] of [
  ['current Node', process.execPath],
  ['Node 12.22', NODE12],
] as const) {
  const skip =
    ROOT_SKIP ||
    (existsSync(node) ? false : `Node 12 runtime missing at ${node}: npm ci --prefix test/node12`);

  describe(`install --no-enable and uninstall, files only (${label})`, { skip }, () => {
    let s: Scratch;
    before(() => {
      assert.ok(existsSync(AGENT), 'dist/agent.js must be built first (npm run build)');
      s = scratch();
    });
    after(() => s.cleanup());

    it('writes the agent copy, the service and the timer, which systemd-analyze accepts without a warning', () => {
      const run = runSetup(node, installArgs(s, '--no-enable'));
      assert.equal(run.status, 0, run.stderr);
      assert.match(
        run.stdout,
        /wrote .*lib\/agent\.js\nwrote .*cloudconnexa-monitor\.service\nwrote .*cloudconnexa-monitor\.timer\nnot enabled \(--no-enable\)/,
      );
      const copy = join(s.libDir, 'agent.js');
      assert.ok(readFileSync(copy).equals(readFileSync(AGENT)), 'the copy is the running bundle');
      for (const file of [copy, join(s.unitDir, SERVICE), join(s.unitDir, TIMER)]) {
        assert.equal(statSync(file).mode & 0o7777, 0o644, file);
        assert.equal(statSync(file).uid, 0, file);
      }
      const service = readFileSync(join(s.unitDir, SERVICE), 'utf8');
      assert.ok(
        service.includes(`\nExecStart="${realpathSync(node)}" "${copy}" check --config "${s.config}"\n`),
        service,
      );
      assert.ok(service.includes(`\nReadWritePaths="${s.logDir}"\n`));
      const checked = verify(join(s.unitDir, SERVICE), join(s.unitDir, TIMER));
      assert.equal(checked.status, 0, checked.output);
      assert.equal(checked.output, '', 'no warning either (unknown keys are only warnings)');
    });

    it('rates the service OK in systemd-analyze security, and that rating can fail', () => {
      const rate = (threshold: number) =>
        spawnSync(
          'systemd-analyze',
          ['security', '--offline=true', `--threshold=${threshold}`, join(s.unitDir, SERVICE)],
          { encoding: 'utf8' },
        );
      const ok = rate(35);
      assert.equal(ok.status, 0, `${ok.stdout}${ok.stderr}`);
      assert.match(ok.stdout, /Overall exposure level for cloudconnexa-monitor\.service: [0-3]\.\d OK/);
      assert.notEqual(rate(10).status, 0, 'a stricter bar than the units meet fails');
    });

    it('changes nothing when run again', () => {
      const files = [join(s.libDir, 'agent.js'), join(s.unitDir, SERVICE), join(s.unitDir, TIMER)];
      const before = files.map((f) => statSync(f).mtimeMs);
      const run = runSetup(node, installArgs(s, '--no-enable'));
      assert.equal(run.status, 0, run.stderr);
      assert.equal(run.stdout.match(/^unchanged /gm)?.length, 3, run.stdout);
      assert.deepEqual(
        files.map((f) => statSync(f).mtimeMs),
        before,
      );
      assert.deepEqual(readdirSync(s.unitDir).sort(), [SERVICE, TIMER], 'no temp file left behind');
    });

    it('rewrites only what a new schedule changes', () => {
      const args = installArgs(s, '--no-enable');
      args[2] = '10';
      const run = runSetup(node, args);
      assert.equal(run.status, 0, run.stderr);
      assert.match(
        run.stdout,
        /unchanged .*cloudconnexa-monitor\.service\nwrote .*cloudconnexa-monitor\.timer/,
      );
      assert.match(readFileSync(join(s.unitDir, TIMER), 'utf8'), /\nOnCalendar=\*-\*-\* \*:00\/10:00\n/);
    });

    it('replaces an older copy of the agent it wrote, and only that', () => {
      const copy = join(s.libDir, 'agent.js');
      writeFileSync(copy, `${readFileSync(AGENT, 'utf8')}\n// an older build\n`, { mode: 0o644 });
      const args = installArgs(s, '--no-enable');
      args[2] = '10';
      const run = runSetup(node, args);
      assert.equal(run.status, 0, run.stderr);
      assert.match(
        run.stdout,
        /wrote .*lib\/agent\.js\nunchanged .*cloudconnexa-monitor\.service\nunchanged .*cloudconnexa-monitor\.timer/,
      );
      assert.ok(readFileSync(copy).equals(readFileSync(AGENT)), 'the copy is the running bundle again');
    });

    it("gives a unit it rewrites install's mode again, 0644, whatever it was changed to", () => {
      const timer = join(s.unitDir, TIMER);
      chmodSync(timer, 0o600);
      const run = runSetup(node, installArgs(s, '--no-enable')); // back to every 5: the timer changes
      assert.equal(run.status, 0, run.stderr);
      assert.match(run.stdout, /wrote .*cloudconnexa-monitor\.timer/);
      assert.equal(statSync(timer).mode & 0o7777, 0o644);
    });

    it('shows paths in its messages with their control characters escaped', () => {
      // A right-to-left override and a C1 CSI: JSON quoting leaves both raw.
      for (const args of [
        ['uninstall', '--unit-dir', `${s.base}/units\u202e\u009b2J`],
        ['install', '--every', '5', '--config', `${s.base}/etc/none\u202e.json`, '--no-enable'],
      ]) {
        const run = runSetup(node, args);
        assert.equal(run.status, 2, `${args.join(' ')}: ${run.stderr}`);
        assert.match(run.stderr, /^error: .*\\u202e/);
        for (const line of `${run.stdout}${run.stderr}`.split('\n')) {
          assert.ok(isPrintable(line), JSON.stringify(line));
        }
      }
    });

    it('uninstall removes what install wrote and names what it leaves; again, it does nothing', () => {
      const dropIn = join(s.unitDir, `${SERVICE}.d`);
      mkdirSync(dropIn);
      writeFileSync(join(dropIn, 'override.conf'), '[Service]\nNice=5\n');
      const run = runSetup(node, ['uninstall', '--unit-dir', s.unitDir, '--lib-dir', s.libDir]);
      assert.equal(run.status, 0, run.stderr);
      assert.deepEqual(readdirSync(s.unitDir), [`${SERVICE}.d`], "the administrator's drop-ins stay");
      assert.ok(run.stdout.includes(`your drop-ins ${dropIn} (remove them`), run.stdout);
      rmSync(dropIn, { recursive: true });
      assert.equal(existsSync(s.libDir), false);
      assert.ok(existsSync(s.config), 'the config stays');
      assert.ok(run.stdout.includes(`the config ${s.config}, the log dir ${s.logDir}`), run.stdout);
      assert.doesNotMatch(run.stdout, /systemctl/, 'no systemd running: files only');
      const again = runSetup(node, ['uninstall', '--unit-dir', s.unitDir, '--lib-dir', s.libDir]);
      assert.equal(again.status, 0, again.stderr);
      assert.match(again.stdout, /^not installed: /);
    });
  });

  describe(`install refuses bad input with exit 2, and a host it cannot trust with exit 3 (${label})`, {
    skip,
  }, () => {
    let s: Scratch;
    before(() => {
      s = scratch();
    });
    after(() => s.cleanup());

    const nothingWritten = () => {
      assert.deepEqual(readdirSync(s.unitDir), []);
      assert.equal(existsSync(s.libDir), false);
    };

    const inputCases: [string, (s: Scratch) => string[], RegExp][] = [
      [
        'a period a timer cannot keep',
        (s) => installArgs(s).map((arg, i) => (i === 2 ? '7' : arg)),
        /--every "7" is not allowed: minutes that divide/,
      ],
      [
        'no config file',
        (s) => ['install', '--every', '5', '--unit-dir', s.unitDir],
        /--config \(missing\) is not allowed/,
      ],
      [
        'a measuring flag',
        (s) => [...installArgs(s), '--count', '9'],
        /--count "9" is not allowed: not with install/,
      ],
      [
        'a relative unit dir',
        (s) => [...installArgs(s).slice(0, 5), '--unit-dir', 'units'],
        /--unit-dir "units" is not allowed/,
      ],
      [
        'a config file that is not JSON',
        (s) => {
          const file = join(s.base, 'etc', 'broken.json');
          writeFileSync(file, '{ resources: ', { mode: 0o644 });
          return [
            'install',
            '--every',
            '5',
            '--config',
            file,
            '--unit-dir',
            s.unitDir,
            '--lib-dir',
            s.libDir,
          ];
        },
        /broken\.json" is not valid JSON/,
      ],
      [
        'a config file another user can change',
        (s) => {
          const file = join(s.base, 'etc', 'theirs.json');
          writeFileSync(file, JSON.stringify({ resources: ['127.0.0.1'] }), { mode: 0o644 });
          chownSync(file, 1000, 1000);
          return [
            'install',
            '--every',
            '5',
            '--config',
            file,
            '--unit-dir',
            s.unitDir,
            '--lib-dir',
            s.libDir,
          ];
        },
        /is owned by uid 1000: the agent runs as root and takes settings only from a file only root can change/,
      ],
      [
        'a config file without resources',
        (s) => {
          const file = join(s.base, 'etc', 'empty.json');
          writeFileSync(file, '{}', { mode: 0o644 });
          return [
            'install',
            '--every',
            '5',
            '--config',
            file,
            '--unit-dir',
            s.unitDir,
            '--lib-dir',
            s.libDir,
          ];
        },
        /--resources \(missing\) is not allowed/,
      ],
    ];
    for (const [name, args, message] of inputCases) {
      it(`${name}: exit 2, nothing written`, () => {
        const run = runSetup(node, [...args(s), '--no-enable']);
        assert.equal(run.status, 2, `${run.stdout}${run.stderr}`);
        assert.match(run.stderr, message);
        assert.match(run.stderr, /^error: /);
        nothingWritten();
      });
    }

    it('a unit dir others can write, or that is missing: exit 3, nothing written', () => {
      chmodSync(s.unitDir, 0o777);
      const open = runSetup(node, installArgs(s, '--no-enable'));
      chmodSync(s.unitDir, 0o755);
      assert.equal(open.status, 3, open.stderr);
      assert.match(
        open.stderr,
        /--unit-dir .*units is writable by others \(mode 0777\); systemd runs it as root/,
      );
      nothingWritten();
      const args = installArgs(s, '--no-enable');
      args[6] = join(s.base, 'nowhere');
      const missing = runSetup(node, args);
      assert.equal(missing.status, 3, missing.stderr);
      assert.match(missing.stderr, /--unit-dir .*nowhere cannot be used \(ENOENT/);
      nothingWritten();
    });

    it('a unit of the same name it did not write: exit 3, left as it is, for uninstall too', () => {
      const foreign = join(s.unitDir, SERVICE);
      writeFileSync(foreign, '[Service]\nExecStart=/bin/true\n', { mode: 0o644 });
      try {
        for (const args of [
          installArgs(s, '--no-enable'),
          ['uninstall', '--unit-dir', s.unitDir, '--lib-dir', s.libDir],
        ]) {
          const run = runSetup(node, args);
          assert.equal(run.status, 3, run.stderr);
          assert.match(
            run.stderr,
            /cloudconnexa-monitor\.service was not written by install; move it away first/,
          );
          assert.equal(readFileSync(foreign, 'utf8'), '[Service]\nExecStart=/bin/true\n');
        }
        assert.equal(existsSync(s.libDir), false);
      } finally {
        rmSync(foreign, { force: true });
      }
    });

    for (const [name, foreign] of [
      ['another program', 'my other app\n'],
      ['another node script', '#!/usr/bin/env node\nconsole.log("not the monitor")\n'],
    ] as const) {
      it(`an agent.js in the lib dir it did not copy (${name}): exit 3, left as it is, for uninstall too`, () => {
        mkdirSync(s.libDir, { mode: 0o755 });
        const file = join(s.libDir, 'agent.js');
        writeFileSync(file, foreign, { mode: 0o644 });
        try {
          for (const args of [
            installArgs(s, '--no-enable'),
            ['uninstall', '--unit-dir', s.unitDir, '--lib-dir', s.libDir],
          ]) {
            const run = runSetup(node, args);
            assert.equal(run.status, 3, `${args[0]}: ${run.stdout}${run.stderr}`);
            assert.match(run.stderr, /lib\/agent\.js was not written by install; move it away first/);
            assert.equal(readFileSync(file, 'utf8'), foreign);
            assert.deepEqual(readdirSync(s.libDir), ['agent.js']);
            assert.deepEqual(readdirSync(s.unitDir), [], 'no unit written either');
            assert.doesNotMatch(run.stdout, /wrote|removed/, run.stdout);
          }
        } finally {
          rmSync(s.libDir, { recursive: true, force: true });
          // Units a failed refusal wrote would fail the tests after this one too.
          for (const unit of readdirSync(s.unitDir)) rmSync(join(s.unitDir, unit), { recursive: true });
        }
      });
    }

    it('not root: exit 3 before anything is read', () => {
      const run = runSetup(node, installArgs(s, '--no-enable'), {
        prefix: ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'],
      });
      assert.equal(run.status, 3, run.stderr);
      assert.match(run.stderr, /install must run as root \(sudo\)/);
      nothingWritten();
    });

    it('no systemd running: exit 3 saying to use watch, nothing written', () => {
      const run = runSetup(node, installArgs(s));
      assert.equal(run.status, 3, run.stderr);
      assert.match(
        run.stderr,
        /systemd is not running on this host \(no \/run\/systemd\/system\).*run the agent with watch instead/,
      );
      nothingWritten();
    });
  });

  describe(`install and uninstall with systemd, through a stand-in systemctl (${label})`, { skip }, () => {
    let s: Scratch;
    before(() => {
      s = scratch();
    });
    after(() => s.cleanup());

    it('install reloads systemd, enables the timer and restarts it; uninstall undoes it in order', () => {
      const log = join(s.base, 'systemctl.log');
      const bin = standInSystemctl(join(s.base, 'ok'), log);
      const run = runSetup(node, installArgs(s), { systemd: true, bin });
      assert.equal(run.status, 0, run.stderr);
      assert.deepEqual(calls(log), ['--version', 'daemon-reload', `enable ${TIMER}`, `restart ${TIMER}`]);
      assert.match(
        run.stdout,
        /installed: check --config .* every 5 min \(plus this host's fixed offset of up to 60 s\)/,
      );
      assert.ok(existsSync(join(s.unitDir, TIMER)));

      const removed = runSetup(node, ['uninstall', '--unit-dir', s.unitDir, '--lib-dir', s.libDir], {
        systemd: true,
        bin,
      });
      assert.equal(removed.status, 0, removed.stderr);
      assert.deepEqual(calls(log).slice(4), [
        `disable --now ${TIMER}`,
        `stop ${SERVICE}`,
        'daemon-reload',
        `reset-failed ${SERVICE} ${TIMER}`,
      ]);
      assert.deepEqual(readdirSync(s.unitDir), []);
    });

    it('systemctl failing: exit 3 with the command and its stderr; the files stay for a retry', () => {
      const log = join(s.base, 'failing.log');
      const bin = standInSystemctl(join(s.base, 'failing'), log, { failOn: 'enable' });
      const run = runSetup(node, installArgs(s), { systemd: true, bin });
      assert.equal(run.status, 3, run.stderr);
      assert.match(
        run.stderr,
        /error: systemctl enable cloudconnexa-monitor\.timer failed \(exit code 1\): Failed to enable unit: Access denied/,
      );
      assert.deepEqual(calls(log), ['--version', 'daemon-reload', `enable ${TIMER}`]);
      assert.ok(existsSync(join(s.unitDir, TIMER)));
    });

    it('a systemd too old for the sandbox: exit 3, nothing written', () => {
      const fresh = scratch();
      try {
        const log = join(fresh.base, 'old.log');
        const bin = standInSystemctl(join(fresh.base, 'old'), log, { version: 219 });
        const run = runSetup(node, installArgs(fresh), { systemd: true, bin });
        assert.equal(run.status, 3, run.stderr);
        assert.match(
          run.stderr,
          /systemd 219 is older than 235.*run the agent with watch or from cron instead/,
        );
        assert.deepEqual(calls(log), ['--version']);
        assert.deepEqual(readdirSync(fresh.unitDir), []);
      } finally {
        fresh.cleanup();
      }
    });
  });
}

describe('the fleet build in the SSM document leaves out what no fleet host runs', () => {
  it('is the bundle the document embeds, without the install code, and says where install is', () => {
    assert.equal(DEFAULT_AGENT_PATH, join(ROOT, 'dist', 'agent-fleet.js'));
    const fleet = readFileSync(DEFAULT_AGENT_PATH, 'utf8');
    assert.ok(readFileSync(AGENT, 'utf8').includes('daemon-reload'), 'the full build has it');
    assert.ok(!fleet.includes('daemon-reload') && !fleet.includes('CapabilityBoundingSet'));
    const run = spawnSync(
      process.execPath,
      [DEFAULT_AGENT_PATH, 'install', '--every', '5', '--config', '/etc/cloudconnexa-monitor.json'],
      { encoding: 'utf8' },
    );
    assert.equal(run.status, 2, run.stderr);
    assert.match(run.stderr, /command "install" is not allowed: .*dist\/agent\.js has every command/);
  });

  it('refuses watch and --config with exit 2 naming the full build, and --help points to it', () => {
    const fleet = readFileSync(DEFAULT_AGENT_PATH, 'utf8');
    assert.ok(readFileSync(AGENT, 'utf8').includes('Usage:'), 'the full build has the --help text');
    assert.ok(!fleet.includes('Usage:'), 'the fleet build leaves it out');
    const agent = (...args: string[]) =>
      spawnSync(process.execPath, [DEFAULT_AGENT_PATH, ...args], { encoding: 'utf8' });
    const watch = agent('watch', '--resources', '127.0.0.1', '--json');
    assert.equal(watch.status, 2, watch.stderr);
    const refused = JSON.parse(watch.stdout) as { outcome: string; error: { message: string } };
    assert.equal(refused.outcome, 'invalid-input');
    assert.match(
      refused.error.message,
      /command "watch" is not allowed: check: .*dist\/agent\.js has every command/,
    );
    const config = agent('check', '--config', '/etc/cloudconnexa-monitor.json');
    assert.equal(config.status, 2, config.stderr);
    assert.match(config.stderr, /--config "\/etc\/cloudconnexa-monitor\.json" is not allowed: flags only/);
    const help = agent('--help');
    assert.equal(help.status, 0);
    assert.match(help.stdout, /fleet build .*dist\/agent\.js has every command and option/);
  });
});
