/**
 * The management client ends by its timeout and reads a bounded amount,
 * whatever the peer at --openvpn-management does: keep talking after END,
 * never send END, or stream without line endings. Loopback only.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import { queryManagementState } from '../../../agent/gateway/management-client.ts';
import { MonitorError } from '../../../common/errors.ts';

const GREETING = ">INFO:OpenVPN Management Interface Version 5 -- type 'help' for more info\r\n";
const STATE_ANSWER = '1712345678,CONNECTED,SUCCESS,10.8.0.2,203.0.113.5,1194,192.0.2.10,51820\r\nEND\r\n';

interface Peer {
  endpoint: string;
  /** Resolves when the client's connection has closed; with the time it took since `state` arrived. */
  clientGone: Promise<number>;
  /** Bytes written to the client. */
  sent: () => number;
  close: () => Promise<void>;
}

/**
 * A peer that greets, and once `state` arrives starts `stream` (called every
 * few milliseconds until the client goes away); it never closes on `quit`.
 */
async function startPeer(onState: (socket: net.Socket) => void, stream: () => string): Promise<Peer> {
  let sent = 0;
  let resolveGone: (ms: number) => void = () => undefined;
  const clientGone = new Promise<number>((resolve) => {
    resolveGone = resolve;
  });
  const sockets = new Set<net.Socket>();
  // allowHalfOpen: the client's FIN (after `quit`) does not end this side, as with a peer that ignores it.
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    let stateAt = 0;
    let timer: NodeJS.Timeout | undefined;
    socket.on('error', () => undefined);
    socket.on('close', () => {
      sockets.delete(socket);
      if (timer !== undefined) clearInterval(timer);
      resolveGone(stateAt === 0 ? -1 : Date.now() - stateAt);
    });
    socket.write(GREETING);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      if (stateAt !== 0 || !chunk.includes('state\r\n')) return;
      stateAt = Date.now();
      onState(socket);
      timer = setInterval(() => {
        if (socket.destroyed || socket.writableLength > 1024 * 1024) return;
        const text = stream();
        sent += Buffer.byteLength(text);
        socket.write(text);
      }, 2);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    endpoint: `127.0.0.1:${port}`,
    clientGone,
    sent: () => sent,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  assert.fail('expected a rejection');
}

describe('queryManagementState is bounded in time and memory', () => {
  it('closes the connection after END even when the peer keeps streaming and ignores quit', async () => {
    // Prepare: END, then real-time notifications forever (as with `bytecount 1`), quit ignored.
    const timeoutMs = 2_000;
    const peer = await startPeer(
      (socket) => socket.write(STATE_ANSWER),
      () => '>BYTECOUNT:123456,654321\r\n'.repeat(100),
    );
    try {
      // Act
      const answer = await queryManagementState(peer.endpoint, timeoutMs);
      const goneAfterMs = await Promise.race([
        peer.clientGone,
        new Promise<number>((resolve) => setTimeout(() => resolve(Number.POSITIVE_INFINITY), 4 * timeoutMs)),
      ]);
      // Assess
      assert.match(answer, /CONNECTED,SUCCESS/);
      assert.ok(goneAfterMs < timeoutMs, `the client kept the connection ${goneAfterMs} ms after END`);
    } finally {
      await peer.close();
    }
  });

  it('ends at the timeout when notifications keep coming and END never does', async () => {
    const timeoutMs = 500;
    const peer = await startPeer(
      () => undefined,
      () => '>LOG:1712345678,,MANAGEMENT: Client connected\r\n'.repeat(20),
    );
    try {
      const started = Date.now();
      const error = await rejection(queryManagementState(peer.endpoint, timeoutMs));
      const elapsedMs = Date.now() - started;
      assert.ok(error instanceof MonitorError);
      assert.match(error.message, /did not answer `state` within 500 ms/);
      assert.ok(elapsedMs < 10 * timeoutMs, `ended after ${elapsedMs} ms`);
      assert.ok(
        (await Promise.race([
          peer.clientGone,
          new Promise<number>((r) => setTimeout(() => r(-2), 2_000)),
        ])) !== -2,
        'the client closed the connection',
      );
    } finally {
      await peer.close();
    }
  });

  it('stops reading a stream without line endings at the size bound, before the timeout', async () => {
    // Prepare: a peer that is not OpenVPN (or is broken) and streams bytes with no newline.
    const timeoutMs = 30_000;
    const peer = await startPeer(
      () => undefined,
      () => 'x'.repeat(64 * 1024),
    );
    try {
      const started = Date.now();
      const error = await rejection(queryManagementState(peer.endpoint, timeoutMs));
      const elapsedMs = Date.now() - started;
      assert.ok(error instanceof MonitorError);
      assert.match(error.message, /sent more than \d+ characters without finishing the answer/);
      assert.ok(elapsedMs < timeoutMs / 2, `ended after ${elapsedMs} ms`);
      assert.ok(error.message.length < 2_000, 'the error carries an excerpt, not the stream');
    } finally {
      await peer.close();
    }
  });
});
