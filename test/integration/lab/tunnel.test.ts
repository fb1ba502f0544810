/**
 * The tunnel state in the network lab: the built agent in the host namespace
 * against a real OpenVPN 2.6 client, whose tunnel is stopped, restarted and
 * held reconnecting between and during rounds. Each round must say what the
 * tunnel was doing (`down`, `reconnecting`, then `up`), keep the failing
 * resources flagged and name the tunnel once as their cause. Nothing here
 * asserts a duration: waits are for events, bounded generously, and a round
 * caught on a transition is simply followed by the next one.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TUNNEL_STATE_FILE } from '../../../agent/tunnel/tunnel-memory.ts';
import { parseResultDocument, type ResultDocument } from '../../../common/result-schema.ts';
import { createLab, type Lab } from '../../lab/lab.ts';
import { labSkipReason } from '../../lab/preflight.ts';

const AGENT = process.env.CCM_AGENT_BUNDLE ?? path.resolve(__dirname, '..', '..', '..', 'dist', 'agent.js');
const skip =
  labSkipReason() ?? (fs.existsSync(AGENT) ? false : `${AGENT} is missing: run \`npm run build\` first`);
/** How long to wait for the lab's tunnel to change state: an event, not a measurement. */
const TRANSITION_MS = 120_000;

const logDirs: string[] = [];
function newLogDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ccm-tunnel-'));
  logDirs.push(dir);
  return dir;
}

/** `agent check --json` in the host namespace: fast probing, the lab's OpenVPN sources unless told otherwise. */
async function check(lab: Lab, logDir: string, sources = true): Promise<ResultDocument> {
  const flags = [
    '--resources',
    lab.addr.resources.join(','),
    '--count',
    '5',
    '--interval',
    '0.2',
    '--log-dir',
    logDir,
    ...(sources ? ['--openvpn-management', lab.management, '--openvpn-log', lab.openvpnLogPath] : []),
  ];
  const result = await lab.exec('host', process.execPath, [AGENT, 'check', '--json', ...flags], {
    timeoutMs: 120_000,
  });
  assert.equal(
    result.exitCode,
    0,
    `agent exit ${result.exitCode}\n${result.stderr}\n${result.stdout.slice(0, 2000)}`,
  );
  return parseResultDocument(result.stdout);
}

/** Rounds until `wanted` holds (a round may catch the tunnel mid-transition), within TRANSITION_MS. */
async function checkUntil(
  lab: Lab,
  logDir: string,
  what: string,
  wanted: (doc: ResultDocument) => boolean,
  rounds: ResultDocument[] = [],
): Promise<ResultDocument> {
  const deadline = Date.now() + TRANSITION_MS;
  const seen: string[] = [];
  for (;;) {
    const doc = await check(lab, logDir);
    rounds.push(doc);
    if (wanted(doc)) return doc;
    seen.push(`${doc.tunnel?.state} (${doc.tunnel?.detail}), ${doc.summary.flagged} flagged`);
    if (Date.now() > deadline)
      assert.fail(`${what}: not seen within ${TRANSITION_MS} ms; rounds: ${seen.join('; ')}`);
  }
}

function describeTunnel(doc: ResultDocument): string {
  return JSON.stringify({ tunnel: doc.tunnel, warnings: doc.warnings.slice(0, 3), summary: doc.summary });
}

/** Every resource failed and stays flagged; the tunnel is named once, first, as their cause. */
function assertExplained(doc: ResultDocument, state: 'down' | 'reconnecting'): void {
  assert.equal(doc.tunnel?.state, state, describeTunnel(doc));
  assert.equal(doc.tunnel?.explains, true, describeTunnel(doc));
  assert.equal(doc.summary.flagged, doc.resources.length, describeTunnel(doc));
  assert.ok(
    doc.resources.every((r) => r.lossFlag && r.lossPct === 100),
    JSON.stringify(doc.resources),
  );
  assert.equal(doc.seed?.LOSS_FLAG, '1');
  assert.match(
    doc.warnings[0] ?? '',
    new RegExp(
      `^tunnel ${state} since \\S+ \\(.+\\): the likely cause of the ${doc.resources.length} flagged resource\\(s\\), which stay flagged$`,
    ),
  );
  assert.equal(doc.warnings.filter((w) => w.startsWith('tunnel ')).length, 1, 'the cause is named once');
}

describe('the tunnel state in the network lab', { skip }, () => {
  let lab: Lab;

  before(async () => {
    lab = await createLab({ resources: 2 });
  });

  after(async () => {
    await lab?.destroy();
    for (const dir of logDirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('between rounds: up with traffic counted, down while the client is stopped, then up again', async () => {
    const logDir = newLogDir();
    // Up, from the management interface; the second round counts what went through since the first.
    const first = await checkUntil(lab, logDir, 'a clean first round', (d) => d.summary.flagged === 0);
    assert.equal(first.tunnel?.state, 'up', describeTunnel(first));
    assert.equal(first.tunnel?.source, 'openvpn2-management');
    assert.equal(first.tunnel?.detail, 'CONNECTED SUCCESS');
    const second = await check(lab, logDir);
    assert.equal(second.tunnel?.state, 'up');
    assert.equal(second.tunnel?.since, first.tunnel?.since, 'the same connection');
    assert.equal(second.tunnel?.reconnects, 0);
    assert.ok(
      (second.tunnel?.bytesIn ?? 0) > 0 && (second.tunnel?.bytesOut ?? 0) > 0,
      describeTunnel(second),
    );
    assert.ok(fs.existsSync(path.join(logDir, TUNNEL_STATE_FILE)));

    await lab.stopTunnel();
    try {
      const down = await check(lab, logDir);
      assertExplained(down, 'down');
      // The log says the client exited; the management interface refuses: the log ranks first.
      assert.equal(down.tunnel?.source, 'openvpn2-log');
      assert.match(down.tunnel?.detail ?? '', /SIGTERM\[hard,\] received, process exiting$/);
      assert.equal(
        down.gateway?.ip,
        lab.addr.gwUnderlay,
        'the gateway path is still traced, outside the tunnel',
      );
    } finally {
      await lab.startTunnel();
    }
    const again = await checkUntil(
      lab,
      logDir,
      'up and clean after the restart',
      (d) => d.summary.flagged === 0,
    );
    assert.equal(again.tunnel?.state, 'up', describeTunnel(again));
    assert.equal(again.tunnel?.explains, false);
    assert.notEqual(again.tunnel?.since, first.tunnel?.since, 'a new connection');
    assert.ok(!again.warnings.some((w) => w.startsWith('tunnel ')), again.warnings.join('\n'));
  });

  it('during a reconnect: reconnecting while the server cannot be reached, then up, counting the reconnect', async () => {
    const logDir = newLogDir();
    await checkUntil(
      lab,
      logDir,
      'a clean round before',
      (d) => d.tunnel?.state === 'up' && d.summary.flagged === 0,
    );
    // The client's own account of its restarts, to hold the agent's count against.
    const restarts = () =>
      (
        fs
          .readFileSync(lab.openvpnLogPath, 'utf8')
          .match(/SIG(USR1|HUP)\[[^\]]*\] received, process restarting/g) ?? []
      ).length;
    const restartsBefore = restarts();
    const rounds: ResultDocument[] = [];
    await lab.setLoss('under', 100);
    try {
      lab.reconnectTunnel();
      const reconnecting = await checkUntil(
        lab,
        logDir,
        'a reconnecting round',
        (d) => d.tunnel?.state === 'reconnecting',
        rounds,
      );
      assertExplained(reconnecting, 'reconnecting');
      assert.equal(reconnecting.tunnel?.source, 'openvpn2-management');
      assert.match(reconnecting.tunnel?.detail ?? '', /RECONNECTING SIGUSR1/);
    } finally {
      await lab.setLoss('under', 0);
    }
    const up = await checkUntil(
      lab,
      logDir,
      'up and clean after the reconnect',
      (d) => d.tunnel?.state === 'up' && d.summary.flagged === 0,
      rounds,
    );
    assert.equal(up.tunnel?.explains, false);
    // Each restart the client logged (the SIGUSR1, and any it made itself while the server was
    // unreachable) is counted once, in whichever round first saw it; counters never go negative.
    const reconnects = rounds.map((d) => d.tunnel?.reconnects ?? 0);
    const logged = restarts() - restartsBefore;
    assert.ok(logged >= 1, 'the client logged its restart');
    assert.equal(
      reconnects.reduce((a, b) => a + b, 0),
      logged,
      JSON.stringify(rounds.map((d) => d.tunnel)),
    );
    for (const d of rounds) assert.ok((d.tunnel?.bytesIn ?? 0) >= 0 && (d.tunnel?.bytesOut ?? 0) >= 0);
  });

  it('during watch rounds: a stopped tunnel shows as down in the rounds that run meanwhile, then up', async () => {
    const logDir = newLogDir();
    // biome-ignore format: one flag and its value per line
    const args = [
      AGENT, 'watch', '--json', '--every', '0.05', '--rounds', '500',
      '--resources', lab.addr.resources.join(','), '--count', '5', '--interval', '0.2',
      '--log-dir', logDir, '--openvpn-management', lab.management, '--openvpn-log', lab.openvpnLogPath,
    ];
    const agent = lab.spawn('host', process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    agent.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    agent.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    const exited = new Promise<number | null>((resolve) => agent.on('close', (code) => resolve(code)));
    const docs = (): ResultDocument[] =>
      stdout
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => parseResultDocument(line));
    const waitFor = async (
      what: string,
      found: (doc: ResultDocument) => boolean,
      from: number,
    ): Promise<number> => {
      const deadline = Date.now() + TRANSITION_MS;
      for (;;) {
        const index = docs().findIndex((doc, i) => i >= from && found(doc));
        if (index >= 0) return index;
        if (agent.exitCode !== null || Date.now() > deadline) {
          assert.fail(`${what}: not in ${docs().length} rounds\n${stderr}\n${stdout.slice(-3000)}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    };
    try {
      const up = await waitFor('a round with the tunnel up', (d) => d.tunnel?.state === 'up', 0);
      await lab.stopTunnel();
      let down: number;
      try {
        down = await waitFor('a round with the tunnel down', (d) => d.tunnel?.state === 'down', up + 1);
      } finally {
        await lab.startTunnel();
      }
      const back = await waitFor(
        'a clean round with the tunnel up again',
        (d) => d.tunnel?.state === 'up' && d.summary.flagged === 0,
        down + 1,
      );
      const rounds = docs();
      assertExplained(rounds[down] as ResultDocument, 'down');
      assert.equal(rounds[back]?.tunnel?.explains, false);
      // Every round in between said what the tunnel was doing: never up while everything failed unexplained.
      for (const doc of rounds.slice(up, back + 1)) {
        assert.ok(doc.tunnel !== null && doc.tunnel !== undefined, 'a tunnel in every round');
        if (doc.tunnel.state === 'down') assert.equal(doc.tunnel.explains, doc.summary.flagged > 0);
      }
    } finally {
      agent.kill('SIGTERM');
      await exited;
    }
  });

  it('without OpenVPN sources: the tun device in the host namespace (sysfs) tells up, and nothing tells when it is gone', async () => {
    const logDir = newLogDir();
    const up = await check(lab, logDir, false);
    assert.deepEqual([up.tunnel?.state, up.tunnel?.source], ['up', 'tun-device'], describeTunnel(up));
    assert.match(up.tunnel?.detail ?? '', /^ovpn0 operstate (unknown|up)$/);
    await lab.stopTunnel();
    try {
      const gone = await check(lab, logDir, false);
      assert.deepEqual(
        [gone.tunnel?.state, gone.tunnel?.source, gone.tunnel?.explains],
        ['unknown', null, false],
        describeTunnel(gone),
      );
      assert.ok(gone.summary.flagged > 0, 'the resources fail and are flagged');
    } finally {
      await lab.startTunnel();
    }
  });
});
