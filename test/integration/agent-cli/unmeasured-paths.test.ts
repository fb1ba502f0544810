/**
 * Nothing is silent, through the built bundle (dist/agent.js):
 * - mtr 0.92's dead-path output (`"hubs": [  }`, invalid JSON) reads like
 *   0.93's and 0.95's `"hubs": []`: a silent resource is unreachable and
 *   flagged, one whose TCP port answers is measured by TCP. A stand-in `mtr`
 *   first on PATH prints each version's real layout (test/fixtures/mtr/).
 * - A resource whose name does not resolve is unmeasured and flagged, with
 *   the seed line's LOSS_FLAG "1" (the issue's `--resources
 *   db.corp.internal,127.0.0.2`). DNS fails for real (EAI_AGAIN) in a private
 *   mount namespace whose resolv.conf names a loopback address nothing
 *   serves: no query leaves the machine.
 * Every address probed is loopback.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { HISTORY_FILE } from '../../../agent/history/history-store.ts';
import { TUNNEL_STATE_FILE } from '../../../agent/tunnel/tunnel-memory.ts';
import { parseResultDocument, type ResultDocument } from '../../../common/result-schema.ts';
import { AGENT, type AgentRun, NODE12, ROOT, shQuote, standInBin, tempDir } from '../../helpers/run-agent.ts';
import { answeringPort, silentPort, type TestPort } from '../../helpers/silent-port.ts';

const MTR_FIXTURES = join(ROOT, 'test', 'fixtures', 'mtr');
const REPORT_FILE = 'LATENCY-LOSS-CONNEXA-REPORT.json';
const FAST = ['--count', '3', '--interval', '0.2'];
const DEAD_PATHS = {
  '0.92': 'mtr092-dead-path.json',
  '0.93': 'mtr093-dead-path.json',
  '0.95': 'mtr095-dead-path.json',
} as const;
type MtrVersion = keyof typeof DEAD_PATHS;

/** Prints the fixture for any loopback target; anything else fails loudly. */
const STAND_IN_MTR = `#!/bin/sh
if [ "$1" = "--version" ]; then echo "mtr $MTR_STANDIN_VERSION"; exit 0; fi
for last; do :; done
case "$last" in
  127.*) ;;
  *) echo "stand-in mtr: unexpected target $last" >&2; exit 1 ;;
esac
printf '%s\\n' "$*" >> "$MTR_STANDIN_ARGS"
cat "$MTR_STANDIN_JSON"
`;

/** The bundle, asynchronously: the test process serves the TCP ports meanwhile. */
function runAgentAsync(
  args: string[],
  options: { env?: Record<string, string>; node?: string; wrap?: string[] } = {},
): Promise<AgentRun> {
  const started = Date.now();
  const command = [...(options.wrap ?? []), options.node ?? process.execPath, AGENT, ...args];
  return new Promise((resolve, reject) => {
    const child = spawn(command[0] as string, command.slice(1), {
      env: { ...process.env, ...options.env },
      cwd: ROOT,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr, durationMs: Date.now() - started });
    });
  });
}

function onlyDocument(run: AgentRun): ResultDocument {
  assert.equal(run.status, 0, run.stderr);
  assert.equal(run.stdout.trim().split('\n').length, 1, `stdout is one JSON line: ${run.stdout}`);
  return parseResultDocument(run.stdout);
}

function seedLines(logDir: string): Record<string, unknown>[] {
  return readFileSync(join(logDir, REPORT_FILE), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('mtr 0.92 dead path through the bundle', () => {
  let dir: ReturnType<typeof tempDir>;
  before(() => {
    assert.ok(existsSync(AGENT), 'dist/agent.js must be built first (npm run build)');
    dir = tempDir('agent-deadpath-');
  });
  after(() => dir.cleanup());

  function standIn(caseName: string, version: MtrVersion): { env: Record<string, string>; args: string } {
    const caseDir = join(dir.path, caseName);
    const args = join(caseDir, 'mtr-args.txt');
    // The agent hands mtr only PATH and the locale (agent/process/child-env.ts): the
    // stand-in's settings are written into its script, not passed in its environment.
    const script = STAND_IN_MTR.replace('$MTR_STANDIN_VERSION', version)
      .replace('"$MTR_STANDIN_ARGS"', shQuote(args))
      .replace('"$MTR_STANDIN_JSON"', shQuote(join(MTR_FIXTURES, DEAD_PATHS[version])));
    const bin = standInBin(caseDir, { mtr: script });
    return { env: { PATH: `${bin}:${process.env.PATH ?? ''}` }, args };
  }

  async function deadPathRound(
    caseName: string,
    version: MtrVersion,
    target: string,
    port: TestPort,
    node?: string,
  ): Promise<{ doc: ResultDocument; logDir: string; mtrCalls: string[] }> {
    const logDir = join(dir.path, caseName, 'logs');
    const stand = standIn(caseName, version);
    const run = await runAgentAsync(
      [
        'check',
        '--json',
        '--resources',
        target,
        '--tcp-port',
        String(port.port),
        '--log-dir',
        logDir,
        ...FAST,
      ],
      { env: stand.env, node },
    );
    const doc = onlyDocument(run);
    return { doc, logDir, mtrCalls: readFileSync(stand.args, 'utf8').trim().split('\n') };
  }

  async function assertSilentIsUnreachable(version: MtrVersion, node?: string): Promise<void> {
    // Prepare: nothing answers ICMP (no hop at all) nor TCP.
    const port = await silentPort('127.0.0.9');
    try {
      // Act
      const { doc, logDir, mtrCalls } = await deadPathRound(
        `silent-${version}-${node ? 'n12' : 'now'}`,
        version,
        '127.0.0.9',
        port,
        node,
      );
      // Assess
      assert.deepEqual(mtrCalls, ['-n --json -o LSNABWVM -4 -c 3 -i 0.2 -G 2 -- 127.0.0.9']);
      const [resource] = doc.resources;
      assert.equal(resource?.verdict, 'unreachable', JSON.stringify(resource));
      assert.deepEqual(
        [resource?.lossFlag, resource?.lossPct, resource?.method, resource?.latencyMs],
        [true, 100, null, null],
      );
      assert.deepEqual(resource?.hops, []);
      assert.equal(resource?.unmeasured, null);
      assert.deepEqual(resource?.trouble, { kind: 'loss', hop: 1, host: null, side: 'tunnel' });
      assert.match(
        resource?.errors[0]?.message ?? '',
        /^tcp probe to 127\.0\.0\.9: timeout after \d+ ms \(3 of 3\)$/,
      );
      assert.deepEqual([doc.summary.flagged, doc.summary.lossFlag, doc.summary.worstLossPct], [1, true, 100]);
      const [line] = seedLines(logDir);
      assert.deepEqual([line?.LOSS_FLAG, line?.['HOP_LOSS_(%)']], ['1', '100.0']);
      assert.match(doc.mtrId, /^\d{14}$/);
      assert.equal(line?.['MTR-ID_(YYYYMMDDHHMMSS)'], doc.mtrId);
      // 100 % loss: no MTR-RESOURCE section, as the old tool; no gateway was found, so no MTR-GATEWAY.
      assert.deepEqual(readdirSync(logDir).sort(), [TUNNEL_STATE_FILE, REPORT_FILE, HISTORY_FILE].sort());
    } finally {
      await port.stop();
    }
  }

  it('0.92: a resource silent to ICMP and TCP is unreachable and flagged (LOSS_FLAG "1")', async () => {
    await assertSilentIsUnreachable('0.92');
  });

  for (const version of ['0.92', '0.93', '0.95'] as const) {
    it(`${version}: a resource whose TCP port answers is measured by TCP and judged ok`, async () => {
      // Prepare
      const port = await answeringPort('127.0.0.10');
      try {
        // Act
        const { doc, logDir } = await deadPathRound(`answers-${version}`, version, '127.0.0.10', port);
        // Assess
        const [resource] = doc.resources;
        assert.equal(resource?.verdict, 'ok', JSON.stringify(resource));
        assert.deepEqual(
          [resource?.method, resource?.latencyBasis, resource?.lossPct, resource?.lossFlag],
          ['tcp', 'tcp-connect', 0, false],
        );
        assert.ok(typeof resource?.latencyMs === 'number' && resource.latencyMs >= 0);
        assert.deepEqual(resource?.hops, []);
        assert.equal(port.connections(), 3, 'one connection per --count attempt');
        assert.deepEqual([doc.summary.flagged, doc.summary.worstLossPct], [0, 0]);
        assert.equal(seedLines(logDir)[0]?.LOSS_FLAG, '0');
        assert.equal(doc.mtrId, '0');
      } finally {
        await port.stop();
      }
    });
  }

  it('0.92 under Node 12.22: the silent resource is unreachable and flagged', async () => {
    assert.ok(existsSync(NODE12), `Node 12 binary not installed at ${NODE12} (npm test installs it)`);
    await assertSilentIsUnreachable('0.92', NODE12);
  });
});

describe('a resource whose name does not resolve, through the bundle', () => {
  let dir: ReturnType<typeof tempDir>;
  before(() => {
    assert.ok(existsSync(AGENT), 'dist/agent.js must be built first (npm run build)');
    dir = tempDir('agent-dns-');
  });
  after(() => dir.cleanup());

  it('--resources db.corp.internal,127.0.0.2: unmeasured (dns) and flagged, LOSS_FLAG "1"; 127.0.0.2 measured', async () => {
    // Prepare: a resolver on a loopback address nothing serves; hosts from files, then DNS.
    const resolvConf = join(dir.path, 'resolv.conf');
    const nsswitch = join(dir.path, 'nsswitch.conf');
    writeFileSync(resolvConf, 'nameserver 127.0.0.77\noptions timeout:1 attempts:1\n');
    writeFileSync(nsswitch, 'hosts: files dns\n');
    const logDir = join(dir.path, 'logs');
    const wrap = [
      'unshare',
      '--mount',
      '--',
      'sh',
      '-c',
      'mount --bind "$1" /etc/resolv.conf && mount --bind "$2" /etc/nsswitch.conf && shift 2 && exec "$@"',
      'sh',
      resolvConf,
      nsswitch,
    ];
    // Act: real mtr to 127.0.0.2 and the gateway stand-in 127.0.0.1.
    const run = await runAgentAsync(
      [
        'check',
        '--json',
        '--resources',
        'db.corp.internal,127.0.0.2',
        '--gateway-ip',
        '127.0.0.1',
        '--log-dir',
        logDir,
        ...FAST,
      ],
      { wrap },
    );
    // Assess
    const doc = onlyDocument(run);
    const [unresolved, measured] = doc.resources;
    assert.deepEqual(
      [unresolved?.target, unresolved?.address, unresolved?.verdict, unresolved?.unmeasured?.reason],
      ['db.corp.internal', null, 'unmeasured', 'dns'],
    );
    assert.match(
      unresolved?.unmeasured?.detail ?? '',
      /^could not resolve "db\.corp\.internal": the system resolver has no address for it/,
    );
    assert.deepEqual(
      [unresolved?.lossFlag, unresolved?.lossPct, unresolved?.latencyMs, unresolved?.hops],
      [true, 100, null, null],
    );
    assert.equal(unresolved?.errors[0]?.code, 'E_RESOLVE');
    assert.deepEqual([measured?.target, measured?.verdict, measured?.method], ['127.0.0.2', 'ok', 'icmp']);
    assert.deepEqual(
      [doc.summary.flagged, doc.summary.lossFlag, doc.summary.latencyFlag, doc.summary.worstLossPct],
      [1, true, false, 100],
    );
    assert.ok(doc.warnings.some((w) => w.startsWith('db.corp.internal: not measured (dns), flagged:')));
    const [line] = seedLines(logDir);
    assert.deepEqual(
      [line?.LOSS_FLAG, line?.['HOP_LOSS_(%)'], line?.LATENCY_FLAG, line?.['LATENCY_(ms)']],
      ['1', '100.0', '0', '0.0'],
    );
    assert.deepEqual(line, doc.seed);
    // No path for the unresolved name, so no MTR-RESOURCE; the gateway's path is written.
    assert.deepEqual(
      doc.files.map((f) => f.kind),
      ['report', 'mtr-gateway', 'history'],
    );
  });
});
