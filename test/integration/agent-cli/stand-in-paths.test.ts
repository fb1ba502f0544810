/**
 * The built bundle on paths real mtr cannot give against loopback (it always
 * answers in ~0.05 ms): a stand-in `mtr` first on PATH prints a fixed mtr 0.95
 * JSON report, so flagged rounds and silent destinations go through the whole
 * agent, files included. Every address involved is loopback.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { HISTORY_FILE } from '../../../agent/history/history-store.ts';
import { TUNNEL_STATE_FILE } from '../../../agent/tunnel/tunnel-memory.ts';
import { parseResultDocument, type ResultDocument } from '../../../common/result-schema.ts';
import {
  AGENT,
  type AgentRun,
  NODE12,
  ROOT,
  runAgent,
  runAgentAsync,
  shQuote,
  standInBin,
  tempDir,
} from '../../helpers/run-agent.ts';

const FIXTURES = join(ROOT, 'test', 'fixtures', 'agent-cli');
const SLOW_DESTINATION = join(FIXTURES, 'mtr095-standin-destination-250ms.json');
const SILENT_DESTINATION = join(FIXTURES, 'mtr095-standin-silent-destination.json');
const REPORT_FILE = 'LATENCY-LOSS-CONNEXA-REPORT.json';
const FAST = ['--count', '3', '--interval', '0.2'];
const NODE12_SKIP = existsSync(NODE12) ? false : `Node 12 binary not installed at ${NODE12}`;

/**
 * Refuses any target but 127.0.0.1, so a resolver or argument change shows up
 * as a failed probe instead of a report about the wrong address. Its files are
 * named in its text: the agent passes no variable of its own environment to mtr.
 */
function standInMtr(json: string, argsFile: string): string {
  return `#!/bin/sh
if [ "$1" = "--version" ]; then echo "mtr 0.95"; exit 0; fi
printf '%s\\n' "$*" >> ${shQuote(argsFile)}
eval "last=\\\${$#}"
if [ "$last" != "127.0.0.1" ]; then echo "stand-in mtr: unexpected target $last" >&2; exit 1; fi
cat ${shQuote(json)}
`;
}

interface StandIn {
  env: Record<string, string>;
  argsFile: string;
}

function standInEnv(dir: string, json: string): StandIn {
  const argsFile = join(dir, 'mtr-args.txt');
  const bin = standInBin(dir, { mtr: standInMtr(json, argsFile) });
  return { env: { PATH: `${bin}:${process.env.PATH ?? ''}` }, argsFile };
}

function mtrCalls(standIn: StandIn): string[] {
  return existsSync(standIn.argsFile) ? readFileSync(standIn.argsFile, 'utf8').trim().split('\n') : [];
}

function listen(server: Server | HttpServer): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (address === null || typeof address === 'string') reject(new Error('no TCP address'));
      else resolve(address.port);
    });
  });
}

function close(server: Server | HttpServer): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** A TCP server on loopback counting the connections it accepted. */
async function tcpServer(): Promise<{ port: number; connections: () => number; stop: () => Promise<void> }> {
  let connections = 0;
  const server = createServer((socket) => {
    connections++;
    socket.destroy();
  });
  const port = await listen(server);
  return { port, connections: () => connections, stop: () => close(server) };
}

/** A loopback port nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  const port = await listen(server);
  await close(server);
  return port;
}

function onlyDocument(run: AgentRun): ResultDocument {
  assert.equal(run.stdout.trim().split('\n').length, 1, `stdout is one JSON line: ${run.stdout}`);
  return parseResultDocument(run.stdout);
}

function seedLines(logDir: string): Record<string, unknown>[] {
  return readFileSync(join(logDir, REPORT_FILE), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** mtr 0.95 `-r -o AL` layout: host cut at column 33, Avg and Loss% 6 wide. */
const SLOW_HOP_LINE = `  1.|-- 127.0.0.1${' '.repeat(16)} 250.0  0.0%`;

function assertFlaggedLatencyRound(run: AgentRun, logDir: string, standIn: StandIn): void {
  assert.equal(run.status, 0, run.stderr);
  const doc = onlyDocument(run);
  assert.equal(doc.outcome, 'completed');
  const [resource] = doc.resources;
  assert.equal(resource?.method, 'icmp');
  assert.equal(resource?.latencyMs, 250);
  assert.equal(resource?.lossPct, 0);
  assert.equal(resource?.latencyFlag, true);
  assert.equal(resource?.lossFlag, false);
  assert.equal(resource?.verdict, 'latency');
  assert.match(doc.mtrId, /^\d{14}$/);
  assert.equal(doc.summary.flagged, 1);

  assert.deepEqual(
    doc.files.map((f) => f.kind),
    ['report', 'mtr-resource', 'mtr-gateway', 'history'],
  );
  assert.deepEqual(
    doc.files.map((f) => f.path),
    [REPORT_FILE, `MTR-RESOURCE-${doc.mtrId}.txt`, `MTR-GATEWAY-${doc.mtrId}.txt`, HISTORY_FILE].map((name) =>
      join(logDir, name),
    ),
  );
  assert.equal(
    readFileSync(join(logDir, `MTR-RESOURCE-${doc.mtrId}.txt`), 'utf8'),
    `RESOURCE MTR: ${doc.mtrId} (Hop, Avg, Loss%)\n${SLOW_HOP_LINE}\n`,
  );
  assert.equal(
    readFileSync(join(logDir, `MTR-GATEWAY-${doc.mtrId}.txt`), 'utf8'),
    `GATEWAY MTR: ${doc.mtrId} (Hop, Avg, Loss%)\n${SLOW_HOP_LINE}\n`,
  );

  const lines = seedLines(logDir);
  assert.equal(lines.length, 1);
  const [line] = lines;
  assert.equal(line?.LATENCY_FLAG, '1');
  assert.equal(line?.['LATENCY_(ms)'], '250.0');
  assert.equal(line?.['LATENCY_THRESHOLD_(ms)'], '75');
  assert.equal(line?.LOSS_FLAG, '0');
  assert.equal(line?.GATEWAY_IP, '127.0.0.1');
  assert.equal(line?.['MTR-ID_(YYYYMMDDHHMMSS)'], doc.mtrId);
  assert.deepEqual(line, doc.seed);

  // Resource and gateway paths, each with the options the agent promises mtr.
  assert.deepEqual(mtrCalls(standIn), [
    '-n --json -o LSNABWVM -4 -c 3 -i 0.2 -G 2 -- 127.0.0.1',
    '-n --json -o LSNABWVM -4 -c 3 -i 0.2 -G 2 -- 127.0.0.1',
  ]);
}

function assertTcpFallbackOk(run: AgentRun, logDir: string): void {
  assert.equal(run.status, 0, run.stderr);
  const doc = onlyDocument(run);
  assert.equal(doc.outcome, 'completed');
  const [resource] = doc.resources;
  assert.equal(resource?.method, 'tcp', JSON.stringify(resource));
  assert.equal(resource?.verdict, 'ok', JSON.stringify(resource));
  assert.equal(resource?.lossPct, 0);
  assert.equal(resource?.trouble, null);
  assert.deepEqual(resource?.errors, []);
  // A connect time in ms (its accuracy is the benchmark's business): read as seconds, a loopback
  // connect would fall below the microsecond; the verdict 'ok' already puts it under the threshold.
  assert.ok(
    typeof resource?.latencyMs === 'number' && resource.latencyMs >= 0.001,
    `TCP connect time ${resource?.latencyMs} ms`,
  );
  // The silent path is kept as evidence even though the fallback measured the destination.
  assert.deepEqual(
    resource?.hops?.map((h) => h.host),
    ['127.0.0.2', null],
  );
  assert.equal(doc.mtrId, '0');
  assert.deepEqual(readdirSync(logDir).sort(), [TUNNEL_STATE_FILE, REPORT_FILE, HISTORY_FILE].sort());
  assert.equal(seedLines(logDir)[0]?.LATENCY_FLAG, '0');
}

describe('agent bundle on stand-in mtr paths', () => {
  let dir: ReturnType<typeof tempDir>;
  before(() => {
    assert.ok(existsSync(AGENT), 'dist/agent.js must be built first (npm run build)');
    dir = tempDir('agent-standin-');
  });
  after(() => dir.cleanup());

  it('a destination above --latency-threshold is flagged, with the MTR-RESOURCE and MTR-GATEWAY files in the old layout', () => {
    const caseDir = join(dir.path, 'flagged');
    const logDir = join(caseDir, 'logs');
    const standIn = standInEnv(caseDir, SLOW_DESTINATION);

    const run = runAgent(
      [
        'check',
        '--json',
        '--resources',
        '127.0.0.1',
        '--latency-threshold',
        '75',
        '--gateway-ip',
        '127.0.0.1',
        '--log-dir',
        logDir,
        ...FAST,
      ],
      { env: standIn.env },
    );

    assertFlaggedLatencyRound(run, logDir, standIn);
  });

  it('two flagged resources give one MTR-RESOURCE file with a section per target, separated by a blank line', () => {
    const caseDir = join(dir.path, 'two-flagged');
    const logDir = join(caseDir, 'logs');
    const standIn = standInEnv(caseDir, SLOW_DESTINATION);

    const run = runAgent(
      [
        'check',
        '--json',
        '--resources',
        '127.0.0.1,localhost',
        '--latency-threshold',
        '75',
        '--gateway-ip',
        '127.0.0.1',
        '--log-dir',
        logDir,
        ...FAST,
      ],
      { env: standIn.env },
    );

    assert.equal(run.status, 0, run.stderr);
    const doc = onlyDocument(run);
    assert.deepEqual(
      doc.resources.map((r) => [r.target, r.address, r.verdict]),
      [
        ['127.0.0.1', '127.0.0.1', 'latency'],
        ['localhost', '127.0.0.1', 'latency'],
      ],
    );
    assert.equal(doc.summary.flagged, 2);
    assert.match(doc.mtrId, /^\d{14}$/);
    assert.equal(
      readFileSync(join(logDir, `MTR-RESOURCE-${doc.mtrId}.txt`), 'utf8'),
      `RESOURCE MTR: ${doc.mtrId} 127.0.0.1 (Hop, Avg, Loss%)\n${SLOW_HOP_LINE}\n` +
        '\n' +
        `RESOURCE MTR: ${doc.mtrId} localhost (Hop, Avg, Loss%)\n${SLOW_HOP_LINE}\n`,
    );
    assert.deepEqual(seedLines(logDir)[0]?.['RESOURCE(S)'], ['127.0.0.1', 'localhost']);
  });

  it('a destination silent to ICMP but accepting TCP on --tcp-port is measured by TCP and judged ok', async () => {
    const caseDir = join(dir.path, 'tcp-open');
    const logDir = join(caseDir, 'logs');
    const standIn = standInEnv(caseDir, SILENT_DESTINATION);
    const server = await tcpServer();
    try {
      const run = await runAgentAsync(
        [
          'check',
          '--json',
          '--resources',
          '127.0.0.1',
          '--tcp-port',
          String(server.port),
          '--log-dir',
          logDir,
          ...FAST,
        ],
        { env: standIn.env },
      );

      assertTcpFallbackOk(run, logDir);
      assert.equal(server.connections(), 3, 'one connection per --count attempt');
    } finally {
      await server.stop();
    }
  });

  it('a destination silent to ICMP that refuses the TCP connection counts as answering: method tcp, verdict ok', async () => {
    const caseDir = join(dir.path, 'tcp-refused');
    const logDir = join(caseDir, 'logs');
    const standIn = standInEnv(caseDir, SILENT_DESTINATION);
    const port = await closedPort();

    const run = await runAgentAsync(
      [
        'check',
        '--json',
        '--resources',
        '127.0.0.1',
        '--tcp-port',
        String(port),
        '--log-dir',
        logDir,
        ...FAST,
      ],
      { env: standIn.env },
    );

    assertTcpFallbackOk(run, logDir);
  });

  it('a URL resource whose destination is silent to ICMP is measured by HTTP HEAD requests to its path', async () => {
    const caseDir = join(dir.path, 'http');
    const logDir = join(caseDir, 'logs');
    const standIn = standInEnv(caseDir, SILENT_DESTINATION);
    const requests: string[] = [];
    const server = createHttpServer((request, response) => {
      requests.push(`${request.method} ${request.url}`);
      response.writeHead(200);
      response.end();
    });
    const port = await listen(server);
    try {
      const url = `http://127.0.0.1:${port}/health`;
      const run = await runAgentAsync(['check', '--json', '--resources', url, '--log-dir', logDir, ...FAST], {
        env: standIn.env,
      });

      assert.equal(run.status, 0, run.stderr);
      const doc = onlyDocument(run);
      const [resource] = doc.resources;
      assert.equal(resource?.target, url);
      assert.equal(resource?.address, '127.0.0.1');
      assert.equal(resource?.method, 'http', JSON.stringify(resource));
      assert.equal(resource?.verdict, 'ok');
      assert.equal(resource?.lossPct, 0);
      // Judged by the requests' TCP connect time, in ms, under the threshold (verdict 'ok'); the whole
      // request comes after the connect. How close to the truth is the benchmark's business.
      assert.equal(resource?.latencyBasis, 'tcp-connect');
      assert.ok(
        typeof resource?.latencyMs === 'number' && resource.latencyMs >= 0.001,
        `HTTP connect time ${resource?.latencyMs} ms`,
      );
      assert.ok(
        typeof resource?.requestMs === 'number' && resource.requestMs >= resource.latencyMs,
        `request ${resource?.requestMs} ms, connect ${resource?.latencyMs} ms`,
      );
      assert.deepEqual(requests, ['HEAD /health', 'HEAD /health', 'HEAD /health']);
      assert.deepEqual(mtrCalls(standIn), ['-n --json -o LSNABWVM -4 -c 3 -i 0.2 -G 2 -- 127.0.0.1']);
    } finally {
      await close(server);
    }
  });

  describe('under Node 12.22', () => {
    it('flags a slow destination and writes the old files', { skip: NODE12_SKIP }, () => {
      const caseDir = join(dir.path, 'node12-flagged');
      const logDir = join(caseDir, 'logs');
      const standIn = standInEnv(caseDir, SLOW_DESTINATION);

      const run = runAgent(
        [
          'check',
          '--json',
          '--resources',
          '127.0.0.1',
          '--latency-threshold',
          '75',
          '--gateway-ip',
          '127.0.0.1',
          '--log-dir',
          logDir,
          ...FAST,
        ],
        { env: standIn.env, node: NODE12 },
      );

      assertFlaggedLatencyRound(run, logDir, standIn);
    });

    it('measures an ICMP-silent destination by TCP', { skip: NODE12_SKIP }, async () => {
      const caseDir = join(dir.path, 'node12-tcp');
      const logDir = join(caseDir, 'logs');
      const standIn = standInEnv(caseDir, SILENT_DESTINATION);
      const server = await tcpServer();
      try {
        const run = await runAgentAsync(
          [
            'check',
            '--json',
            '--resources',
            '127.0.0.1',
            '--tcp-port',
            String(server.port),
            '--log-dir',
            logDir,
            ...FAST,
          ],
          { env: standIn.env, node: NODE12 },
        );

        assertTcpFallbackOk(run, logDir);
        assert.equal(server.connections(), 3);
      } finally {
        await server.stop();
      }
    });

    it('rejects invalid input with exit 2 and an invalid-input document', { skip: NODE12_SKIP }, () => {
      const caseDir = join(dir.path, 'node12-invalid');
      const standIn = standInEnv(caseDir, SLOW_DESTINATION);

      const run = runAgent(
        ['check', '--json', '--resources', '127.0.0.1', '--count', '0', '--log-dir', join(caseDir, 'logs')],
        { env: standIn.env, node: NODE12 },
      );

      assert.equal(run.status, 2, run.stderr);
      const doc = onlyDocument(run);
      assert.equal(doc.outcome, 'invalid-input');
      assert.equal(doc.error?.code, 'E_INVALID_INPUT');
      assert.match(doc.error?.message ?? '', /count/);
      assert.deepEqual(mtrCalls(standIn), [], 'nothing is probed on invalid input');
    });

    it('watch --rounds 2 prints two result documents and appends two seed lines', {
      skip: NODE12_SKIP,
    }, () => {
      const caseDir = join(dir.path, 'node12-watch');
      const logDir = join(caseDir, 'logs');
      const standIn = standInEnv(caseDir, SLOW_DESTINATION);

      const run = runAgent(
        [
          'watch',
          '--json',
          '--every',
          '0.01',
          '--rounds',
          '2',
          '--resources',
          '127.0.0.1',
          '--gateway-ip',
          '127.0.0.1',
          '--log-dir',
          logDir,
          ...FAST,
        ],
        { env: standIn.env, node: NODE12 },
      );

      assert.equal(run.status, 0, run.stderr);
      const docs = run.stdout
        .trim()
        .split('\n')
        .map((line) => parseResultDocument(line));
      assert.equal(docs.length, 2);
      assert.deepEqual(
        docs.map((d) => [d.outcome, d.resources[0]?.verdict]),
        [
          ['completed', 'latency'],
          ['completed', 'latency'],
        ],
      );
      assert.equal(seedLines(logDir).length, 2);
    });
  });
});
