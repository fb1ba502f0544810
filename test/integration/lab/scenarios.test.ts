/**
 * The built agent on real paths: run inside the lab's host namespace against
 * a real OpenVPN tunnel, real routers and injected faults, asserting on its JSON
 * result document and the files it writes. Needs root and `dist/agent.js`
 * (`npm run build`); skipped otherwise.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import {
  parseResultDocument,
  type ResourceResult,
  type ResultDocument,
} from '../../../common/result-schema.ts';
import { carriesDelay, lacksDelay, measureUntil, problems } from '../../helpers/latency.ts';
import { createLab, type Lab } from '../../lab/lab.ts';
import { labSkipReason } from '../../lab/preflight.ts';
import type { ProcessResult } from '../../lab/run.ts';

/** CCM_AGENT_BUNDLE runs the scenarios against another bundle (e.g. a release artifact). */
const AGENT = process.env.CCM_AGENT_BUNDLE ?? path.resolve(__dirname, '..', '..', '..', 'dist', 'agent.js');
const skip =
  labSkipReason() ?? (fs.existsSync(AGENT) ? false : `${AGENT} is missing: run \`npm run build\` first`);

interface AgentRun {
  result: ProcessResult;
  doc: ResultDocument;
  logDir: string;
}

const logDirs: string[] = [];

function newLogDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ccm-scenario-'));
  logDirs.push(dir);
  return dir;
}

/** Runs `agent check --json` in the host namespace with the lab's gateway sources and fast probing. */
async function check(
  lab: Lab,
  resources: string[],
  overrides: Record<string, string> = {},
): Promise<AgentRun> {
  const logDir = newLogDir();
  const flags: Record<string, string> = {
    '--resources': resources.join(','),
    '--count': '10',
    '--interval': '0.2',
    '--log-dir': logDir,
    '--openvpn-management': lab.management,
    '--openvpn-log': lab.openvpnLogPath,
    ...overrides,
  };
  const args = [AGENT, 'check', '--json', ...Object.entries(flags).flat()];
  const result = await lab.exec('host', process.execPath, args, { timeoutMs: 120_000 });
  assert.equal(
    result.exitCode,
    0,
    `agent exit ${result.exitCode}\n${result.stderr}\n${result.stdout.slice(0, 2000)}`,
  );
  return { result, doc: parseResultDocument(result.stdout), logDir };
}

function resourceOf(doc: ResultDocument, address: string): ResourceResult {
  const found = doc.resources.find((resource) => resource.target === address);
  assert.ok(found, `no result for ${address} in ${JSON.stringify(doc.resources.map((r) => r.target))}`);
  return found;
}

/** A hop's average in the same round: the baseline for what a probe behind an impairment shows. */
function hopAvgMs(resource: ResourceResult | undefined, host: string): number | null {
  return resource?.hops?.find((hop) => hop.host === host)?.avgMs ?? null;
}

/** A hop's standard deviation in the same round: how much the machine scattered that path's samples. */
function hopStdevMs(resource: ResourceResult | undefined, host: string): number | null {
  return resource?.hops?.find((hop) => hop.host === host)?.stdevMs ?? null;
}

/** A problem when a resource's loss is outside [min, max] % or its loss flag is not `flag`, else null. */
function lossProblem(
  resource: ResourceResult | undefined,
  min: number,
  max: number,
  flag: boolean,
): string | null {
  if (resource === undefined) return 'no result for the resource';
  return resource.lossPct >= min && resource.lossPct <= max && resource.lossFlag === flag
    ? null
    : `${resource.target}: loss ${resource.lossPct} %, flag ${resource.lossFlag}; expected ${min}-${max} %, flag ${flag}`;
}

function filesOf(doc: ResultDocument, kind: string): string[] {
  return doc.files.filter((file) => file.kind === kind).map((file) => file.path);
}

function describeDoc(doc: ResultDocument): string {
  return JSON.stringify({ seed: doc.seed, gateway: doc.gateway, resources: doc.resources }, null, 1).slice(
    0,
    4000,
  );
}

describe('agent scenarios in the network lab', { skip }, () => {
  let lab: Lab;

  before(async () => {
    lab = await createLab({ resources: 3 });
  });

  after(async () => {
    await lab?.destroy();
    for (const dir of logDirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  afterEach(async () => {
    await lab.clear();
    for (const resource of lab.resourceNames) await lab.stopTcpService(resource, 8443);
  });

  it('reports a clean path with no flags, MTR id "0", no MTR files and the gateway from the live client', async () => {
    // A loaded machine can delay or lose a probe on a clean path too: measured again before failing.
    const { doc } = await measureUntil(
      'a clean round',
      () => check(lab, [lab.addr.resources[0] ?? '']),
      ({ doc }) => (doc.seed?.LATENCY_FLAG === '0' && doc.seed.LOSS_FLAG === '0' ? null : describeDoc(doc)),
    );

    assert.equal(doc.outcome, 'completed');
    assert.equal(doc.seed?.LATENCY_FLAG, '0', describeDoc(doc));
    assert.equal(doc.seed?.LOSS_FLAG, '0', describeDoc(doc));
    assert.equal(doc.seed?.['MTR-ID_(YYYYMMDDHHMMSS)'], '0');
    assert.equal(doc.seed?.GATEWAY_IP, lab.addr.gwUnderlay);
    assert.equal(doc.gateway?.ip, lab.addr.gwUnderlay);
    assert.equal(doc.gateway?.source, 'openvpn2-management');
    assert.deepEqual(filesOf(doc, 'mtr-resource'), []);
    assert.deepEqual(filesOf(doc, 'mtr-gateway'), []);
    const hops = resourceOf(doc, lab.addr.resources[0] ?? '').hops?.map((hop) => hop.host);
    assert.deepEqual(hops, [...lab.addr.hopsToResource, lab.addr.resources[0]]);
  });

  it('finds the gateway in the OpenVPN log when no management interface is given', async () => {
    const logDir = newLogDir();
    // biome-ignore format: one flag and its value per line
    const args = [
      AGENT, 'check', '--json', '--resources', lab.addr.resources[0] ?? '', '--count', '3', '--interval', '0.2',
      '--log-dir', logDir, '--openvpn-log', lab.openvpnLogPath,
    ];
    const result = await lab.exec('host', process.execPath, args, { timeoutMs: 60_000 });
    const doc = parseResultDocument(result.stdout);

    assert.equal(doc.gateway?.ip, lab.addr.gwUnderlay, describeDoc(doc));
    assert.equal(doc.gateway?.source, 'openvpn2-log');
  });

  it('flags latency on the tunnel side: trouble starts at the gateway hop, both MTR files written', async () => {
    await lab.setLatency('under-gw', 100);

    const { doc } = await check(lab, [lab.addr.resources[0] ?? ''], {
      '--latency-threshold': '75',
      '--hops': '1',
    });

    const resource = resourceOf(doc, lab.addr.resources[0] ?? '');
    assert.equal(doc.seed?.LATENCY_FLAG, '1', describeDoc(doc));
    assert.equal(resource.latencyFlag, true);
    assert.equal(resource.trouble?.hop, 1, describeDoc(doc));
    assert.equal(resource.trouble?.host, lab.addr.gwTunnel);
    assert.equal(resource.trouble?.side, 'tunnel');
    const [resourceFile] = filesOf(doc, 'mtr-resource');
    const [gatewayFile] = filesOf(doc, 'mtr-gateway');
    assert.ok(
      resourceFile !== undefined && fs.readFileSync(resourceFile, 'utf8').includes(lab.addr.gwTunnel),
    );
    assert.ok(
      gatewayFile !== undefined && fs.readFileSync(gatewayFile, 'utf8').includes(lab.addr.gwUnderlay),
    );
    assert.match(path.basename(resourceFile), /^MTR-RESOURCE-\d{14}\.txt$/);
    assert.equal(path.basename(gatewayFile), `MTR-GATEWAY-${doc.seed?.['MTR-ID_(YYYYMMDDHHMMSS)']}.txt`);
  });

  it('flags latency behind the gateway with trouble starting at a later hop, on the resource side', async () => {
    await lab.setLatency('r1-r2', 100);
    const target = lab.addr.resources[1] ?? '';

    // Hops 1-2 must stay under the 75 ms threshold, which a loaded machine can break for a round.
    const { doc } = await measureUntil(
      '100 ms behind r1',
      () => check(lab, [target], { '--latency-threshold': '75', '--hops': '1' }),
      ({ doc }) => {
        const resource = doc.resources.find((r) => r.target === target);
        return problems(
          resource?.trouble?.hop === 3
            ? null
            : `trouble at hop ${resource?.trouble?.hop}: ${describeDoc(doc)}`,
          // the gateway, traced on the underlay, shows what the tunnel's first hop shows, not the 100 ms
          lacksDelay('gateway path', doc.gateway?.latencyMs, hopAvgMs(resource, lab.addr.gwTunnel), 100),
        );
      },
    );

    const resource = resourceOf(doc, target);
    assert.equal(resource.latencyFlag, true, describeDoc(doc));
    assert.equal(resource.trouble?.hop, 3, describeDoc(doc));
    assert.equal(resource.trouble?.host, lab.addr.r2);
    assert.equal(resource.trouble?.side, 'resource');
  });

  it('flags persistent loss well above the threshold', async () => {
    await lab.setLoss('r1', 30);
    const target = lab.addr.resources[0] ?? '';

    // 30 probes at 30 %: 8-60 % is over three standard deviations either way; chance is measured again.
    const { doc } = await measureUntil(
      '30 % loss at r1',
      () => check(lab, [target], { '--count': '30', '--interval': '0.1' }),
      ({ doc }) =>
        lossProblem(
          doc.resources.find((r) => r.target === target),
          8,
          60,
          true,
        ),
    );

    assert.equal(doc.seed?.LOSS_FLAG, '1', describeDoc(doc));
    assert.equal(resourceOf(doc, target).lossFlag, true);
  });

  it('does not flag an ICMP-rate-limited router by default, but does with --loss-rule any-hop', async () => {
    await lab.setIcmpRateLimit('r1', 1000);
    const fast = { '--count': '20', '--interval': '0.1' };

    const target = lab.addr.resources[0] ?? '';
    const r1LossOf = (doc: ResultDocument) =>
      doc.resources.find((r) => r.target === target)?.hops?.find((hop) => hop.host === lab.addr.r1)?.lossPct;

    const { persistent, anyHop } = await measureUntil(
      'ICMP rate limit at r1, by both loss rules',
      async () => ({
        persistent: await check(lab, [target], fast),
        anyHop: await check(lab, [target], { ...fast, '--loss-rule': 'any-hop' }),
      }),
      ({ persistent, anyHop }) =>
        problems(
          (r1LossOf(persistent.doc) ?? 0) > 10
            ? null
            : `r1 loss ${r1LossOf(persistent.doc)} %: no rate limiting seen`,
          (r1LossOf(anyHop.doc) ?? 0) > 10 ? null : `r1 loss ${r1LossOf(anyHop.doc)} % in the any-hop round`,
          persistent.doc.resources.find((r) => r.target === target)?.lossFlag === false
            ? null
            : `flagged by the persistent rule: ${describeDoc(persistent.doc)}`,
        ),
    );

    const byDefault = resourceOf(persistent.doc, target);
    assert.equal(byDefault.lossFlag, false, describeDoc(persistent.doc));
    assert.equal(persistent.doc.seed?.LOSS_FLAG, '0');
    assert.equal(resourceOf(anyHop.doc, lab.addr.resources[0] ?? '').lossFlag, true, describeDoc(anyHop.doc));
    assert.equal(anyHop.doc.seed?.LOSS_FLAG, '1');
  });

  it('measures an ICMP-blocked resource over TCP, close to the injected latency, without a loss flag', async () => {
    await lab.startTcpService('res2', 8443);
    await lab.blockIcmp('res2');

    const target = lab.addr.resources[1] ?? '';
    const resourceIn = (run: AgentRun) => run.doc.resources.find((r) => r.target === target);

    // Judged against the same method on the clean path, measured just before: a TCP connect
    // through the lab's relays costs more than an ICMP echo (mtr's baseline), and load adds to it.
    const { delayed } = await measureUntil(
      'TCP connect time through 40 ms',
      async () => {
        await lab.setLatency('r1-r2', 0);
        const clean = await check(lab, [target], { '--tcp-port': '8443' });
        await lab.setLatency('r1-r2', 40);
        return { clean, delayed: await check(lab, [target], { '--tcp-port': '8443' }) };
      },
      ({ clean, delayed }) => {
        const resource = resourceIn(delayed);
        return problems(
          resourceIn(clean)?.method === 'tcp' ? null : `clean round: ${describeDoc(clean.doc)}`,
          // r2 sits behind the same relay: its scatter in this round is the TCP samples' too
          carriesDelay(
            'TCP latency',
            resource?.latencyMs,
            resourceIn(clean)?.latencyMs,
            40,
            hopStdevMs(resource, lab.addr.r2),
          ),
          // 40 ms is under the 75 ms threshold, but a busy machine can push a hop's average over it
          resource?.latencyFlag === false && resource.lossFlag === false
            ? null
            : `flags latency ${resource?.latencyFlag}, loss ${resource?.lossFlag}: ${describeDoc(delayed.doc)}`,
        );
      },
    );

    const { doc } = delayed;
    const resource = resourceOf(doc, target);
    assert.equal(resource.method, 'tcp', describeDoc(doc));
    assert.equal(resource.lossFlag, false);
    assert.equal(resource.latencyFlag, false);
  });

  it('measures an ICMP-blocked URL resource by the TCP connect time of HTTP requests on the URL port', async () => {
    await lab.startTcpService('res2', 8080, 'http');
    await lab.blockIcmp('res2');
    const url = `http://${lab.addr.resources[1]}:8080/health`;
    const resourceIn = (run: AgentRun) => run.doc.resources.find((r) => r.target === url);

    // Judged by one round trip (the TCP connect of each request), like ICMP: through the 30 ms it
    // carries one injection over the same request on the clean path. The request and its response,
    // one more round trip at least, are reported apart in requestMs, never judged.
    const { delayed } = await measureUntil(
      'HTTP connect time through 30 ms',
      async () => {
        await lab.setLatency('r1-r2', 0);
        const clean = await check(lab, [url], { '--count': '5' });
        await lab.setLatency('r1-r2', 30);
        return { clean, delayed: await check(lab, [url], { '--count': '5' }) };
      },
      ({ clean, delayed }) => {
        const resource = resourceIn(delayed);
        const { latencyMs, requestMs } = resource ?? {};
        return problems(
          // r2 sits behind the same relay: its scatter in this round is the connects' too
          carriesDelay(
            'HTTP connect latency (one round trip)',
            latencyMs,
            resourceIn(clean)?.latencyMs,
            30,
            hopStdevMs(resource, lab.addr.r2),
          ),
          // The injected delay is a floor for the request's own round trip: load only adds to it.
          typeof requestMs === 'number' && typeof latencyMs === 'number' && requestMs - latencyMs >= 29
            ? null
            : `request ${requestMs} ms, connect ${latencyMs} ms: the request is not one more round trip through 30 ms`,
          resource?.lossPct === 0 ? null : `loss ${resource?.lossPct} %: ${describeDoc(delayed.doc)}`,
        );
      },
      // The request time includes the lab's HTTP server, a python process a busy machine delays
      // more than the kernel's TCP handshake: more tries.
      { attempts: 5 },
    );

    const resource = resourceOf(delayed.doc, url);
    assert.equal(resource.method, 'http', describeDoc(delayed.doc));
    assert.equal(resource.address, lab.addr.resources[1]);
    assert.equal(resource.lossPct, 0);
    assert.equal(resource.latencyBasis, 'tcp-connect');
    await lab.stopTcpService('res2', 8080);
  });

  it('reports an unreachable resource with loss 100, no MTR-RESOURCE file and an MTR-GATEWAY file', async () => {
    await lab.makeUnreachable('res3');

    const { doc } = await check(lab, [lab.addr.resources[2] ?? ''], { '--count': '5' });

    const resource = resourceOf(doc, lab.addr.resources[2] ?? '');
    assert.equal(resource.lossPct, 100, describeDoc(doc));
    assert.equal(resource.verdict, 'unreachable');
    assert.deepEqual(filesOf(doc, 'mtr-resource'), []);
    const [gatewayFile] = filesOf(doc, 'mtr-gateway');
    assert.ok(gatewayFile !== undefined && fs.existsSync(gatewayFile), describeDoc(doc));
  });

  it('reports all of several resources and flags only the bad one', async () => {
    await lab.setLoss('res2', 40);

    const flaggedOf = (doc: ResultDocument) =>
      doc.resources.filter((r) => r.lossFlag || r.latencyFlag).map((r) => r.target);

    // 30 probes at 40 %: the flag at 5 % is all but certain, and chance is measured again.
    const { doc } = await measureUntil(
      '40 % loss at res2 among three resources',
      () => check(lab, lab.addr.resources, { '--count': '30', '--interval': '0.1' }),
      ({ doc }) =>
        JSON.stringify(flaggedOf(doc)) === JSON.stringify([lab.addr.resources[1]]) ? null : describeDoc(doc),
    );

    assert.deepEqual(doc.resources.map((r) => r.target).sort(), [...lab.addr.resources].sort());
    assert.deepEqual(flaggedOf(doc), [lab.addr.resources[1]], describeDoc(doc));
    assert.equal(doc.summary.flagged, 1);
  });

  it('keeps watching through a tunnel restart and reports clean rounds after recovery', async () => {
    const logDir = newLogDir();
    // biome-ignore format: one flag and its value per line
    const args = [
      AGENT, 'watch', '--json', '--every', '0.05', '--rounds', '5',
      '--resources', lab.addr.resources[0] ?? '', '--count', '5', '--interval', '0.2',
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
    while (!stdout.includes('\n') && agent.exitCode === null) await new Promise((r) => setTimeout(r, 100));

    await lab.restartTunnel({ downMs: 3000 });
    const exitCode = await exited;

    assert.equal(exitCode, 0, stderr);
    const docs = stdout
      .trim()
      .split('\n')
      .map((line) => parseResultDocument(line));
    assert.equal(docs.length, 5, stdout.slice(0, 2000));
    const last = docs.at(-1);
    assert.ok(last !== undefined);
    assert.equal(last.outcome, 'completed');
    assert.equal(last.seed?.LATENCY_FLAG, '0', describeDoc(last));
    assert.equal(last.seed?.LOSS_FLAG, '0', describeDoc(last));
    assert.equal(last.gateway?.ip, lab.addr.gwUnderlay);
  });
});
