/**
 * The TCP and HTTP fallback probes end every attempt by its timeout and read
 * a bounded amount, whatever the server does: trickle headers forever, send
 * endless headers, keep streaming after the headers, never start TLS, or
 * stream after accepting a plain TCP connection. Loopback only.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, describe, it } from 'node:test';
import { httpProbe } from '../../../agent/probes/http-probe.ts';
import { tcpProbe } from '../../../agent/probes/tcp-probe.ts';

interface Peer {
  port: number;
  /** Per connection: how long after it was accepted the client closed it (Infinity while open). */
  closedAfterMs: () => number[];
  bytesSent: () => number;
}

const cleanups: (() => void)[] = [];
after(() => {
  for (const cleanup of cleanups) cleanup();
});

/** A loopback server; `onConnection` gets the socket and a `send` that counts bytes and stops once it is closed. */
async function startPeer(
  onConnection: (send: (text: string) => void, socket: net.Socket) => void,
): Promise<Peer> {
  const accepted: { at: number; closedAt: number }[] = [];
  const sockets = new Set<net.Socket>();
  let bytesSent = 0;
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    const entry = { at: Date.now(), closedAt: Number.POSITIVE_INFINITY };
    accepted.push(entry);
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => {
      entry.closedAt = Date.now();
      sockets.delete(socket);
    });
    onConnection((text) => {
      if (socket.destroyed || !socket.writable) return;
      bytesSent += Buffer.byteLength(text);
      socket.write(text);
    }, socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
  });
  const address = server.address();
  assert.ok(address !== null && typeof address === 'object');
  return {
    port: address.port,
    closedAfterMs: () => accepted.map((a) => a.closedAt - a.at),
    bytesSent: () => bytesSent,
  };
}

/** Calls `write` every few milliseconds while the socket is open and not backed up. */
function stream(socket: net.Socket, write: () => void): void {
  const timer = setInterval(() => {
    if (socket.destroyed) clearInterval(timer);
    else if (socket.writableLength < 256 * 1024) write();
  }, 5);
  socket.on('close', () => clearInterval(timer));
}

async function settle(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

describe('httpProbe attempts are bounded whatever the server does', () => {
  const schedule = { count: 2, intervalMs: 50 };

  it('a server trickling header bytes forever: each attempt ends at its timeout and the connection is closed', async () => {
    const timeoutMs = 400;
    const peer = await startPeer((send, socket) => {
      send('HTTP/1.1 200 OK\r\n');
      stream(socket, () => send('X'));
    });
    const started = Date.now();
    const samples = await httpProbe({
      url: `http://127.0.0.1:${peer.port}/`,
      address: '127.0.0.1',
      ...schedule,
      timeoutMs,
    });
    const elapsedMs = Date.now() - started;
    // The handshake answered (the latency judged, one round trip); no request got a response.
    assert.equal(samples.rttsMs.filter((rtt) => typeof rtt === 'number').length, 2, JSON.stringify(samples));
    assert.deepEqual(samples.requestsMs, [null, null]);
    assert.match(samples.errors.join(';'), /timeout after 400 ms \(2 of 2\)|HPE_HEADER_OVERFLOW/);
    assert.ok(elapsedMs < 5 * (schedule.intervalMs + timeoutMs), `took ${elapsedMs} ms`);
    await settle(100);
    for (const closed of peer.closedAfterMs())
      assert.ok(closed < 5 * timeoutMs, `a connection stayed open ${closed} ms`);
  });

  it('a server sending endless header lines: the attempt fails on the header size bound, not at the timeout', async () => {
    const timeoutMs = 20_000;
    const peer = await startPeer((send, socket) => {
      send('HTTP/1.1 200 OK\r\n');
      stream(socket, () => send(`X-Filler: ${'y'.repeat(1000)}\r\n`.repeat(16)));
    });
    const started = Date.now();
    const samples = await httpProbe({
      url: `http://127.0.0.1:${peer.port}/`,
      address: '127.0.0.1',
      ...schedule,
      timeoutMs,
    });
    const elapsedMs = Date.now() - started;
    // The handshake answered (the latency judged, one round trip); no request got a response.
    assert.equal(samples.rttsMs.filter((rtt) => typeof rtt === 'number').length, 2, JSON.stringify(samples));
    assert.deepEqual(samples.requestsMs, [null, null]);
    assert.doesNotMatch(samples.errors.join(';'), /timeout/);
    assert.ok(elapsedMs < timeoutMs / 4, `took ${elapsedMs} ms`);
    await settle(100);
    for (const closed of peer.closedAfterMs())
      assert.ok(closed < timeoutMs / 4, `a connection stayed open ${closed} ms`);
  });

  it('a server that keeps streaming after the headers: the answer counts, the connection is closed at once', async () => {
    const timeoutMs = 20_000;
    const peer = await startPeer((send, socket) => {
      send('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n');
      stream(socket, () => send('z'.repeat(16 * 1024)));
    });
    const samples = await httpProbe({
      url: `http://127.0.0.1:${peer.port}/`,
      address: '127.0.0.1',
      ...schedule,
      timeoutMs,
    });
    assert.equal(samples.rttsMs.filter((rtt) => typeof rtt === 'number').length, 2, JSON.stringify(samples));
    await settle(200);
    for (const closed of peer.closedAfterMs())
      assert.ok(closed < timeoutMs / 4, `a connection stayed open ${closed} ms`);
  });

  it('https to a server that accepts and never speaks TLS: each attempt ends at its timeout', async () => {
    const timeoutMs = 400;
    const peer = await startPeer(() => undefined);
    const started = Date.now();
    const samples = await httpProbe({
      url: `https://127.0.0.1:${peer.port}/`,
      address: '127.0.0.1',
      ...schedule,
      timeoutMs,
    });
    const elapsedMs = Date.now() - started;
    // The handshake answered (the latency judged, one round trip); no request got a response.
    assert.equal(samples.rttsMs.filter((rtt) => typeof rtt === 'number').length, 2, JSON.stringify(samples));
    assert.deepEqual(samples.requestsMs, [null, null]);
    assert.deepEqual(samples.errors, ['no response: timeout after 400 ms (2 of 2)']);
    assert.ok(elapsedMs < 5 * (schedule.intervalMs + timeoutMs), `took ${elapsedMs} ms`);
  });
});

describe('tcpProbe attempts are bounded whatever the server does', () => {
  it('a server that streams after accepting: the connect time counts, nothing is read, the connection is closed', async () => {
    const timeoutMs = 20_000;
    const peer = await startPeer((send, socket) => stream(socket, () => send('w'.repeat(16 * 1024))));
    const samples = await tcpProbe({
      address: '127.0.0.1',
      port: peer.port,
      count: 2,
      intervalMs: 50,
      timeoutMs,
    });
    assert.equal(samples.rttsMs.filter((rtt) => typeof rtt === 'number').length, 2, JSON.stringify(samples));
    await settle(200);
    for (const closed of peer.closedAfterMs())
      assert.ok(closed < timeoutMs / 4, `a connection stayed open ${closed} ms`);
  });
});
