/**
 * Runs the monitor host's user data for real: the text stack/monitor-host.ts
 * renders from stack/monitor-host-bootstrap.sh, under the system sh (dash),
 * as cloud-init runs it, as root, in a scratch root. The scratch root is a
 * chroot in a private mount and PID namespace (root only): the machine's /usr
 * is bound read-only, so the real tools run (sh, awk, node, mtr, mount,
 * timeout) while everything the script writes (/etc/apt, /var/lib, /var/log,
 * /run and its tmpfs, /usr/local/sbin) lands in the scratch root, and the
 * mounts end with the namespace.
 *
 * Stand-ins (./stand-ins) play apt-get, snap, curl, systemctl, sysctl, the
 * AWS CLI, openvpn3 and OpenVPN's openvpn-connector-setup. Each records its
 * arguments and environment and looks through every process's arguments and
 * environment for the token at the moment it runs; after every scenario the
 * whole scratch root, the recorded calls and the script's output are searched
 * for the token, its key part and its file reference.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseResultDocument, RESULT_SCHEMA } from '../../../common/result-schema.ts';
import { SSM_PARAMETERS } from '../../../common/ssm-parameters.ts';
import { buildInvocationRecords } from '../../../functions/logs/records.ts';
import { buildDocument, documentScript } from '../../../ssm/document.ts';
import {
  CONNECTOR_PROFILE_NAME,
  type MonitorHostSettings,
  renderUserData,
  userDataParts,
} from '../../../stack/monitor-host.ts';
import { NODE12 } from '../../helpers/run-agent.ts';

const SKIP = process.getuid?.() === 0 ? false : 'a chroot in a private mount and PID namespace needs root';
const STAND_INS = join(__dirname, 'stand-ins');
const REGION = 'eu-central-1';
const TOKEN_PARAMETER = '/cloudconnexa/connector-token';
const USER_DATA_PATH = '/var/lib/cloud/instance/scripts/part-001';
const STATUS_PATH = '/var/lib/cloudconnexa-monitor/monitor-host-bootstrap.status';
const MARKER_PATH = '/var/lib/cloudconnexa-monitor/connector-enrolled';
const LOG_PATH = '/var/log/cloudconnexa-monitor-bootstrap.log';

const SETTINGS: MonitorHostSettings = {
  tokenParameter: TOKEN_PARAMETER,
  kmsKeyArn: null,
  subnetId: 'subnet-0123456789abcdef0',
  vpcId: 'vpc-0123456789abcdef0',
  instanceType: 't4g.micro',
  imageParameter: '/aws/service/canonical/ubuntu/server/24.04/stable/current/arm64/hvm/ebs-gp3/ami-id',
  routesTraffic: false,
  tagKey: 'CloudConnexaMonitor',
  tagValue: 'enabled',
};

const scratchTop = mkdtempSync(join(tmpdir(), 'ccm-monitor-host-'));

/** A connector token as the portal gives it: a base64 key and a 40-character file reference (openvpn/connector/token.py). */
function makeToken(): { token: string; key: string; fileref: string } {
  const key = randomBytes(33).toString('base64');
  const fileref = randomBytes(20).toString('hex');
  return { token: key + fileref, key, fileref };
}

interface Host {
  /** Holds the chroot root and the directory bound on its /usr/local. */
  scratch: string;
  root: string;
  usrLocal: string;
  token: string;
}

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function write(path: string, text: string, mode = 0o644): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, text);
  chmodSync(path, mode);
}

/** A fresh Ubuntu 24.04 look-alike with the stand-ins installed and the token stored as a SecureString. */
function newHost(
  label: string,
  options: { settings?: MonitorHostSettings; storeToken?: boolean } = {},
): Host {
  const scratch = mkdtempSync(join(scratchTop, `${label}-`));
  const root = join(scratch, 'root');
  const usrLocal = join(scratch, 'usr-local');
  for (const dir of [
    'usr',
    'proc',
    'dev',
    'tmp',
    'run',
    'root',
    'etc/apt/sources.list.d',
    'etc/sysctl.d',
    'var/log',
    'var/lib/cloud/instance/scripts',
    'standins/installed',
    'standins/state/env',
    'standins/state/mode',
    'standins/state/openvpn3',
    'standins/aws/parameters',
  ]) {
    mkdirSync(join(root, dir), { recursive: true });
  }
  mkdirSync(usrLocal);
  writeFileSync(join(root, 'dev', 'null'), '');
  chmodSync(join(root, 'tmp'), 0o1777);
  for (const link of ['bin', 'sbin', 'lib', 'lib64']) {
    if (existsSync(`/${link}`) && lstatSync(`/${link}`).isSymbolicLink()) {
      spawnSync('ln', ['-s', `usr/${link}`, join(root, link)]);
    }
  }
  write(
    join(root, 'etc', 'os-release'),
    'PRETTY_NAME="Ubuntu 24.04.3 LTS"\nNAME="Ubuntu"\nVERSION_ID="24.04"\nVERSION_CODENAME=noble\nID=ubuntu\n',
  );
  // Debian and Ubuntu reach awk (mawk) through /etc/alternatives.
  if (existsSync('/etc/alternatives')) {
    cpSync('/etc/alternatives', join(root, 'etc', 'alternatives'), {
      recursive: true,
      verbatimSymlinks: true,
    });
  }
  cpSync(STAND_INS, join(root, 'standins', 'bin'), { recursive: true });
  rmSync(join(root, 'standins', 'bin', 'packages'), { recursive: true });
  rmSync(join(root, 'standins', 'bin', 'lib.sh'));
  cpSync(join(STAND_INS, 'packages'), join(root, 'standins', 'packages'), { recursive: true });
  cpSync(join(STAND_INS, 'lib.sh'), join(root, 'standins', 'lib.sh'));
  const { token, key, fileref } = makeToken();
  write(join(root, 'standins', 'aws', 'expected-token'), token, 0o600);
  write(join(root, 'standins', 'aws', 'token.patterns'), `${token}\n${key}\n${fileref}\n`, 0o600);
  if (options.storeToken !== false) storeParameter({ root }, 'SecureString', token);
  const userData = renderUserData(userDataParts(options.settings ?? SETTINGS), REGION);
  write(join(root, USER_DATA_PATH), userData, 0o700);
  return { scratch, root, usrLocal, token };
}

function storeParameter(host: Pick<Host, 'root'>, type: string, value: string): void {
  const base = join(
    host.root,
    'standins',
    'aws',
    'parameters',
    ...TOKEN_PARAMETER.split('/').filter(Boolean),
  );
  write(`${base}.type`, `${type}\n`, 0o600);
  write(`${base}.value`, `${value}\n`, 0o600);
}

function setMode(host: Host, tool: string, mode: string | null): void {
  const path = join(host.root, 'standins', 'state', 'mode', tool);
  if (mode === null) rmSync(path, { force: true });
  else writeFileSync(path, mode);
}

/**
 * Runs the user data in the host's chroot, as root, the way cloud-init runs a
 * shell-script user data. `node12`: the Node.js 12.22 test runtime comes first
 * in PATH, the node Ubuntu 22.04's apt installs.
 */
function boot(host: Host, options: { node12?: boolean } = {}): Run {
  const env = Object.entries({
    PATH: `${options.node12 ? '/standins/node12:' : ''}/standins/bin:/standins/installed:/usr/bin:/bin`,
    HOME: '/root',
    CCM_RETRY_SECONDS: '0',
    CCM_CONNECT_WAIT_SECONDS: '10',
  }).map(([k, v]) => `${k}=${v}`);
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const setup = [
    'set -e',
    `mount --bind /usr ${q(join(host.root, 'usr'))}`,
    `mount -o remount,bind,ro ${q(join(host.root, 'usr'))}`,
    `mount --bind ${q(host.usrLocal)} ${q(join(host.root, 'usr', 'local'))}`,
    `mount -t proc proc ${q(join(host.root, 'proc'))}`,
    `mount --bind /dev/null ${q(join(host.root, 'dev', 'null'))}`,
    ...(options.node12
      ? [
          `mkdir -p ${q(join(host.root, 'standins', 'node12'))}`,
          `touch ${q(join(host.root, 'standins', 'node12', 'node'))}`,
          `mount --bind ${q(realpathSync(NODE12))} ${q(join(host.root, 'standins', 'node12', 'node'))}`,
        ]
      : []),
    `exec chroot ${q(host.root)} /usr/bin/env -i ${env.map(q).join(' ')} /bin/sh ${USER_DATA_PATH}`,
  ].join('\n');
  const run = spawnSync(
    'unshare',
    ['--mount', '--pid', '--fork', '--propagation', 'private', 'sh', '-c', setup],
    {
      encoding: 'utf8',
      timeout: 120_000,
    },
  );
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** A reboot empties /run (a tmpfs); the disk stays. */
function reboot(host: Host): void {
  rmSync(join(host.root, 'run'), { recursive: true, force: true });
  mkdirSync(join(host.root, 'run'));
}

function inRoot(host: Host, path: string): string {
  return join(host.root, path);
}

function readIf(path: string): string {
  return existsSync(path) ? readFileSync(path, 'utf8') : '';
}

function calls(host: Host): string[] {
  return readIf(inRoot(host, '/standins/state/calls.log')).split('\n').filter(Boolean);
}

function count(host: Host, file: string): number {
  return readIf(inRoot(host, `/standins/state/${file}`))
    .split('\n')
    .filter(Boolean).length;
}

/** Every regular file under `dir` (no links followed), except AWS's side of the stand-ins. */
function filesUnder(dir: string, skip: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (path === skip) continue;
    if (entry.isDirectory()) found.push(...filesUnder(path, skip));
    else if (entry.isFile()) found.push(path);
  }
  return found;
}

/**
 * The token, its key part and its file reference appear nowhere: not in any
 * file of the scratch root (logs, status, marker, apt sources, the copied
 * script, the stand-ins' records of every call's arguments and environment),
 * not in the script's output, and no stand-in saw them in any process's
 * arguments or environment.
 */
function assertTokenNowhere(host: Host, run: Run): void {
  const key = host.token.slice(0, -40);
  const fileref = host.token.slice(-40);
  const secrets = { token: host.token, 'key part': key, 'file reference': fileref };
  const files = filesUnder(host.scratch, join(host.root, 'standins', 'aws'));
  assert.ok(files.length > 10, `scanned ${files.length} files`);
  for (const file of files) {
    const text = readFileSync(file, 'latin1');
    for (const [what, secret] of Object.entries(secrets)) {
      assert.ok(!text.includes(secret), `the token's ${what} is in ${file.slice(host.root.length)}`);
    }
  }
  for (const [what, secret] of Object.entries(secrets)) {
    assert.ok(
      !run.stdout.includes(secret) && !run.stderr.includes(secret),
      `the token's ${what} is in the output`,
    );
  }
  assert.equal(
    readIf(inRoot(host, '/standins/state/violations')),
    '',
    'a stand-in saw the token in argv or environ',
  );
  assert.ok(calls(host).length > 0, 'the stand-ins recorded their calls');
}

function assertNoSecretLeftover(host: Host): void {
  assert.equal(
    existsSync(inRoot(host, '/run/cloudconnexa-monitor-bootstrap')),
    false,
    'the run directory is removed',
  );
}

const STAND_IN_AGENT = `'use strict';
process.stdout.write(JSON.stringify({ schema: '${RESULT_SCHEMA}', agentVersion: 'stand-in', hostname: 'monitor-host',
  outcome: 'completed', error: null, mtrId: '20260101000000', startedAt: '2026-01-01T00:00:00.000Z',
  finishedAt: '2026-01-01T00:00:01.000Z', timings: { totalMs: 1, probesMs: 1, gatewayDiscoveryMs: 0 }, settings: null,
  summary: { resources: 0, flagged: 0, latencyFlag: false, lossFlag: false, worstLatencyMs: null, worstLossPct: null },
  resources: [], gateway: null, seed: null, files: [], warnings: [], truncated: null }) + '\\n');
`;

/** Runs the fleet's SSM document script against the host's /var/lib/cloudconnexa-monitor, as a round would. */
function fleetRound(host: Host): ReturnType<typeof parseResultDocument> {
  return parseResultDocument(fleetRoundOutput(host));
}

function fleetRoundOutput(host: Host): string {
  const agent = join(host.scratch, 'stand-in-agent.js');
  writeFileSync(agent, STAND_IN_AGENT);
  const script = join(host.scratch, 'run-agent.sh');
  writeFileSync(script, documentScript(buildDocument({ agentPath: agent, executionTimeoutSeconds: 60 })));
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    CCM_CACHE_DIR: inRoot(host, '/var/lib/cloudconnexa-monitor'),
  };
  for (const spec of SSM_PARAMETERS) env[`SSM_${spec.name}`] = spec.default;
  env.SSM_LogDir = join(host.scratch, 'Connexa-Logs');
  const run = spawnSync('/bin/sh', [script], { encoding: 'utf8', env, timeout: 60_000 });
  assert.equal(run.status, 0, run.stderr);
  return run.stdout;
}

describe('monitor host bootstrap (user data) in a scratch root', { skip: SKIP }, () => {
  after(() => rmSync(scratchTop, { recursive: true, force: true }));

  it('first boot: installs node, mtr, the AWS CLI and OpenVPN 3 from its repository, hands the token to the setup tool on stdin, enrols once', () => {
    // Prepare
    const host = newHost('first-boot');
    // Act
    const run = boot(host);
    // Assess
    assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
    assert.match(run.stdout, /done: enrolled as a CloudConnexa connector \(profile CloudConnexa\)/);
    const log = calls(host);
    const index = (pattern: RegExp) => log.findIndex((line) => pattern.test(line));
    const order = [
      /^apt-get .*\[update\]/,
      /^apt-get .*\[install\] \[--no-install-recommends\] \[nodejs\] \[mtr-tiny\]$/,
      /^snap \[wait\] \[system\] \[seed\.loaded\]$/,
      /^snap \[install\] \[aws-cli\] \[--classic\]$/,
      /^curl .*\[https:\/\/packages\.openvpn\.net\/packages-repo\.gpg\]$/,
      /^apt-get .*\[install\] \[openvpn3\] \[python3-openvpn-connector-setup\]$/,
      /^openvpn3 \[configs-list\] \[--json\]$/,
      /^aws .*\[--query\] \[Parameter\.Type\]/,
      /^aws .*\[--with-decryption\] \[--query\] \[Parameter\.Value\]/,
      /^openvpn-connector-setup \[--name\] \[CloudConnexa\]$/,
      /^openvpn3 \[sessions-list\]$/,
    ].map(index);
    assert.ok(
      order.every((at, i) => at >= 0 && (i === 0 || at > (order[i - 1] ?? -1))),
      `calls in order ${order.join(', ')}:\n${log.join('\n')}`,
    );
    assert.ok(
      log.some((l) => l.includes(`[--region] [${REGION}] [--name] [${TOKEN_PARAMETER}]`)),
      'reads the stack parameter in the stack region',
    );
    assert.ok(
      log.filter((l) => l.startsWith('apt-get')).every((l) => l.includes('[DPkg::Lock::Timeout=600]')),
      'apt waits for the dpkg lock unattended-upgrades holds at first boot',
    );
    assert.equal(
      readIf(inRoot(host, '/etc/apt/sources.list.d/openvpn3.list')),
      'deb [signed-by=/etc/apt/keyrings/openvpn.asc] https://packages.openvpn.net/openvpn3/debian noble main\n',
    );
    assert.equal(
      statSync(inRoot(host, '/etc/apt/keyrings/openvpn.asc')).mode & 0o777,
      0o644,
      'apt (_apt) can read the key',
    );
    assert.equal(count(host, 'token-uses'), 1);
    assert.equal(count(host, 'token-reads'), 1);
    assert.match(readIf(inRoot(host, MARKER_PATH)), /^enrolled=.*\nprofile=CloudConnexa\nhow=token\n$/);
    assert.equal(existsSync(inRoot(host, STATUS_PATH)), false, 'no status left: rounds measure');
    assert.equal(statSync(inRoot(host, LOG_PATH)).mode & 0o777, 0o600, 'the log is root-only');
    assert.equal(statSync(inRoot(host, '/var/lib/cloudconnexa-monitor')).mode & 0o777, 0o700);
    assert.ok(
      readIf(join(host.usrLocal, 'sbin', 'cloudconnexa-monitor-bootstrap')).startsWith('#!/bin/sh\n'),
      'kept for re-runs',
    );
    assert.ok(!log.some((l) => l.startsWith('sysctl')), 'no forwarding unless the connector routes traffic');
    assert.match(
      readIf(inRoot(host, LOG_PATH)),
      /Enter setup token: \nDownloading CloudConnexa Connector profile \.\.\. Done\nImporting VPN configuration profile "CloudConnexa" \.\.\. Done/,
      "the setup tool's output is in the log",
    );
    assertNoSecretLeftover(host);
    assertTokenNowhere(host, run);
    // The fleet's next round measures: nothing left for the SSM script to report.
    assert.equal(fleetRound(host).outcome, 'completed');
  });

  it('reboot and re-run: leaves the enrolled connector alone and never reads or uses the token again', () => {
    // Prepare
    const host = newHost('reboot');
    assert.equal(boot(host).status, 0);
    const callsBefore = calls(host).length;
    // Act: a reboot, then a second run of the user data (cloud-init clean, or an admin), then a third.
    reboot(host);
    const second = boot(host);
    const third = boot(host);
    // Assess
    for (const run of [second, third]) {
      assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
      assert.match(run.stdout, /already enrolled \(enrolled=.* how=token \): the token is not read again/);
    }
    assert.equal(count(host, 'token-uses'), 1, 'the token was used once');
    assert.equal(count(host, 'token-reads'), 1, 'the token was read once');
    const later = calls(host).slice(callsBefore);
    assert.deepEqual(
      later.filter((l) => !l.startsWith('openvpn3 [configs-list] [--json]')),
      [],
      `only the profile check ran again: ${later.join('\n')}`,
    );
    assert.ok(!later.some((l) => l.startsWith('systemctl')), 'the running connector is not restarted');
    assertTokenNowhere(host, third);
  });

  it('a run that imported the profile but died before its marker adopts the profile without reading the token (under Node.js 12.22)', () => {
    // Prepare: enrolled, then the marker lost (the run killed right after the setup tool).
    assert.ok(existsSync(NODE12), 'the Node.js 12.22 test runtime is installed (npm test installs it)');
    const host = newHost('adopt');
    assert.equal(boot(host, { node12: true }).status, 0);
    rmSync(inRoot(host, MARKER_PATH));
    // Act
    const run = boot(host, { node12: true });
    // Assess
    assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
    assert.match(run.stdout, /profile CloudConnexa already imported: adopting it without reading the token/);
    assert.equal(count(host, 'token-uses'), 1);
    assert.equal(count(host, 'token-reads'), 1);
    assert.ok(calls(host).includes('systemctl [enable] [--now] [openvpn3-session@CloudConnexa.service]'));
    assert.match(readIf(inRoot(host, MARKER_PATH)), /how=existing-profile/);
    assertTokenNowhere(host, run);
  });

  it('marker lost and openvpn3 unable to list profiles: the setup tool refuses the existing profile before using the token', () => {
    // Prepare
    const host = newHost('no-list');
    assert.equal(boot(host).status, 0);
    rmSync(inRoot(host, MARKER_PATH));
    setMode(host, 'openvpn3', 'broken');
    // Act
    const run = boot(host);
    // Assess: a clear failure, the working profile untouched, the token not used a second time.
    assert.equal(run.status, 1);
    assert.match(run.stdout, /warning: openvpn3 could not list its profiles/);
    assert.match(
      run.stderr,
      /openvpn-connector-setup exited 3: \*\* ERROR \*\* {2}Configuration profile name "CloudConnexa" already exists/,
    );
    assert.equal(count(host, 'token-uses'), 1);
    assert.ok(existsSync(inRoot(host, '/standins/state/openvpn3/CloudConnexa.profile')));
    assertNoSecretLeftover(host);
    assertTokenNowhere(host, run);
  });

  it('token parameter missing: fails clearly, in the console, the log and the fleet round; works once the parameter exists', () => {
    // Prepare
    const host = newHost('missing', { storeToken: false });
    // Act
    const run = boot(host);
    // Assess
    assert.equal(run.status, 1);
    const expected = new RegExp(
      `FAILED at step "reading the connector token \\(${TOKEN_PARAMETER}\\)"[^]*the parameter ${TOKEN_PARAMETER} does not exist in ${REGION}`,
    );
    assert.match(
      run.stderr,
      /\*\*\* CLOUDCONNEXA MONITOR HOST BOOTSTRAP FAILED at step "reading the connector token/,
    );
    assert.match(
      run.stderr,
      /aws ssm put-parameter --region eu-central-1 --name \/cloudconnexa\/connector-token --type SecureString/,
    );
    assert.match(readIf(inRoot(host, LOG_PATH)), /BOOTSTRAP FAILED/);
    assert.match(readIf(inRoot(host, STATUS_PATH)), expected);
    assert.equal(count(host, 'token-uses'), 0, 'the setup tool never ran');
    assert.equal(existsSync(inRoot(host, MARKER_PATH)), false);
    assertNoSecretLeftover(host);
    // The host's log stream: every round reports the failure instead of measuring without a connector.
    const stdout = fleetRoundOutput(host);
    const doc = parseResultDocument(stdout);
    assert.equal(doc.outcome, 'environment');
    assert.equal(doc.error?.code, 'E_MONITOR_HOST_SETUP');
    assert.match(doc.error?.message ?? '', expected);
    // ... and the collector writes it to the host's stream as its failure record for the round.
    const written = buildInvocationRecords(
      {
        instanceId: 'i-0123456789abcdef0',
        commandId: 'c-1',
        roundId: 'r-1',
        status: 'Success',
        responseCode: 0,
        stdout,
        stderr: '',
        sentResources: null,
      },
      'record-1',
      Date.now(),
    );
    assert.equal(written.outcome.kind, 'failed');
    assert.equal(written.events.length, 1);
    const record = JSON.parse(written.events[0]?.message ?? '{}') as {
      record: string;
      error: { code: string; message: string };
    };
    assert.equal(record.record, 'failure');
    assert.equal(record.error.code, 'E_MONITOR_HOST_SETUP');
    assert.match(record.error.message, expected);
    assertTokenNowhere(host, run);
    // Act again: the user creates the parameter (with a final newline, as `--value
    // file:///dev/stdin` after Enter stores it) and re-runs the kept script.
    storeParameter(host, 'SecureString', `${host.token}\n`);
    const retry = boot(host);
    assert.equal(retry.status, 0, `${retry.stdout}\n${retry.stderr}`);
    assert.equal(count(host, 'token-uses'), 1);
    assert.equal(existsSync(inRoot(host, STATUS_PATH)), false);
    assert.equal(fleetRound(host).outcome, 'completed');
    assertTokenNowhere(host, retry);
  });

  it('token unreadable: the role may not read or decrypt it, or it is not a SecureString, or not a token', () => {
    const cases: [string, (host: Host) => void, RegExp][] = [
      [
        'denied',
        (host) => setMode(host, 'aws', 'denied'),
        /the instance may not read the type of \/cloudconnexa\/connector-token \(aws exited 254: .*AccessDeniedException/,
      ],
      [
        'kms-denied',
        (host) => setMode(host, 'aws', 'kms-denied'),
        /the instance may not read and decrypt \/cloudconnexa\/connector-token .*AWSKMS.*connectorTokenKmsKeyArn/,
      ],
      [
        'plain-string',
        (host) => storeParameter(host, 'String', host.token),
        /\/cloudconnexa\/connector-token is a String parameter, not a SecureString, so it was not used/,
      ],
      [
        'not-a-token',
        (host) => storeParameter(host, 'SecureString', 'paste the token here'),
        /is not a connector token \(one line of at least 41 characters.*\); the value is not shown/,
      ],
    ];
    for (const [label, arrange, expected] of cases) {
      // Prepare
      const host = newHost(label);
      arrange(host);
      // Act
      const run = boot(host);
      // Assess
      assert.equal(run.status, 1, `${label}: ${run.stdout}\n${run.stderr}`);
      assert.match(run.stderr, expected, label);
      assert.match(readIf(inRoot(host, STATUS_PATH)), expected, label);
      assert.equal(count(host, 'token-uses'), 0, `${label}: the setup tool never ran`);
      assert.equal(existsSync(inRoot(host, MARKER_PATH)), false, label);
      assert.equal(fleetRound(host).error?.code, 'E_MONITOR_HOST_SETUP', label);
      assertNoSecretLeftover(host);
      assertTokenNowhere(host, run);
    }
  });

  it("connector setup failing: a clear failure with the tool's error, the download URL's token part redacted", () => {
    // Prepare
    const host = newHost('setup-fails');
    setMode(host, 'setup', 'download-fails');
    // Act
    const run = boot(host);
    // Assess
    assert.equal(run.status, 1, `${run.stdout}\n${run.stderr}`);
    const expected =
      /openvpn-connector-setup exited 5: \*\* ERROR \*\* HTTP Error 404: Not Found .*create a new one in the CloudConnexa portal/;
    assert.match(run.stderr, expected);
    assert.match(readIf(inRoot(host, STATUS_PATH)), expected);
    assert.match(
      readIf(inRoot(host, LOG_PATH)),
      /URL: https:\/\/network-management-gw\.openvpn\.com\/network-gate\/api\/v1\/profiles\/\[redacted\]/,
      "the tool's output is logged with the token's file reference redacted",
    );
    assert.equal(count(host, 'token-uses'), 1);
    assert.equal(existsSync(inRoot(host, MARKER_PATH)), false);
    const doc = fleetRound(host);
    assert.equal(doc.error?.code, 'E_MONITOR_HOST_SETUP');
    assert.match(doc.error?.message ?? '', expected);
    assertNoSecretLeftover(host);
    assertTokenNowhere(host, run);
  });

  it('package installation failing: a clear failure before the token is read', () => {
    const host = newHost('apt-fails');
    setMode(host, 'apt', 'fail');
    const run = boot(host);
    assert.equal(run.status, 1);
    assert.match(run.stderr, /FAILED at step "installing node and mtr for the monitor \(apt-get\)"/);
    assert.match(
      run.stdout,
      /E: Unable to locate package nodejs/,
      'the last lines of apt output are on the console',
    );
    assert.equal(count(host, 'token-reads'), 0);
    assert.ok(!calls(host).some((l) => l.startsWith('aws')), 'the parameter is never read');
    assert.match(fleetRound(host).error?.message ?? '', /FAILED at step "installing node and mtr/);
    assertTokenNowhere(host, run);
  });

  it('monitorHostRoutesTraffic=true turns IP forwarding on for a connector that routes a network', () => {
    const host = newHost('routes', { settings: { ...SETTINGS, routesTraffic: true } });
    const run = boot(host);
    assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
    assert.equal(
      readIf(inRoot(host, '/etc/sysctl.d/60-cloudconnexa-connector.conf')),
      'net.ipv4.ip_forward = 1\nnet.ipv6.conf.all.forwarding = 1\n',
    );
    assert.ok(calls(host).includes('sysctl [-p] [/etc/sysctl.d/60-cloudconnexa-connector.conf]'));
    assertTokenNowhere(host, run);
  });

  it('imports the profile under the name the setup tool documents, which the agent recognises as CloudConnexa', async () => {
    const { isCloudConnexaSession } = await import('../../../agent/gateway/parse-openvpn3.ts');
    assert.equal(CONNECTOR_PROFILE_NAME, 'CloudConnexa');
    const session = {
      path: '/net/openvpn/v3/sessions/x',
      configName: CONNECTOR_PROFILE_NAME,
      sessionName: null,
      connectedTo: null,
      status: 'Connection, Client connected',
      device: 'tun0',
      owner: 'root',
      pid: 1,
    };
    assert.equal(isCloudConnexaSession(session), true);
  });
});
