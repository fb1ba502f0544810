/**
 * The management client ends by its timeout and reads a bounded amount,
 * whatever the peer at --openvpn-management does: keep talking after END,
 * never send END, or stream without line endings. Loopback only.
 *
 * Times are judged against the client's own deadline (test/helpers/deadline.ts):
 * what must end at the timeout ends at it, nearer it than the peer's own
 * hang-up (what the client would wait for without one); what must end at once
 * ends nearer its start than the timeout.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import { queryManagementState } from '../../../agent/gateway/management-client.ts';
import { MonitorError } from '../../../common/errors.ts';
import { assertEndedByDeadline, halfwayMs } from '../../helpers/deadline.ts';

const GREETING = ">INFO:OpenVPN Management Interface Version 5 -- type 'help' for more info\r\n";
const STATE_ANSWER = '1712345678,CONNECTED,SUCCESS,10.8.0.2,203.0.113.5,1194,192.0.2.10,51820\r\nEND\r\n';

interface Gone {
  /** Milliseconds from the arrival of `state` to the close (-1: `state` never came). */
  afterMs: number;
  /** Who ended the connection: the client, or the peer at its hang-up time. */
  by: 'client' | 'peer';
}

interface Peer {
  endpoint: string;
  /** Resolves when the connection has closed. */
  clientGone: Promise<Gone>;
  /** Bytes written to the client. */
  sent: () => number;
  close: () => Promise<void>;
}

/**
 * A peer that greets, and once `state` arrives starts `stream` (called every
 * few milliseconds until the client goes away); it never closes on `quit`,
 * only `hangUpAfterMs` after it accepted the connection.
 */
async function startPeer(
  hangUpAfterMs: number,
  onState: (socket: net.Socket) => void,
  stream: () => string,
): Promise<Peer> {
  let sent = 0;
  let resolveGone: (gone: Gone) => void = () => undefined;
  const clientGone = new Promise<Gone>((resolve) => {
    resolveGone = resolve;
  });
  const sockets = new Set<net.Socket>();
  // allowHalfOpen: the client's FIN (after `quit`) does not end this side, as with a peer that ignores it.
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    let stateAt = 0;
    let timer: NodeJS.Timeout | undefined;
    let by: Gone['by'] = 'client';
    const hangUp = setTimeout(() => {
      by = 'peer';
      socket.destroy();
    }, hangUpAfterMs);
    // The client's FIN ('end') is its close: this half-open side would stay open until it writes.
    const gone = (): void => {
      clearTimeout(hangUp);
      if (timer !== undefined) clearInterval(timer);
      resolveGone({ afterMs: stateAt === 0 ? -1 : Date.now() - stateAt, by });
    };
    socket.on('error', () => undefined);
    socket.once('end', gone);
    socket.once('close', gone);
    socket.on('close', () => sockets.delete(socket));
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
    const timeoutMs = 30_000;
    const peer = await startPeer(
      2 * timeoutMs,
      (socket) => socket.write(STATE_ANSWER),
      () => '>BYTECOUNT:123456,654321\r\n'.repeat(100),
    );
    try {
      // Act
      const answer = await queryManagementState(peer.endpoint, timeoutMs);
      const gone = await peer.clientGone;
      // Assess: closed by the client on END, not at its timeout (nor by the peer's hang-up).
      assert.match(answer, /CONNECTED,SUCCESS/);
      assert.equal(gone.by, 'client', `the peer hung up after ${gone.afterMs} ms`);
      assert.ok(
        gone.afterMs < halfwayMs(0, timeoutMs),
        `the client kept the connection ${gone.afterMs} ms after END: nearer its ${timeoutMs} ms timeout`,
      );
    } finally {
      await peer.close();
    }
  });

  it('ends at the timeout when notifications keep coming and END never does', async () => {
    const timeoutMs = 500;
    const hangUpMs = 10 * timeoutMs;
    const peer = await startPeer(
      hangUpMs,
      () => undefined,
      () => '>LOG:1712345678,,MANAGEMENT: Client connected\r\n'.repeat(20),
    );
    try {
      const started = Date.now();
      const error = await rejection(queryManagementState(peer.endpoint, timeoutMs));
      const elapsedMs = Date.now() - started;
      assert.ok(error instanceof MonitorError);
      assert.match(error.message, /did not answer `state` within 500 ms/);
      assertEndedByDeadline(elapsedMs, {
        deadlineMs: timeoutMs,
        alternativeMs: hangUpMs,
        alternative: "the peer's own hang-up",
      });
      const gone = await peer.clientGone;
      assert.equal(gone.by, 'client', `the client left the connection open until the peer hung up`);
    } finally {
      await peer.close();
    }
  });

  it('stops reading a stream without line endings at the size bound, before the timeout', async () => {
    // Prepare: a peer that is not OpenVPN (or is broken) and streams bytes with no newline.
    const timeoutMs = 30_000;
    const peer = await startPeer(
      2 * timeoutMs,
      () => undefined,
      () => 'x'.repeat(64 * 1024),
    );
    try {
      const started = Date.now();
      const error = await rejection(queryManagementState(peer.endpoint, timeoutMs));
      const elapsedMs = Date.now() - started;
      assert.ok(error instanceof MonitorError);
      assert.match(error.message, /sent more than \d+ characters without finishing the answer/);
      assert.ok(
        elapsedMs < halfwayMs(0, timeoutMs),
        `ended after ${elapsedMs} ms: nearer its ${timeoutMs} ms timeout than the size bound`,
      );
      assert.ok(error.message.length < 2_000, 'the error carries an excerpt, not the stream');
    } finally {
      await peer.close();
    }
  });
});
