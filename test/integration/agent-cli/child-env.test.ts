/**
 * The host's environment never changes what is measured: the built agent runs
 * with variables that change what mtr and openvpn3 do, and stand-ins that
 * behave as the real tools do under each of them (mtr 0.92-0.96 sources:
 * ui/mtr.c MTR_OPTIONS, ui/cmdpipe.c MTR_PACKET, ui/gtk.c DISPLAY) show that
 * none of them reaches a child. Every address involved is loopback.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runProcess } from '../../../agent/process/run-process.ts';
import { parseResultDocument, type ResultDocument } from '../../../common/result-schema.ts';
import {
  AGENT,
  NODE12,
  runAgent,
  runAgentAsync,
  shQuote,
  standInBin,
  tempDir,
} from '../../helpers/run-agent.ts';

const FAST = ['--count', '2', '--interval', '0.2'];
const NODE12_SKIP = existsSync(NODE12) ? false : `Node 12 binary not installed at ${NODE12}`;

/** mtr 0.95's report for a healthy loopback path: 0.5 ms, no loss. */
const HEALTHY_REPORT = `{
    "report": {
        "mtr": { "src": "vm", "dst": "127.0.0.1", "tos": 0, "tests": 2, "psize": "64", "bitpattern": "0x00" },
        "hubs": [
            { "count": 1, "host": "127.0.0.1", "Loss%": 0.0, "Snt": 2, "Last": 0.5, "Avg": 0.5, "Best": 0.5, "Wrst": 0.5, "StDev": 0.0 }
        ]
    }
}`;

/** What mtr 0.95 prints with `-o LS` (from MTR_OPTIONS): the latency columns are gone. */
const LOSS_AND_SENT_ONLY_REPORT = `{
    "report": {
        "mtr": { "src": "vm", "dst": "127.0.0.1", "tos": 0, "tests": 2, "psize": "64", "bitpattern": "0x00" },
        "hubs": [ { "count": 1, "host": "127.0.0.1", "Loss%": 0.0, "Snt": 2 } ]
    }
}`;

/**
 * A stand-in mtr: `--version` answers like mtr 0.95; a run first records the
 * environment it was started with (from /proc, exactly what execve got), then
 * does what `behaviour` (sh text) says, then prints the healthy report.
 */
function standInMtr(envLog: string, behaviour = ''): string {
  return [
    '#!/bin/sh',
    `{ tr '\\000' '\\n' < /proc/$$/environ; echo '--'; } >> ${shQuote(envLog)}`,
    'if [ "$1" = "--version" ]; then echo "mtr 0.95"; exit 0; fi',
    behaviour,
    `cat <<'EOF'\n${HEALTHY_REPORT}\nEOF`,
    '',
  ].join('\n');
}

/** The environments a stand-in recorded, one per start. */
function recordedEnvironments(envLog: string): Record<string, string>[] {
  if (!existsSync(envLog)) return [];
  return readFileSync(envLog, 'utf8')
    .split('--\n')
    .filter((block) => block.trim() !== '')
    .map((block) =>
      Object.fromEntries(
        block
          .split('\n')
          .filter((line) => line !== '')
          .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
      ),
    );
}

function onlyResource(run: { status: number | null; stdout: string; stderr: string }): ResultDocument {
  assert.equal(run.status, 0, `agent exited ${run.status}: ${run.stderr}\n${run.stdout}`);
  const doc = parseResultDocument(run.stdout);
  assert.equal(doc.resources.length, 1);
  return doc;
}

/** The healthy report, measured by mtr: what every case below must give. */
function assertHealthyIcmp(doc: ResultDocument): void {
  const resource = doc.resources[0];
  assert.equal(resource?.verdict, 'ok', JSON.stringify(resource));
  assert.equal(resource?.method, 'icmp');
  assert.equal(resource?.latencyMs, 0.5);
  assert.equal(resource?.lossPct, 0);
  assert.equal(doc.seed?.LOSS_FLAG, '0');
}

/** Every variable here changes what mtr, openvpn3 or the loader does. */
const HOSTILE_ENV: Record<string, string> = {
  MTR_OPTIONS: '-o LS',
  MTR_PACKET: '/nonexistent/mtr-packet',
  DISPLAY: ':0',
  TERM: 'xterm-256color',
  COLORTERM: 'truecolor',
  LD_PRELOAD: '/nonexistent/libpreload.so',
  LD_LIBRARY_PATH: '/nonexistent/lib',
  LANG: 'de_DE.UTF-8',
  LC_ALL: 'de_DE.UTF-8',
  LC_NUMERIC: 'de_DE.UTF-8',
  LANGUAGE: 'de',
  POSIXLY_CORRECT: '1',
  DBUS_SYSTEM_BUS_ADDRESS: 'unix:path=/nonexistent/bus',
  HOME: '/nonexistent/home',
  TZ: 'Pacific/Kiritimati',
};

describe('agent check: children get an environment the agent controls', () => {
  let dir: ReturnType<typeof tempDir>;
  before(() => {
    assert.ok(existsSync(AGENT), 'dist/agent.js must be built first (npm run build)');
    dir = tempDir('agent-child-env-');
  });
  after(() => dir.cleanup());

  for (const [label, node, skip] of [
    ['Node.js 20', process.execPath, false],
    ['Node.js 12.22', NODE12, NODE12_SKIP],
  ] as const) {
    it(`(${label}) mtr --version, mtr and openvpn3 see only PATH, LC_ALL=C and LANG=C`, { skip }, () => {
      // Prepare
      const caseDir = join(dir.path, `all-${label.replace(/\W/g, '')}`);
      mkdirSync(caseDir);
      const mtrLog = join(caseDir, 'mtr-env.txt');
      const openvpnLog = join(caseDir, 'openvpn3-env.txt');
      const bin = standInBin(caseDir, {
        mtr: standInMtr(mtrLog),
        openvpn3: [
          '#!/bin/sh',
          `{ tr '\\000' '\\n' < /proc/$$/environ; echo '--'; } >> ${shQuote(openvpnLog)}`,
          'echo "No sessions available"',
          '',
        ].join('\n'),
      });
      // Act
      const run = runAgent(
        ['check', '--json', '--resources', '127.0.0.1', '--log-dir', join(caseDir, 'logs'), ...FAST],
        { node, env: { ...HOSTILE_ENV, PATH: `${bin}:${process.env.PATH ?? ''}` } },
      );
      // Assess
      assertHealthyIcmp(onlyResource(run));
      const seen = [...recordedEnvironments(mtrLog), ...recordedEnvironments(openvpnLog)];
      assert.equal(seen.length, 3, 'mtr --version, one mtr run and openvpn3 sessions-list');
      for (const env of seen) {
        assert.deepEqual(Object.keys(env).sort(), ['LANG', 'LC_ALL', 'PATH'], JSON.stringify(env));
        assert.equal(env.LC_ALL, 'C');
        assert.equal(env.LANG, 'C');
        assert.ok(env.PATH?.startsWith(`${bin}:`), `the stand-ins stay first on PATH: ${env.PATH}`);
      }
    });
  }

  /**
   * One case per variable: a stand-in doing what the real tool does when the
   * variable reaches it. Each would turn the healthy path into a wrong result.
   */
  const cases: { variable: string; value: string; behaviour: (marker: string) => string }[] = [
    {
      // mtr parses MTR_OPTIONS before its arguments: `-o LS` leaves only loss
      // and sent, and a path without latency looked unreachable.
      variable: 'MTR_OPTIONS',
      value: '-o LS',
      behaviour: () =>
        `case "$MTR_OPTIONS" in *"-o LS"*) cat <<'EOF'\n${LOSS_AND_SENT_ONLY_REPORT}\nEOF\nexit 0 ;; esac`,
    },
    {
      // mtr runs the program MTR_PACKET names as its raw-socket helper, as root.
      variable: 'MTR_PACKET',
      value: 'set by the test',
      behaviour: (marker) =>
        `if [ -n "\${MTR_PACKET+x}" ]; then touch ${shQuote(marker)}; echo "mtr: Failure to start mtr-packet" >&2; exit 1; fi`,
    },
    {
      // GTK builds of mtr (Debian's `mtr`) pick the GTK interface when DISPLAY is set.
      variable: 'DISPLAY',
      value: ':0',
      behaviour: (marker) =>
        `if [ -n "\${DISPLAY+x}" ]; then touch ${shQuote(marker)}; echo "(mtr:1): Gtk-WARNING **: cannot open display: $DISPLAY" >&2; exit 1; fi`,
    },
    {
      // The loader maps LD_PRELOAD's object into every program it starts.
      variable: 'LD_PRELOAD',
      value: '/nonexistent/libpreload.so',
      behaviour: (marker) =>
        `if [ -n "\${LD_PRELOAD+x}" ]; then touch ${shQuote(marker)}; echo "ERROR: ld.so: object '$LD_PRELOAD' from LD_PRELOAD cannot be preloaded" >&2; exit 1; fi`,
    },
    {
      // The loader searches LD_LIBRARY_PATH before the system's libraries.
      variable: 'LD_LIBRARY_PATH',
      value: '/nonexistent/lib',
      behaviour: (marker) =>
        `if [ -n "\${LD_LIBRARY_PATH+x}" ]; then touch ${shQuote(marker)}; echo "mtr: error while loading shared libraries" >&2; exit 127; fi`,
    },
    ...['LC_ALL', 'LC_NUMERIC', 'LANG'].map((variable) => ({
      // printf honours LC_ALL, then LC_NUMERIC, then LANG: a German locale
      // writes 0,5, which is not a JSON number.
      variable,
      value: 'de_DE.UTF-8',
      behaviour: (marker: string) =>
        `case "\${LC_ALL:-\${LC_NUMERIC:-$LANG}}" in de_*) touch ${shQuote(marker)}; cat <<'EOF'\n${HEALTHY_REPORT.replace(/: 0\.5/g, ': 0,5')}\nEOF\nexit 0 ;; esac`,
    })),
    {
      // glibc getopt stops at the first non-option under POSIXLY_CORRECT.
      variable: 'POSIXLY_CORRECT',
      value: '1',
      behaviour: (marker) =>
        `if [ -n "\${POSIXLY_CORRECT+x}" ]; then touch ${shQuote(marker)}; echo "mtr: unexpected argument" >&2; exit 1; fi`,
    },
  ];

  for (const { variable, value, behaviour } of cases) {
    it(`${variable}=${JSON.stringify(value)} in the agent's environment does not change the measurement`, () => {
      // Prepare
      const caseDir = join(dir.path, `var-${variable}`);
      mkdirSync(caseDir);
      const marker = join(caseDir, 'the-variable-reached-mtr');
      const envLog = join(caseDir, 'env.txt');
      const bin = standInBin(caseDir, { mtr: standInMtr(envLog, behaviour(marker)) });
      // Act
      const run = runAgent(
        ['check', '--json', '--resources', '127.0.0.1', '--log-dir', join(caseDir, 'logs'), ...FAST],
        { env: { [variable]: value, PATH: `${bin}:${process.env.PATH ?? ''}` } },
      );
      // Assess
      assertHealthyIcmp(onlyResource(run));
      assert.equal(existsSync(marker), false, `${variable} reached mtr`);
      const seen = recordedEnvironments(envLog);
      assert.ok(seen.length >= 2, 'mtr --version and one run');
      const expected = variable === 'LC_ALL' || variable === 'LANG' ? 'C' : undefined;
      for (const env of seen) assert.equal(env[variable], expected, JSON.stringify(env));
    });
  }

  it('DBUS_SYSTEM_BUS_ADDRESS does not make openvpn3 ask another bus for the tunnel', () => {
    // Prepare: on another bus, openvpn3 would find another session and gateway.
    const caseDir = join(dir.path, 'dbus');
    mkdirSync(caseDir);
    const session = (server: string): string =>
      [
        '-'.repeat(77),
        '        Path: /net/openvpn/v3/sessions/abc123',
        '     Created: Mon Dec 12 16:40:02 2022                  PID: 147527',
        '       Owner: root                                   Device: tun0',
        ' Config name: CloudConnexa',
        `Connected to: udp:${server}:1194`,
        '      Status: Connection, Client connected',
        '-'.repeat(77),
      ].join('\n');
    const bin = standInBin(caseDir, {
      mtr: standInMtr(join(caseDir, 'env.txt')),
      openvpn3: [
        '#!/bin/sh',
        `if [ -n "\${DBUS_SYSTEM_BUS_ADDRESS+x}" ]; then cat <<'EOF'\n${session('127.0.0.66')}\nEOF\nexit 0; fi`,
        `cat <<'EOF'\n${session('127.0.0.1')}\nEOF`,
        '',
      ].join('\n'),
    });
    // Act
    const run = runAgent(
      ['check', '--json', '--resources', '127.0.0.1', '--log-dir', join(caseDir, 'logs'), ...FAST],
      {
        env: {
          DBUS_SYSTEM_BUS_ADDRESS: 'unix:path=/nonexistent/bus',
          PATH: `${bin}:${process.env.PATH ?? ''}`,
        },
      },
    );
    // Assess
    const doc = onlyResource(run);
    assert.equal(doc.gateway?.ip, '127.0.0.1');
    assert.equal(doc.seed?.GATEWAY_IP, '127.0.0.1');
  });

  it('a relative PATH entry cannot make the agent run a program planted in its working directory', () => {
    // Prepare: `.` first on PATH, the agent started in a directory holding an `mtr`.
    const caseDir = join(dir.path, 'dot-path');
    const planted = join(caseDir, 'planted');
    mkdirSync(planted, { recursive: true });
    const marker = join(caseDir, 'planted-mtr-ran');
    writeFileSync(join(planted, 'mtr'), `#!/bin/sh\ntouch ${shQuote(marker)}\necho "mtr 0.95"\n`, {
      mode: 0o755,
    });
    const bin = standInBin(caseDir, { mtr: standInMtr(join(caseDir, 'env.txt')) });
    // Act
    const run = runAgent(
      ['check', '--json', '--resources', '127.0.0.1', '--log-dir', join(caseDir, 'logs'), ...FAST],
      { cwd: planted, env: { PATH: `.::${bin}:${process.env.PATH ?? ''}` } },
    );
    // Assess
    assertHealthyIcmp(onlyResource(run));
    assert.equal(existsSync(marker), false, 'the planted mtr ran');
  });
});

const MTR = ['/usr/sbin/mtr', '/usr/bin/mtr', '/usr/local/sbin/mtr', '/usr/local/bin/mtr'].find((p) =>
  existsSync(p),
);
const REAL_MTR_SKIP = MTR === undefined ? 'mtr is not installed on this machine' : false;
const REAL_INTERVAL = process.getuid?.() === 0 ? '0.2' : '1';

/** Real mtr run directly with `env`: the baseline showing the variable matters to this mtr. */
function mtrDirectly(
  env: Record<string, string>,
): Promise<{ stdout: string; stderr: string; status: number | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      MTR ?? 'mtr',
      ['-n', '--json', '-4', '-c', '2', '-i', REAL_INTERVAL, '-G', '1', '--', '127.0.0.1'],
      { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env } },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', (status) => resolve({ stdout, stderr, status }));
  });
}

describe('agent check with the real mtr: MTR_OPTIONS and MTR_PACKET do not reach it', {
  skip: REAL_MTR_SKIP,
}, () => {
  let dir: ReturnType<typeof tempDir>;
  const real = ['--count', '2', '--interval', REAL_INTERVAL];
  before(() => {
    assert.ok(existsSync(AGENT), 'dist/agent.js must be built first (npm run build)');
    dir = tempDir('agent-real-mtr-env-');
  });
  after(() => dir.cleanup());

  it('MTR_OPTIONS="-o LS": 127.0.0.1 is measured by mtr with its latency, not reported silent', async () => {
    // Prepare: this mtr really drops the latency columns under the variable.
    const direct = await mtrDirectly({ MTR_OPTIONS: '-o LS' });
    assert.equal(direct.status, 0, direct.stderr);
    assert.doesNotMatch(direct.stdout, /"Avg"/, 'baseline: mtr honours MTR_OPTIONS on this machine');
    // Act
    const run = await runAgentAsync(
      ['check', '--json', '--resources', '127.0.0.1', '--log-dir', join(dir.path, 'o-ls'), ...real],
      { env: { MTR_OPTIONS: '-o LS' } },
    );
    // Assess
    const resource = onlyResource(run).resources[0];
    assert.equal(resource?.verdict, 'ok');
    assert.equal(resource?.method, 'icmp');
    assert.equal(resource?.lossPct, 0);
    assert.equal(typeof resource?.latencyMs, 'number');
    assert.ok((resource?.hops ?? []).length > 0);
    for (const hop of resource?.hops ?? []) assert.equal(typeof hop.avgMs, 'number', JSON.stringify(hop));
  });

  it('MTR_OPTIONS="-T -P <port>": mtr sends ICMP, no TCP probe reaches the port, and the result says icmp', async () => {
    // Prepare: a listener that counts the TCP probes mtr would send to it.
    const connections: string[] = [];
    const server = createServer((socket) => {
      connections.push(`${socket.remoteAddress}:${socket.remotePort}`);
      socket.destroy();
    });
    const port = await new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        if (address === null || typeof address === 'string') reject(new Error('no TCP address'));
        else resolve(address.port);
      });
    });
    try {
      const options = `-T -P ${port}`;
      const direct = await mtrDirectly({ MTR_OPTIONS: options });
      assert.equal(direct.status, 0, direct.stderr);
      await waitFor(() => connections.length > 0, 5_000);
      assert.ok(connections.length > 0, 'baseline: mtr sends TCP probes under MTR_OPTIONS on this machine');
      connections.length = 0;
      // Act
      const run = await runAgentAsync(
        ['check', '--json', '--resources', '127.0.0.1', '--log-dir', join(dir.path, 'tcp'), ...real],
        { env: { MTR_OPTIONS: options } },
      );
      // Assess
      const resource = onlyResource(run).resources[0];
      assert.equal(resource?.verdict, 'ok');
      assert.equal(resource?.method, 'icmp');
      assert.deepEqual(connections, [], "the agent's mtr probed the port with TCP");
    } finally {
      server.close();
    }
  });

  it('MTR_PACKET naming another program: mtr runs its own mtr-packet', async () => {
    // Prepare: a "helper" that leaves a marker, then hands over to the real one.
    const caseDir = join(dir.path, 'packet');
    mkdirSync(caseDir);
    const marker = join(caseDir, 'foreign-helper-ran');
    const realHelper = join(MTR === undefined ? '/usr/bin' : dirname(MTR), 'mtr-packet');
    const helper = join(caseDir, 'foreign-mtr-packet');
    writeFileSync(helper, `#!/bin/sh\ntouch ${shQuote(marker)}\nexec ${shQuote(realHelper)} "$@"\n`, {
      mode: 0o755,
    });
    const direct = await mtrDirectly({ MTR_PACKET: helper });
    assert.equal(direct.status, 0, direct.stderr);
    assert.equal(existsSync(marker), true, 'baseline: mtr runs MTR_PACKET on this machine');
    rmSync(marker);
    // Act
    const run = await runAgentAsync(
      ['check', '--json', '--resources', '127.0.0.1', '--log-dir', join(caseDir, 'logs'), ...real],
      { env: { MTR_PACKET: helper } },
    );
    // Assess
    assert.equal(onlyResource(run).resources[0]?.verdict, 'ok');
    assert.equal(existsSync(marker), false, "the agent's mtr ran the program MTR_PACKET names");
  });
});

describe("runProcess with the real loader: LD_PRELOAD in the agent's environment reaches no child", () => {
  it('a preload object the loader would load into /bin/sh is not passed on', async () => {
    // Prepare: the dynamic loader complains about a preload object it cannot open.
    const preload = '/nonexistent/libpreload.so';
    const direct = spawnSync('/bin/sh', ['-c', 'exit 0'], { env: { LD_PRELOAD: preload }, encoding: 'utf8' });
    assert.match(direct.stderr, /LD_PRELOAD/, 'baseline: the loader reads LD_PRELOAD on this machine');
    const saved = process.env.LD_PRELOAD;
    process.env.LD_PRELOAD = preload;
    try {
      // Act
      const result = await runProcess('/bin/sh', ['-c', 'exit 0'], { timeoutMs: 10_000 });
      // Assess
      assert.equal(result.exitCode, 0);
      assert.equal(result.stderr, '');
    } finally {
      if (saved === undefined) delete process.env.LD_PRELOAD;
      else process.env.LD_PRELOAD = saved;
    }
  });
});

async function waitFor(condition: () => boolean, withinMs: number): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!condition() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
}
