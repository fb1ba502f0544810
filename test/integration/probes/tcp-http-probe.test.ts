import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { httpProbe } from '../../../agent/probes/http-probe.ts';
import { tcpProbe } from '../../../agent/probes/tcp-probe.ts';
import { InvalidInputError } from '../../../common/errors.ts';
import { silentPort } from '../../helpers/silent-port.ts';

const tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'probe-test-'));
const servers: net.Server[] = [];
const openSockets = new Set<net.Socket>();
after(() => {
  for (const socket of openSockets) socket.destroy();
  for (const server of servers) server.close();
  fs.rmSync(tempDir, { recursive: true, force: true });
});

async function listen<T extends net.Server>(
  server: T,
  host = '127.0.0.1',
): Promise<{ server: T; port: number }> {
  servers.push(server);
  server.on('connection', (socket: net.Socket) => {
    openSockets.add(socket);
    socket.on('close', () => openSockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const address = server.address();
  assert.ok(address !== null && typeof address === 'object');
  return { server, port: address.port };
}

/** A loopback port with nothing listening: bind, note the port, close. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  assert.ok(address !== null && typeof address === 'object');
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return address.port;
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  assert.fail('expected the promise to reject');
}

describe('tcpProbe', () => {
  it('measures one connect time per attempt against a listening loopback port', async () => {
    const { port } = await listen(net.createServer((socket) => socket.end()));
    const samples = await tcpProbe({
      address: '127.0.0.1',
      port,
      count: 3,
      intervalMs: 20,
      timeoutMs: 2_000,
    });
    assert.equal(samples.method, 'tcp');
    assert.equal(samples.rttsMs.length, 3);
    for (const rtt of samples.rttsMs) assert.ok(rtt !== null && rtt >= 0 && rtt < 1_000, String(rtt));
    assert.deepEqual(samples.errors, []);
  });

  it('counts a refused connection (RST) as an answer', async () => {
    const port = await closedPort();
    const samples = await tcpProbe({
      address: '127.0.0.1',
      port,
      count: 2,
      intervalMs: 10,
      timeoutMs: 2_000,
    });
    assert.equal(samples.rttsMs.length, 2);
    for (const rtt of samples.rttsMs) assert.ok(typeof rtt === 'number' && rtt >= 0, String(rtt));
    assert.deepEqual(samples.errors, []);
  });

  it('works over IPv6 loopback when the machine has it', async (t) => {
    let port: number;
    try {
      ({ port } = await listen(
        net.createServer((socket) => socket.end()),
        '::1',
      ));
    } catch {
      t.skip('no IPv6 loopback');
      return;
    }
    const samples = await tcpProbe({ address: '::1', port, count: 1, intervalMs: 0, timeoutMs: 2_000 });
    assert.ok(typeof samples.rttsMs[0] === 'number');
  });

  it('records null after timeoutMs when the SYN gets no answer, with attempts overlapping', async (t) => {
    // Prepare: a listener that never accepts, its accept queue full: the kernel drops further SYNs.
    const silent = await silentPort('127.0.0.1');
    t.after(() => silent.stop());
    // Act
    const started = process.hrtime.bigint();
    const samples = await tcpProbe({
      address: '127.0.0.1',
      port: silent.port,
      count: 6,
      intervalMs: 20,
      timeoutMs: 400,
    });
    const tookMs = Number(process.hrtime.bigint() - started) / 1e6;
    // Assess
    assert.deepEqual(samples.rttsMs, [null, null, null, null, null, null], JSON.stringify(samples));
    assert.deepEqual(samples.errors, ['timeout after 400 ms (6 of 6)']);
    // 5 intervals + 1 timeout, not 6 timeouts in turn (2,400 ms).
    assert.ok(tookMs >= 390 && tookMs < 1_200, `took ${tookMs} ms, expected about 5 intervals + 1 timeout`);
  });

  it('starts attempts intervalMs apart', async () => {
    const { port } = await listen(net.createServer((socket) => socket.end()));
    const started = process.hrtime.bigint();
    await tcpProbe({ address: '127.0.0.1', port, count: 5, intervalMs: 50, timeoutMs: 2_000 });
    const tookMs = Number(process.hrtime.bigint() - started) / 1e6;
    assert.ok(tookMs >= 190 && tookMs < 1_000, `took ${tookMs} ms`);
  });

  it('rejects an address that is not an IP literal', async () => {
    const error = await rejection(
      tcpProbe({ address: 'localhost', port: 80, count: 1, intervalMs: 0, timeoutMs: 100 }),
    );
    assert.ok(error instanceof InvalidInputError);
    assert.equal(error.field, 'address');
  });

  it('rejects a port outside 1-65535', async () => {
    const error = await rejection(
      tcpProbe({ address: '127.0.0.1', port: 0, count: 1, intervalMs: 0, timeoutMs: 100 }),
    );
    assert.ok(error instanceof InvalidInputError);
    assert.equal(error.field, 'port');
  });
});

describe('httpProbe', () => {
  it('sends HEAD with the URL host header to the resolved address and counts any status as an answer', async () => {
    // Prepare
    const seen: { method?: string; host?: string; url?: string }[] = [];
    const { port } = await listen(
      http.createServer((request, response) => {
        seen.push({ method: request.method, host: request.headers.host, url: request.url });
        response.writeHead(503);
        response.end();
      }),
    );
    // Act: the URL names a host that does not resolve; only the address is used.
    const samples = await httpProbe({
      url: `http://intranet.example.invalid:${port}/health?x=1`,
      address: '127.0.0.1',
      count: 2,
      intervalMs: 10,
      timeoutMs: 2_000,
    });
    // Assess
    assert.equal(samples.method, 'http');
    assert.equal(samples.rttsMs.length, 2);
    for (const rtt of samples.rttsMs) assert.ok(typeof rtt === 'number', String(rtt));
    assert.deepEqual(samples.errors, []);
    assert.deepEqual(seen[0], {
      method: 'HEAD',
      host: `intranet.example.invalid:${port}`,
      url: '/health?x=1',
    });
  });

  it('opens a new connection for every attempt (no keep-alive)', async () => {
    let connections = 0;
    const { server, port } = await listen(http.createServer((_request, response) => response.end()));
    server.on('connection', () => connections++);
    await httpProbe({
      url: `http://127.0.0.1:${port}/`,
      address: '127.0.0.1',
      count: 3,
      intervalMs: 30,
      timeoutMs: 2_000,
    });
    assert.equal(connections, 3);
  });

  it('judges by the connect time: a response delayed by 100 ms shows in requestsMs, not in rttsMs', async () => {
    // Prepare
    const { port } = await listen(
      http.createServer((_request, response) => {
        setTimeout(() => response.end(), 100);
      }),
    );
    // Act
    const samples = await httpProbe({
      url: `http://127.0.0.1:${port}/`,
      address: '127.0.0.1',
      count: 2,
      intervalMs: 10,
      timeoutMs: 2_000,
    });
    // Assess: each connect time is below its request time by at least the server's 100 ms.
    assert.equal(samples.requestsMs?.length, 2);
    samples.rttsMs.forEach((rtt, index) => {
      const request = samples.requestsMs?.[index];
      assert.ok(typeof rtt === 'number' && typeof request === 'number', JSON.stringify(samples));
      assert.ok(request >= 95, `request ${request} ms includes the 100 ms server delay`);
      assert.ok(request - rtt >= 95, `connect ${rtt} ms excludes the server delay (request ${request} ms)`);
    });
    assert.deepEqual(samples.errors, []);
  });

  it('counts a refused port (RST) as an answered connection with no response, like the TCP probe', async () => {
    const port = await closedPort();
    const samples = await httpProbe({
      url: `http://127.0.0.1:${port}/`,
      address: '127.0.0.1',
      count: 2,
      intervalMs: 10,
      timeoutMs: 2_000,
    });
    for (const rtt of samples.rttsMs) assert.ok(typeof rtt === 'number' && rtt >= 0, String(rtt));
    assert.deepEqual(samples.requestsMs, [null, null]);
    assert.deepEqual(samples.errors, ['no response: ECONNREFUSED (2 of 2)']);
  });

  it('keeps the connect time of a server that accepts but never responds, with overlapping attempts', async () => {
    const { port } = await listen(net.createServer(() => {}));
    const started = process.hrtime.bigint();
    const samples = await httpProbe({
      url: `http://127.0.0.1:${port}/`,
      address: '127.0.0.1',
      count: 3,
      intervalMs: 50,
      timeoutMs: 300,
    });
    const tookMs = Number(process.hrtime.bigint() - started) / 1e6;
    for (const rtt of samples.rttsMs) assert.ok(typeof rtt === 'number' && rtt < 300, String(rtt));
    assert.deepEqual(samples.requestsMs, [null, null, null]);
    assert.deepEqual(samples.errors, ['no response: timeout after 300 ms (3 of 3)']);
    // 2 intervals + 1 timeout, not 3 timeouts.
    assert.ok(tookMs >= 390 && tookMs < 850, `took ${tookMs} ms`);
  });

  it('probes https with a self-signed certificate and sends the URL name as SNI', async (t) => {
    // Prepare
    const key = path.join(tempDir, 'key.pem');
    const cert = path.join(tempDir, 'cert.pem');
    const made = spawnSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '1',
        '-subj',
        '/CN=test.invalid',
      ],
      { stdio: 'ignore' },
    );
    if (made.error !== undefined || made.status !== 0) {
      t.skip('openssl is not available to make a self-signed certificate');
      return;
    }
    const sniNames: (string | false)[] = [];
    const server = https.createServer(
      { key: fs.readFileSync(key), cert: fs.readFileSync(cert) },
      (_q, response) => {
        response.writeHead(401);
        response.end();
      },
    );
    server.on('secureConnection', (socket) =>
      sniNames.push((socket as { servername?: string | false }).servername ?? false),
    );
    const { port } = await listen(server);
    // Act
    const samples = await httpProbe({
      url: `https://portal.test.invalid:${port}/`,
      address: '127.0.0.1',
      count: 2,
      intervalMs: 10,
      timeoutMs: 5_000,
    });
    // Assess: the TLS handshake is in the request time, not in the connect time.
    assert.deepEqual(samples.errors, []);
    samples.rttsMs.forEach((rtt, index) => {
      const request = samples.requestsMs?.[index];
      assert.ok(typeof rtt === 'number' && typeof request === 'number', JSON.stringify(samples));
      assert.ok(rtt < request, `connect ${rtt} ms comes before the response at ${request} ms`);
    });
    assert.deepEqual(sniNames, ['portal.test.invalid', 'portal.test.invalid']);
  });

  it('rejects a URL that is not http or https', async () => {
    const error = await rejection(
      httpProbe({
        url: 'ftp://files.example/',
        address: '127.0.0.1',
        count: 1,
        intervalMs: 0,
        timeoutMs: 100,
      }),
    );
    assert.ok(error instanceof InvalidInputError);
    assert.equal(error.field, 'url');
  });
});
