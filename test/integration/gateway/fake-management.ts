/**
 * A tiny OpenVPN 2 management interface on loopback (TCP or a unix socket),
 * speaking the protocol the way manage.c does: a `>INFO:` greeting, CRLF
 * lines, one answer per command ending in `END`, `ERROR: unknown command`
 * for anything it was not given — or misbehaving on purpose.
 */
import net from 'node:net';

export const GREETING = ">INFO:OpenVPN Management Interface Version 5 -- type 'help' for more info\r\n";

/** What to send for a command: text written at once, or a function that writes (or withholds) it. */
export type Reply = string | ((socket: net.Socket) => void);

export interface FakeManagementOptions {
  /** Answers by command line (`state all`, `log 500`, `state`). */
  answers?: Record<string, Reply>;
  /** The first thing sent on connect: the greeting (default), a password prompt, or nothing. */
  opening?: 'greeting' | 'password' | 'silent';
  listen?: { host: string } | { path: string };
  /** Closes each connection this long after accepting it (default: never): an end a client without a deadline would wait for. */
  hangUpAfterMs?: number;
}

export interface FakeManagement {
  endpoint: string;
  /** Command lines received, in order, over all connections. */
  received: string[];
  /**
   * Resolves once `line` has been received: the client may return before its
   * last line (`quit`) reaches the server, so a test waits for it instead of
   * reading `received` at once (the test runner's timeout bounds the wait).
   */
  receivedLine: (line: string) => Promise<void>;
  close: () => Promise<void>;
}

export async function startFakeManagement(options: FakeManagementOptions = {}): Promise<FakeManagement> {
  const received: string[] = [];
  const waiting: { line: string; resolve: () => void }[] = [];
  const sockets = new Set<net.Socket>();
  const listen = options.listen ?? { host: '127.0.0.1' };
  const server = net.createServer((socket) => {
    sockets.add(socket);
    const hangUp =
      options.hangUpAfterMs === undefined
        ? undefined
        : setTimeout(() => socket.destroy(), options.hangUpAfterMs);
    socket.on('close', () => {
      sockets.delete(socket);
      clearTimeout(hangUp);
    });
    socket.on('error', () => socket.destroy());
    socket.setEncoding('utf8');
    const opening = options.opening ?? 'greeting';
    if (opening === 'greeting') socket.write(GREETING);
    if (opening === 'password') socket.write('ENTER PASSWORD:');
    let buffer = '';
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      let newline = buffer.indexOf('\n');
      while (newline !== -1) {
        const line = buffer.slice(0, newline).replace(/\r$/, '');
        buffer = buffer.slice(newline + 1);
        received.push(line);
        for (const w of waiting.filter((w) => w.line === line)) w.resolve();
        if (line === 'quit') {
          socket.end();
          return;
        }
        const reply = options.answers?.[line];
        if (reply === undefined)
          socket.write(`ERROR: unknown command [${line}], enter 'help' for more options\r\n`);
        else if (typeof reply === 'string') socket.write(reply);
        else reply(socket);
        newline = buffer.indexOf('\n');
      }
    });
  });
  if ('path' in listen) {
    await new Promise<void>((resolve) => server.listen(listen.path, resolve));
  } else {
    await new Promise<void>((resolve) => server.listen(0, listen.host, resolve));
  }
  const address = server.address();
  let endpoint = '';
  if ('path' in listen) endpoint = listen.path;
  else if (typeof address === 'object' && address !== null) {
    endpoint = net.isIPv6(listen.host)
      ? `[${listen.host}]:${address.port}`
      : `${listen.host}:${address.port}`;
  }
  return {
    endpoint,
    received,
    receivedLine: (line) =>
      received.includes(line) ? Promise.resolve() : new Promise((resolve) => waiting.push({ line, resolve })),
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** CRLF lines and the closing END, as manage.c prints an answer. */
export function answer(...lines: string[]): string {
  return [...lines, 'END'].map((line) => `${line}\r\n`).join('');
}
