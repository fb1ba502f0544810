/**
 * The installed service under a real systemd: systemd-nspawn boots a
 * container from this machine's own /usr (--volatile=yes: empty /etc and
 * /var on tmpfs, loopback only), whose first job is
 * test/fixtures/systemd-boot/driver.sh. It runs `install` with the real
 * systemctl, waits for the timer to start a round, reads what the service's
 * sandbox allows (probe.sh), installs again, then under Node 12.22 with paths
 * a unit must quote, and uninstalls. Nothing on this machine is touched: the
 * container has its own /etc, /var, /run and network.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  realpathSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AGENT, NODE12, ROOT, tempDir } from '../../helpers/run-agent.ts';

const SKIP = process.getuid?.() === 0 ? false : 'needs root: boots a container (systemd-nspawn)';
const FIXTURES = join(ROOT, 'test', 'fixtures', 'systemd-boot');
const BOOT_TIMEOUT_MS = 5 * 60_000;

describe('the installed timer and service under a real systemd', { skip: SKIP }, () => {
  let dir: ReturnType<typeof tempDir>;
  let out: string;
  let boot: ReturnType<typeof spawnSync>;
  const read = (step: string) => readFileSync(join(out, `${step}.out`), 'utf8');
  const rc = (step: string) => readFileSync(join(out, `${step}.rc`), 'utf8').trim();
  const ran = (step: string) => {
    assert.ok(
      existsSync(join(out, `${step}.rc`)),
      `step ${step} did not run; boot output:\n${String(boot.stdout)}${String(boot.stderr)}`,
    );
    assert.equal(rc(step), '0', `${step}:\n${read(step)}`);
    return read(step);
  };

  before(() => {
    assert.ok(existsSync(AGENT), 'dist/agent.js must be built first (npm run build)');
    assert.ok(existsSync(NODE12), 'Node 12 runtime missing: npm ci --prefix test/node12');
    dir = tempDir('systemd-boot-');
    chmodSync(dir.path, 0o755);
    const input = join(dir.path, 'in');
    out = join(dir.path, 'out');
    mkdirSync(input);
    mkdirSync(out);
    copyFileSync(AGENT, join(input, 'agent.js'));
    for (const file of ['driver.sh', 'probe.sh']) copyFileSync(join(FIXTURES, file), join(input, file));
    const round = { resources: ['127.0.0.1', '::1'], count: 3, interval: 0.2 };
    writeFileSync(join(input, 'config.json'), JSON.stringify(round));
    writeFileSync(
      join(input, 'config2.json'),
      JSON.stringify({ ...round, resources: ['127.0.0.1'], 'log-dir': '/var/log/cc "mon\\itor" %n $USER' }),
    );
    writeFileSync(join(input, 'config3.json'), JSON.stringify({ ...round, 'log-dir': '/srv/moved' }));
    const node12 = dirname(dirname(realpathSync(NODE12)));
    const driver = join(dir.path, 'ccm-driver.service');
    writeFileSync(
      driver,
      `[Unit]\nDescription=test driver\n[Service]\nType=oneshot\nStandardOutput=file:/ccm-out/driver.log\nStandardError=inherit\nExecStart=/bin/sh /ccm-in/driver.sh ${realpathSync(NODE12)}\n`,
    );
    // biome-ignore format: one option per line
    boot = spawnSync('systemd-nspawn', [
      '--quiet', '--register=no', '--keep-unit',
      '--directory=/', '--volatile=yes', '--private-network', `--machine=ccm-test-${process.pid}`,
      // The default --lib-dir, on a writable file system (this /usr is read-only in the container).
      '--tmpfs=/usr/local/lib:mode=0755',
      `--bind-ro=${input}:/ccm-in`, `--bind=${out}:/ccm-out`, `--bind-ro=${node12}`,
      `--bind-ro=${driver}:/etc/systemd/system/ccm-driver.service`,
      '--boot', '--',
      'systemd.unit=ccm-driver.service', 'systemd.firstboot=off', 'systemd.show_status=0',
      // Only loopback: network-online.target would wait two minutes for an uplink.
      'systemd.mask=systemd-networkd-wait-online.service',
    ], { encoding: 'utf8', timeout: BOOT_TIMEOUT_MS });
    assert.equal(
      boot.error,
      undefined,
      `systemd-nspawn: ${boot.error?.message} (ensure-deps installs systemd-container)`,
    );
  });
  after(() => dir?.cleanup());

  it('install enables the timer with the real systemctl, and the timer starts a round on its own', () => {
    assert.match(
      ran('install'),
      /systemctl daemon-reload\nsystemctl enable cloudconnexa-monitor\.timer\nsystemctl restart cloudconnexa-monitor\.timer\ninstalled: /,
    );
    assert.equal(ran('enabled').trim(), 'enabled');
    assert.notEqual(ran('timer-triggered').trim(), '', 'the timer fired (Persistent catch-up)');
    assert.equal(ran('timer-run'), 'Result=success\nExecMainStatus=0\n');
  });

  it('the round measures with mtr inside the sandbox and writes as the log dir owner', () => {
    const round = ran('round1');
    assert.match(round, /^127\.0\.0\.1 +icmp +\d+\.\d+ ms +0\.0 % +OK/m);
    assert.match(round, /^::1 +icmp +\d+\.\d+ ms +0\.0 % +OK/m);
    const report = JSON.parse(ran('report1').trim()) as Record<string, unknown>;
    assert.deepEqual(report['RESOURCE(S)'], ['127.0.0.1', '::1']);
    assert.equal(report.LOSS_FLAG, '0');
    // ubuntu owns /home/ubuntu: the agent created and wrote the log dir as uid 1000 (CAP_SETUID, CAP_DAC_READ_SEARCH).
    assert.equal(
      ran('logdir'),
      '/home/ubuntu/Connexa-Logs 1000 755\n/home/ubuntu/Connexa-Logs/LATENCY-LOSS-CONNEXA-REPORT.json 1000 644\n',
    );
    assert.equal(ran('lockdir').trim(), '0 700', 'the lock dir stays after the service, root-only');
  });

  it("a root-owned log dir the old script left in ubuntu's home is used as it is", () => {
    ran('start-old');
    assert.match(ran('round-old'), /^127\.0\.0\.1 +icmp +\d+\.\d+ ms +0\.0 % +OK/m);
    assert.match(ran('report-old'), /^0 \d+\n$/);
    assert.equal(ran('report-old-lines').trim(), '2', 'the second round appended to the same report');
  });

  it('the service gets the sandbox its unit describes', () => {
    ran('probe-start');
    const probe = read('probe');
    assert.match(probe, /^NoNewPrivs:\s+1$/m);
    assert.match(probe, /^Seccomp:\s+2$/m, 'a system call filter is in force');
    // CAP_DAC_READ_SEARCH (2), CAP_SETGID (6), CAP_SETUID (7), CAP_NET_RAW (13), and nothing else.
    assert.match(probe, /^CapBnd:\s+00000000000020c4$/m);
    assert.match(probe, /^CapEff:\s+00000000000020c4$/m);
    for (const [path, mode] of [
      ['/etc', 'ro'],
      ['/usr', 'ro'],
      ['/home', 'ro'],
      ['/home/ubuntu/Connexa-Logs', 'rw'],
      ['/run/cloudconnexa-monitor', 'rw'],
      ['/tmp', 'rw'],
    ]) {
      assert.match(probe, new RegExp(`^mount ${path} ${mode}$`, 'm'), probe);
    }
    assert.match(probe, /^tmp private$/m);
    assert.match(probe, /^socket AF_INET ok$/m, 'raw ICMP, as mtr-packet needs');
    assert.match(probe, /^socket AF_PACKET Address family not supported by protocol$/m);
  });

  it('installing again changes nothing', () => {
    assert.equal(ran('reinstall').match(/^unchanged /gm)?.length, 3, read('reinstall'));
  });

  it('under Node 12.22, paths with spaces, quotes, a backslash, % and $ reach the round intact', () => {
    assert.match(ran('install12'), /unchanged .*agent\.js\nwrote .*\.service\nwrote .*\.timer/);
    // systemd keeps `$$` as written until it runs the command, where it becomes `$`: the round that reads this config proves it.
    assert.ok(
      ran('execstart').includes(
        `argv[]=${realpathSync(NODE12)} /usr/local/lib/cloudconnexa-monitor/agent.js check --config /etc/cc "mon\\itor" %i $$HOME.json ;`,
      ),
      read('execstart'),
    );
    ran('start12');
    assert.match(ran('round2'), /^127\.0\.0\.1 +icmp +\d+\.\d+ ms +0\.0 % +OK/m);
    assert.match(
      read('round2'),
      /wrote \/var\/log\/cc "mon\\itor" %n \$USER\/LATENCY-LOSS-CONNEXA-REPORT\.json/,
    );
    assert.equal((JSON.parse(ran('report2').trim()) as Record<string, unknown>).LOSS_FLAG, '0');
  });

  it('a log dir changed in the config without installing again fails the round, saying what to do', () => {
    assert.notEqual(rc('stale'), '0', read('stale'));
    assert.match(
      read('stale-log'),
      /log directory \/srv\/moved cannot be used \(EROFS.*under the systemd service: run install again after changing log-dir/,
    );
  });

  it('uninstall stops and removes the units and the agent copy, and leaves the config and the log dir', () => {
    assert.match(
      ran('uninstall'),
      /systemctl disable --now cloudconnexa-monitor\.timer\nsystemctl stop cloudconnexa-monitor\.service\n/,
    );
    assert.equal(read('after-units'), '');
    assert.equal(rc('after-units'), '1', 'systemctl list-unit-files: none listed');
    const files = read('after-files');
    assert.doesNotMatch(files, /cloudconnexa-monitor\.(service|timer)/);
    assert.match(files, /^\/etc\/cloudconnexa-monitor\.json$/m);
    assert.match(files, /LATENCY-LOSS-CONNEXA-REPORT\.json/);
  });
});
