/**
 * The TCP and HTTP fallback probes end every attempt by its timeout and read
 * a bounded amount, whatever the server does: trickle headers forever, send
 * endless headers, keep streaming after the headers, never start TLS, or
 * stream after accepting a plain TCP connection. Loopback only.
 *
 * Times are judged against the probe's own deadlines (test/helpers/deadline.ts):
 * an attempt that must end at its timeout ends at it, and nearer it than the
 * server's own hang-up (what it would wait for without one); one that must end
 * on a size bound ends nearer its start than its timeout.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, describe, it } from 'node:test';
import { httpProbe } from '../../../agent/probes/http-probe.ts';
import { tcpProbe } from '../../../agent/probes/tcp-probe.ts';
import { assertEndedByDeadline, halfwayMs } from '../../helpers/deadline.ts';

interface Closed {
  /** How long after it was accepted the connection closed. */
  afterMs: number;
  /** Who closed it: the probe, or the server at its hang-up time. */
  by: 'client' | 'server';
}

interface Peer {
  port: number;
  /** Resolves once every connection accepted so far has closed. */
  closed: () => Promise<Closed[]>;
  bytesSent: () => number;
}

const cleanups: (() => void)[] = [];
after(() => {
  for (const cleanup of cleanups) cleanup();
});

/**
 * A loopback server; `onConnection` gets the socket and a `send` that counts
 * bytes and stops once it is closed. The server hangs up itself `hangUpAfterMs`
 * after accepting: what a probe without a deadline would wait for.
 */
async function startPeer(
  hangUpAfterMs: number,
  onConnection: (send: (text: string) => void, socket: net.Socket) => void,
): Promise<Peer> {
  const accepted: Promise<Closed>[] = [];
  const sockets = new Set<net.Socket>();
  let bytesSent = 0;
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    const at = Date.now();
    let by: Closed['by'] = 'client';
    const hangUp = setTimeout(() => {
      by = 'server';
      socket.destroy();
    }, hangUpAfterMs);
    accepted.push(
      new Promise((resolve) => {
        // The client's FIN ('end') is its close: this half-open side would stay open until it writes.
        const closed = (): void => {
          clearTimeout(hangUp);
          resolve({ afterMs: Date.now() - at, by });
        };
        socket.on('close', () => sockets.delete(socket));
        socket.once('end', closed);
        socket.once('close', closed);
        // Reads and drops what the client sends, so its FIN is seen.
        socket.resume();
      }),
    );
    sockets.add(socket);
    socket.on('error', () => undefined);
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
    closed: () => Promise.all(accepted),
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

/** Every connection was closed by the probe, nearer `expectedMs` after it was accepted than `alternativeMs`. */
async function assertClosedByProbe(peer: Peer, expectedMs: number, alternativeMs: number): Promise<void> {
  for (const { afterMs, by } of await peer.closed()) {
    assert.equal(by, 'client', `the server hung up after ${afterMs} ms: the probe kept the connection open`);
    assert.ok(
      afterMs < halfwayMs(expectedMs, alternativeMs),
      `a connection stayed open ${afterMs} ms: nearer ${alternativeMs} ms than ${expectedMs} ms`,
    );
  }
}

describe('httpProbe attempts are bounded whatever the server does', () => {
  const schedule = { count: 2, intervalMs: 50 };

  it('a server trickling header bytes forever: each attempt ends at its timeout and the connection is closed', async () => {
    const timeoutMs = 400;
    const hangUpMs = 10 * timeoutMs;
    const peer = await startPeer(hangUpMs, (send, socket) => {
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
    // The last attempt starts one interval after the first.
    if (samples.errors.join(';').includes('timeout after 400 ms (2 of 2)')) {
      assertEndedByDeadline(elapsedMs, {
        deadlineMs: schedule.intervalMs + timeoutMs,
        alternativeMs: schedule.intervalMs + hangUpMs,
        alternative: "the server's own hang-up",
      });
    }
    await assertClosedByProbe(peer, timeoutMs, hangUpMs);
  });

  it('a server sending endless header lines: the attempt fails on the header size bound, not at the timeout', async () => {
    const timeoutMs = 20_000;
    const peer = await startPeer(2 * timeoutMs, (send, socket) => {
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
    assert.ok(
      elapsedMs < halfwayMs(schedule.intervalMs, schedule.intervalMs + timeoutMs),
      `took ${elapsedMs} ms: nearer the ${timeoutMs} ms timeout than the size bound`,
    );
    await assertClosedByProbe(peer, 0, timeoutMs);
  });

  it('a server that keeps streaming after the headers: the answer counts, the connection is closed at once', async () => {
    const timeoutMs = 20_000;
    const peer = await startPeer(2 * timeoutMs, (send, socket) => {
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
    await assertClosedByProbe(peer, 0, timeoutMs);
  });

  it('https to a server that accepts and never speaks TLS: each attempt ends at its timeout', async () => {
    const timeoutMs = 400;
    const hangUpMs = 10 * timeoutMs;
    const peer = await startPeer(hangUpMs, () => undefined);
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
    assertEndedByDeadline(elapsedMs, {
      deadlineMs: schedule.intervalMs + timeoutMs,
      alternativeMs: schedule.intervalMs + hangUpMs,
      alternative: "the server's own hang-up",
    });
    await assertClosedByProbe(peer, timeoutMs, hangUpMs);
  });
});

describe('tcpProbe attempts are bounded whatever the server does', () => {
  it('a server that streams after accepting: the connect time counts, nothing is read, the connection is closed', async () => {
    const timeoutMs = 20_000;
    const peer = await startPeer(2 * timeoutMs, (send, socket) =>
      stream(socket, () => send('w'.repeat(16 * 1024))),
    );
    const samples = await tcpProbe({
      address: '127.0.0.1',
      port: peer.port,
      count: 2,
      intervalMs: 50,
      timeoutMs,
    });
    assert.equal(samples.rttsMs.filter((rtt) => typeof rtt === 'number').length, 2, JSON.stringify(samples));
    await assertClosedByProbe(peer, 0, timeoutMs);
  });
});
