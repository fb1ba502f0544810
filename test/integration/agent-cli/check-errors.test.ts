/**
 * Every way a round can fail, exercised through the bundle with real stand-in
 * executables on PATH: the exit code, the result document and what is (not) written.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isPrintable } from '../../../common/printable.ts';
import { parseResultDocument } from '../../../common/result-schema.ts';
import { halfwayMs } from '../../helpers/deadline.ts';
import { roundLockExists, roundLockPath } from '../../helpers/round-lock.ts';
import { AGENT, ROOT, runAgent, shQuote, standInBin, tempDir } from '../../helpers/run-agent.ts';
import { runAgentWithoutSystemTools, WITHOUT_SYSTEM_TOOLS_SKIP } from '../../helpers/without-system-tools.ts';

const FAST = ['--count', '2', '--interval', '0.2'];
const MTR_PATH = '/usr/bin';

describe('agent check: invalid input is rejected with exit 2 before anything runs', () => {
  let dir: ReturnType<typeof tempDir>;
  before(() => {
    dir = tempDir('agent-input-');
  });
  after(() => dir.cleanup());

  const cases: [string, string[], RegExp][] = [
    [
      'a shell metacharacter in a resource',
      ['--resources', '10.0.0.1;reboot'],
      /--resources "10\.0\.0\.1;reboot" is not allowed/,
    ],
    ['a command substitution', ['--resources', '$(id)'], /--resources "\$\(id\)" is not allowed/],
    ['a resource that looks like an option', ['--resources', '-x'], /--resources "-x" is not allowed/],
    ['an empty item', ['--resources', '127.0.0.1,,127.0.0.2'], /empty item/],
    [
      '300 items',
      [
        '--resources',
        Array.from({ length: 300 }, (_, i) => `10.1.${Math.floor(i / 250)}.${i % 250}`).join(','),
      ],
      /300 items.*at most 50/,
    ],
    [
      'a 2,000-character name',
      ['--resources', `${'a'.repeat(2000)}.example`],
      /2008 characters\).*at most 512/,
    ],
    [
      'a non-numeric threshold',
      ['--resources', '127.0.0.1', '--latency-threshold', 'fast'],
      /--latency-threshold "fast" is not allowed: a number from 0\.1 to 60000/,
    ],
    [
      'a count out of range',
      ['--resources', '127.0.0.1', '--count', '0'],
      /--count "0" is not allowed: an integer from 1 to 500/,
    ],
    ['an unknown loss rule', ['--resources', '127.0.0.1', '--loss-rule', 'median'], /persistent, any-hop/],
    ['an unknown option', ['--resources', '127.0.0.1', '--colour'], /option "--colour" is not allowed/],
    [
      'a gateway that is not an IP',
      ['--resources', '127.0.0.1', '--gateway-ip', 'gw.example'],
      /--gateway-ip "gw\.example"/,
    ],
    ['a missing value', ['--resources'], /--resources \(missing\) is not allowed: a value after the option/],
  ];
  for (const [what, args, message] of cases) {
    it(`rejects ${what}`, () => {
      const logDir = join(dir.path, 'never-created');
      const run = runAgent(['check', '--json', '--log-dir', logDir, ...args]);
      assert.equal(run.status, 2, run.stdout + run.stderr);
      const doc = parseResultDocument(run.stdout);
      assert.equal(doc.outcome, 'invalid-input');
      assert.equal(doc.error?.code, 'E_INVALID_INPUT');
      assert.match(doc.error?.message ?? '', message);
      assert.equal(existsSync(logDir), false, 'nothing ran: the log dir was not even created');
    });
  }

  it('shows a refused value on the terminal with its control characters escaped', () => {
    // A C1 CSI (clears the screen on many terminals) and a right-to-left override; JSON quoting
    // alone leaves both raw.
    const run = runAgent(['check', '--resources', '10.0.0.1\u009b2J\u202ecom', '--log-dir', dir.path]);
    assert.equal(run.status, 2, run.stderr);
    assert.equal(run.stdout, '');
    assert.match(run.stderr, /^error: --resources "10\.0\.0\.1\\x9b2J\\u202ecom" is not allowed/);
    for (const line of run.stderr.split('\n')) assert.ok(isPrintable(line), JSON.stringify(line));
  });

  it('without a command says which commands exist, and --help shows the usage', () => {
    const bare = runAgent([]);
    assert.equal(bare.status, 2);
    assert.equal(bare.stdout, '');
    assert.match(
      bare.stderr,
      /^error: command \(missing\) is not allowed: check, watch, report, install or uninstall \(see --help\)\n$/,
    );
    const help = runAgent(['--help']);
    assert.equal(help.status, 0);
    assert.match(help.stdout, /^Usage:\n {2}node agent\.js check --resources <list> \[options\]/m);
  });

  it('without --json says what is wrong on stderr', () => {
    const run = runAgent(['check', '--resources', '$(id)']);
    assert.equal(run.status, 2);
    assert.equal(run.stdout, '');
    assert.match(
      run.stderr,
      /^error: --resources "\$\(id\)" is not allowed: an IPv4 or IPv6 address, a DNS host name, or an http\(s\):\/\/ URL\n$/,
    );
  });

  it('reads every option from a --config file, and flags win over it', () => {
    const config = join(dir.path, 'config.json');
    writeFileSync(
      config,
      JSON.stringify({
        resources: ['127.0.0.1'],
        count: 2,
        interval: 0.2,
        'log-dir': join(dir.path, 'from-config'),
      }),
    );
    const run = runAgent(['check', '--json', '--config', config, '--latency-threshold', '500']);
    assert.equal(run.status, 0, run.stderr);
    const doc = parseResultDocument(run.stdout);
    assert.equal(doc.settings?.count, 2);
    assert.equal(doc.settings?.latencyThresholdMs, 500);
    assert.ok(existsSync(join(dir.path, 'from-config', 'LATENCY-LOSS-CONNEXA-REPORT.json')));
  });

  it('rejects an unknown config key naming it and the allowed keys', () => {
    const config = join(dir.path, 'bad-config.json');
    writeFileSync(config, JSON.stringify({ resources: '127.0.0.1', thresholds: 5 }));
    const run = runAgent(['check', '--json', '--config', config]);
    assert.equal(run.status, 2);
    assert.match(
      parseResultDocument(run.stdout).error?.message ?? '',
      /config key "thresholds" is not allowed: one of resources, count/,
    );
  });
});

describe('agent check: environment problems exit 3 with a result document', () => {
  let dir: ReturnType<typeof tempDir>;
  before(() => {
    dir = tempDir('agent-env-');
  });
  after(() => dir.cleanup());

  it('mtr in a system directory the PATH lacks (cron gives /usr/bin:/bin) is still found', () => {
    const run = runAgent(
      ['check', '--json', '--resources', '127.0.0.1', '--log-dir', join(dir.path, 'a0'), ...FAST],
      {
        env: { PATH: standInBin(join(dir.path, 'empty'), {}) },
      },
    );
    assert.equal(run.status, 0, run.stderr);
    const doc = parseResultDocument(run.stdout);
    assert.equal(doc.outcome, 'completed');
    assert.equal(doc.resources[0]?.method, 'icmp');
    assert.equal(doc.resources[0]?.verdict, 'ok');
  });

  it('mtr missing from PATH and every system directory', { skip: WITHOUT_SYSTEM_TOOLS_SKIP }, () => {
    const run = runAgentWithoutSystemTools(
      ['check', '--json', '--resources', '127.0.0.1', '--log-dir', join(dir.path, 'a'), ...FAST],
      { scratch: dir.path, env: { PATH: standInBin(join(dir.path, 'empty'), {}) } },
    );
    assert.equal(run.status, 3, run.stderr);
    const doc = parseResultDocument(run.stdout);
    assert.equal(doc.outcome, 'environment');
    assert.equal(doc.error?.code, 'E_MTR_MISSING');
    assert.match(doc.error?.message ?? '', /install mtr-tiny/);
  });

  it('mtr refusing for lack of permission carries mtr own words', () => {
    const bin = standInBin(join(dir.path, 'perm'), {
      mtr: '#!/bin/sh\nif [ "$1" = "--version" ]; then echo "mtr 0.95"; exit 0; fi\necho "mtr: Failure to open IPv4 sockets: Operation not permitted" >&2\nexit 1\n',
    });
    const run = runAgent(
      ['check', '--json', '--resources', '127.0.0.1', '--log-dir', join(dir.path, 'b'), ...FAST],
      {
        env: { PATH: `${bin}:${process.env.PATH}` },
      },
    );
    assert.equal(run.status, 3, run.stderr);
    const doc = parseResultDocument(run.stdout);
    assert.equal(doc.error?.code, 'E_MTR_PERMISSION');
  });

  it('mtr present but broken (`mtr --version` fails) is the environment: exit 3, with the evidence', () => {
    const bin = standInBin(join(dir.path, 'broken'), {
      mtr: '#!/bin/sh\necho "mtr: error while loading shared libraries: libncursesw.so.6" >&2\nexit 127\n',
    });
    const run = runAgent(
      ['check', '--json', '--resources', '127.0.0.1', '--log-dir', join(dir.path, 'c'), ...FAST],
      { env: { PATH: `${bin}:${process.env.PATH}` } },
    );
    assert.equal(run.status, 3, run.stderr);
    const doc = parseResultDocument(run.stdout);
    assert.equal(doc.outcome, 'environment');
    assert.equal(doc.error?.code, 'E_MTR_FAILED');
    assert.match(doc.error?.message ?? '', /--version" exited with 127/);
    assert.deepEqual([doc.error?.command?.at(-1), doc.error?.exitCode], ['--version', 127]);
    assert.match(doc.error?.stderr ?? '', /libncursesw\.so\.6/);
  });

  it('a log dir that cannot be created names the directory', () => {
    const file = join(dir.path, 'a-file');
    writeFileSync(file, '');
    const run = runAgent([
      'check',
      '--json',
      '--resources',
      '127.0.0.1',
      '--log-dir',
      join(file, 'logs'),
      ...FAST,
    ]);
    assert.equal(run.status, 3);
    const doc = parseResultDocument(run.stdout);
    assert.equal(doc.error?.code, 'E_LOG_DIR');
    assert.ok(doc.error?.message.includes(join(file, 'logs')), doc.error?.message);
  });
});

describe('agent check: a failing path is reported, the round still completes', () => {
  let dir: ReturnType<typeof tempDir>;
  before(() => {
    dir = tempDir('agent-mtrfail-');
  });
  after(() => dir.cleanup());

  const standIns: [string, string, string, string][] = [
    ['mtr exiting non-zero', 'echo "mtr: unexpected packet" >&2; exit 1', 'E_MTR_FAILED', 'mtr-failed'],
    ['mtr printing malformed JSON', 'echo "{ \\"report\\": [ truncated"', 'E_MTR_OUTPUT', 'mtr-output'],
  ];
  for (const [what, body, code, reason] of standIns) {
    it(`${what}: unmeasured (${reason}) and flagged, with the evidence, in the document and the seed line`, () => {
      const bin = standInBin(join(dir.path, code), {
        mtr: `#!/bin/sh\nif [ "$1" = "--version" ]; then echo "mtr 0.95"; exit 0; fi\n${body}\n`,
      });
      const logDir = join(dir.path, `${code}-logs`);
      const run = runAgent(['check', '--json', '--resources', '127.0.0.1', '--log-dir', logDir, ...FAST], {
        env: { PATH: `${bin}:${MTR_PATH}:/bin` },
      });
      assert.equal(run.status, 0, run.stderr);
      const doc = parseResultDocument(run.stdout);
      const [resource] = doc.resources;
      assert.equal(resource?.verdict, 'unmeasured');
      assert.equal(resource?.unmeasured?.reason, reason);
      assert.equal(resource?.unmeasured?.detail, resource?.errors[0]?.message);
      assert.equal(resource?.lossFlag, true);
      assert.equal(resource?.lossPct, 100);
      assert.equal(resource?.errors[0]?.code, code);
      if (code === 'E_MTR_FAILED') {
        const evidence = resource?.errors[0];
        assert.ok(evidence?.command?.includes('--json'), 'the command is part of the evidence');
        assert.equal(evidence?.exitCode, 1);
        assert.match(evidence?.stderr ?? '', /unexpected packet/);
      }
      assert.deepEqual([doc.summary.flagged, doc.summary.lossFlag, doc.summary.worstLossPct], [1, true, 100]);
      assert.ok(doc.warnings.some((w) => w.startsWith(`127.0.0.1: not measured (${reason}), flagged:`)));
      const lines = readFileSync(join(logDir, 'LATENCY-LOSS-CONNEXA-REPORT.json'), 'utf8').trim().split('\n');
      assert.equal(lines.length, 1);
      const seed = JSON.parse(lines[0] ?? '') as Record<string, string>;
      assert.deepEqual([seed.LOSS_FLAG, seed['HOP_LOSS_(%)']], ['1', '100.0']);
      assert.equal(seed['MTR-ID_(YYYYMMDDHHMMSS)'], doc.mtrId);
      assert.ok(!readdirSync(logDir).some((name) => name.startsWith('MTR-RESOURCE-')), 'no path, no section');
    });
  }

  it('a hanging mtr is killed at its deadline and reported as E_MTR_TIMEOUT', () => {
    const bin = standInBin(join(dir.path, 'hang'), {
      mtr: '#!/bin/sh\nif [ "$1" = "--version" ]; then echo "mtr 0.95"; exit 0; fi\nexec sleep 600\n',
    });
    const run = runAgent(
      [
        'check',
        '--json',
        '--resources',
        '127.0.0.1',
        '--count',
        '1',
        '--interval',
        '0.2',
        '--log-dir',
        join(dir.path, 'hang-logs'),
      ],
      {
        env: { PATH: `${bin}:/bin` },
        timeoutMs: 60_000,
      },
    );
    assert.equal(run.status, 0, run.stderr);
    const doc = parseResultDocument(run.stdout);
    assert.equal(doc.resources[0]?.errors[0]?.code, 'E_MTR_TIMEOUT');
  });
});

describe('agent check: rounds never overlap', () => {
  let dir: ReturnType<typeof tempDir>;
  before(() => {
    dir = tempDir('agent-lock-');
  });
  after(() => dir.cleanup());

  it('a second round while one runs exits 4 naming the holder; the first completes', async () => {
    const logDir = join(dir.path, 'logs');
    // The first round's mtr is a stand-in that answers only once the test says so, so the second
    // round meets the lock however long the machine takes to start it. The agent hands mtr only
    // PATH and the locale (agent/process/child-env.ts): the paths are written into the script.
    const release = join(dir.path, 'release-first-round');
    const loopbackJson = join(ROOT, 'test', 'fixtures', 'mtr', 'mtr095-loopback-v4.json');
    const bin = standInBin(join(dir.path, 'held'), {
      mtr: [
        '#!/bin/sh',
        'if [ "$1" = "--version" ]; then echo "mtr 0.95"; exit 0; fi',
        `while [ ! -e ${shQuote(release)} ]; do sleep 0.05; done`,
        `cat ${shQuote(loopbackJson)}`,
        '',
      ].join('\n'),
    });
    const first = spawn(
      process.execPath,
      [AGENT, 'check', '--json', '--resources', '127.0.0.1', '--log-dir', logDir, ...FAST],
      { env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } },
    );
    let firstOut = '';
    first.stdout.on('data', (chunk: Buffer) => {
      firstOut += chunk.toString();
    });
    const firstExit = new Promise<number | null>((resolve) => first.on('exit', resolve));
    await waitFor(() => roundLockExists(logDir));

    const second = runAgent(['check', '--json', '--resources', '127.0.0.1', '--log-dir', logDir, ...FAST]);

    assert.equal(second.status, 4);
    const doc = parseResultDocument(second.stdout);
    assert.equal(doc.outcome, 'busy');
    assert.match(doc.error?.message ?? '', new RegExp(`held by pid ${first.pid}`));
    writeFileSync(release, '');
    assert.equal(await firstExit, 0);
    assert.equal(parseResultDocument(firstOut).outcome, 'completed');
    assert.equal(roundLockExists(logDir), false, 'the lock is released');
  });

  it('SIGTERM during a round stops it, kills its mtr and releases the lock', async () => {
    const logDir = join(dir.path, 'term');
    const child = spawn(process.execPath, [
      AGENT,
      'check',
      '--json',
      '--resources',
      '127.0.0.1',
      '--count',
      '500',
      '--interval',
      '0.2',
      '--log-dir',
      logDir,
    ]);
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    const exit = new Promise<number | null>((resolve) =>
      child.on('close', (code, signal) => resolve(code ?? (signal ? -1 : null))),
    );
    // Stopped while its mtr and mtr-packet run (not after a guessed delay), so there is something to kill.
    let probes: number[] = [];
    await waitFor(() => {
      const mtrs = childrenOf(child.pid ?? -1, 'mtr');
      probes = [...mtrs, ...mtrs.flatMap((pid) => childrenOf(pid, 'mtr-packet'))];
      return probes.length >= 2;
    });
    child.kill('SIGTERM');
    assert.equal(await exit, 143);
    assert.equal(roundLockExists(logDir), false);
    const doc = parseResultDocument(stdout);
    assert.equal(doc.outcome, 'internal-error');
    assert.match(doc.error?.message ?? '', /stopped by SIGTERM/);
    // Left alone, mtr would run its 500 probes for 100 s.
    await waitFor(() => probes.every((pid) => !isLive(pid)), halfwayMs(0, 100_000));
    assert.deepEqual(probes.filter(isLive), [], 'the round left its probes running');
  });

  it('a lock left by a killed round is recovered by the next round', () => {
    const logDir = join(dir.path, 'stale');
    mkdirSync(logDir, { recursive: true });
    const lock = roundLockPath(logDir) ?? '';
    mkdirSync(dirname(lock), { recursive: true, mode: 0o700 });
    writeFileSync(
      lock,
      JSON.stringify({
        pid: 999_999,
        startedAt: new Date().toISOString(),
        hostname: hostname(),
        procStart: null,
      }),
    );
    const run = runAgent(['check', '--json', '--resources', '127.0.0.1', '--log-dir', logDir, ...FAST]);
    assert.equal(run.status, 0, run.stdout);
    assert.equal(existsSync(lock), false);
  });
});

describe('agent check: failures after or during probing', () => {
  let dir: ReturnType<typeof tempDir>;
  before(() => {
    dir = tempDir('agent-late-');
  });
  after(() => dir.cleanup());

  it('a report file that cannot be written exits 3 but keeps every measurement in the document', () => {
    const logDir = join(dir.path, 'eisdir');
    // A directory where the report file should be: every append fails, as a root-owned
    // file left by the old script would for an agent running as another user.
    mkdirSync(join(logDir, 'LATENCY-LOSS-CONNEXA-REPORT.json'), { recursive: true });
    const run = runAgent(['check', '--json', '--resources', '127.0.0.1,::1', '--log-dir', logDir, ...FAST]);
    assert.equal(run.status, 3, run.stderr);
    const doc = parseResultDocument(run.stdout);
    assert.equal(doc.outcome, 'environment');
    assert.equal(doc.error?.code, 'E_LOG_DIR');
    assert.match(
      doc.error?.message ?? '',
      /LATENCY-LOSS-CONNEXA-REPORT\.json is a directory; refusing to append to it/,
    );
    assert.deepEqual(
      doc.resources.map((r) => r.verdict),
      ['ok', 'ok'],
    );
    assert.equal(doc.seed?.LATENCY_FLAG, '0');
  });

  it('mtr refused on one path stops the round at once, taking the other probes down', () => {
    const bin = standInBin(join(dir.path, 'mixed'), {
      mtr: [
        '#!/bin/sh',
        'if [ "$1" = "--version" ]; then echo "mtr 0.95"; exit 0; fi',
        'for last; do :; done',
        'if [ "$last" = "127.0.0.2" ]; then echo "mtr-packet: Failure to open IPv4 sockets: Permission denied" >&2; exit 1; fi',
        'exec sleep 60',
        '',
      ].join('\n'),
    });
    const run = runAgent(
      ['check', '--json', '--resources', '127.0.0.1,127.0.0.2', '--log-dir', join(dir.path, 'm'), ...FAST],
      {
        env: { PATH: `${bin}:/bin` },
      },
    );
    assert.equal(run.status, 3, run.stderr);
    assert.equal(parseResultDocument(run.stdout).error?.code, 'E_MTR_PERMISSION');
    // The other probe's stand-in sleeps 60 s: a round that waited for it would end after that.
    assert.ok(
      run.durationMs < halfwayMs(0, 60_000),
      `the round ended in ${run.durationMs} ms, when the other probe's stand-in finished`,
    );
  });

  it('watch --rounds reports the exit code of its last round', { skip: WITHOUT_SYSTEM_TOOLS_SKIP }, () => {
    const bin = standInBin(join(dir.path, 'empty-path'), {});
    const run = runAgentWithoutSystemTools(
      [
        'watch',
        '--json',
        '--every',
        '0.01',
        '--rounds',
        '1',
        '--resources',
        '127.0.0.1',
        '--log-dir',
        join(dir.path, 'w'),
      ],
      { scratch: dir.path, env: { PATH: bin } },
    );
    assert.equal(run.status, 3);
    assert.equal(parseResultDocument(run.stdout).error?.code, 'E_MTR_MISSING');
  });
});

describe('agent check: gateway discovery through OpenVPN 3', () => {
  let dir: ReturnType<typeof tempDir>;
  before(() => {
    dir = tempDir('agent-ovpn3-');
  });
  after(() => dir.cleanup());

  it('finds the gateway from `openvpn3 sessions-list` (v24 Connected to) and runs mtr towards it', () => {
    const list = [
      '-'.repeat(77),
      '        Path: /net/openvpn/v3/sessions/abc123',
      '     Created: Mon Dec 12 16:40:02 2022                  PID: 147527',
      '       Owner: root                                   Device: tun0',
      ' Config name: CloudConnexa',
      'Connected to: udp:127.0.0.9:1194',
      '      Status: Connection, Client connected',
      '-'.repeat(77),
    ].join('\n');
    const listFile = join(dir.path, 'list.txt');
    writeFileSync(listFile, `${list}\n`);
    const bin = standInBin(join(dir.path, 'v24'), { openvpn3: `#!/bin/sh\ncat ${listFile}\n` });
    const run = runAgent(
      ['check', '--json', '--resources', '127.0.0.1', '--log-dir', join(dir.path, 'logs'), ...FAST],
      {
        env: { PATH: `${bin}:${process.env.PATH}` },
      },
    );
    assert.equal(run.status, 0, run.stderr);
    const doc = parseResultDocument(run.stdout);
    assert.equal(doc.gateway?.ip, '127.0.0.9');
    assert.equal(doc.gateway?.source, 'openvpn3');
    assert.equal(doc.gateway?.hops?.at(-1)?.host, '127.0.0.9');
    assert.equal(doc.seed?.GATEWAY_IP, '127.0.0.9');
  });

  it('no gateway found is a warning, never a crash', () => {
    const bin = standInBin(join(dir.path, 'none'), { openvpn3: '#!/bin/sh\necho "No sessions available"\n' });
    const run = runAgent(
      ['check', '--json', '--resources', '127.0.0.1', '--log-dir', join(dir.path, 'logs2'), ...FAST],
      {
        env: { PATH: `${bin}:${process.env.PATH}` },
      },
    );
    assert.equal(run.status, 0, run.stderr);
    const doc = parseResultDocument(run.stdout);
    assert.equal(doc.gateway?.ip, null);
    assert.ok(
      doc.warnings.some((w) => /gateway/i.test(w)),
      JSON.stringify(doc.warnings),
    );
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Pids of the live processes named `name` whose parent is `parentPid` (from /proc). */
function childrenOf(parentPid: number, name: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = procStat(Number(entry));
    if (stat !== null && stat.name === name && stat.ppid === parentPid && stat.state !== 'Z')
      found.push(Number(entry));
  }
  return found;
}

/** Alive and not a zombie (a zombie is dead, only not yet reaped). */
function isLive(pid: number): boolean {
  const stat = procStat(pid);
  return stat !== null && stat.state !== 'Z';
}

function procStat(pid: number): { name: string; state: string; ppid: number } | null {
  try {
    const match = /^\d+ \((.*)\) (\S) (\d+)/.exec(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    return match === null ? null : { name: match[1] ?? '', state: match[2] ?? '', ppid: Number(match[3]) };
  } catch {
    return null; // the process ended while we looked
  }
}
