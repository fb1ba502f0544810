/**
 * Loopback TCP ports for fallback tests: one that answers, and one that stays
 * silent (SYNs get no answer at all, as from a host behind a firewall that
 * drops), which loopback never gives by itself: a closed port answers RST.
 *
 * The silent port is a listener in a child process whose event loop is
 * blocked, so it never accepts; once its accept queue (backlog 1) is full,
 * Linux drops further SYNs. The queue is filled here and held until stop().
 */
import { spawn } from 'node:child_process';
import { createServer, Socket } from 'node:net';

const LISTENER = `
const net = require('net');
const server = net.createServer();
server.listen({ host: process.argv[1], port: 0, backlog: 1 }, () => {
  process.stdout.write(server.address().port + '\\n');
  // Block the event loop: nothing is ever accepted.
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Number(process.argv[2]));
  process.exit(0);
});
`;

export interface TestPort {
  port: number;
  /** Connections accepted (answering port only). */
  connections: () => number;
  stop: () => Promise<void>;
}

/** A port on `host` that accepts every connection and closes it. */
export async function answeringPort(host: string): Promise<TestPort> {
  let connections = 0;
  const server = createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return {
    port: address.port,
    connections: () => connections,
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** Resolves true when a connection to host:port is established within timeoutMs. */
function connects(host: string, port: number, timeoutMs: number, held: Socket[]): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    held.push(socket);
    const timer = setTimeout(() => resolve(false), timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve(true);
    });
    socket.once('error', () => {
      clearTimeout(timer);
      resolve(false);
    });
    socket.connect({ host, port });
  });
}

/**
 * A port on `host` whose SYNs get no answer for up to `lifetimeMs`. Throws when
 * the kernel keeps answering (the port would not be silent).
 */
export async function silentPort(host: string, lifetimeMs = 120_000): Promise<TestPort> {
  const child = spawn(process.execPath, ['-e', LISTENER, host, String(lifetimeMs)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`silent listener exited with ${code}`)));
    child.stdout.once('data', (data: Buffer) => resolve(Number(String(data).trim())));
  });
  const held: Socket[] = [];
  const stop = async (): Promise<void> => {
    for (const socket of held) socket.destroy();
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
  };
  // Fill the accept queue: connections complete until it is full, then SYNs are dropped.
  for (let attempt = 0; attempt < 8; attempt++) {
    if (!(await connects(host, port, 300, held))) {
      return { port, connections: () => 0, stop };
    }
  }
  await stop();
  throw new Error(`${host}:${port} kept accepting connections: cannot make a silent port`);
}
