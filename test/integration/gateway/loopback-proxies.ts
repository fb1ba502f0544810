/**
 * Minimal proxies on loopback addresses, for a real OpenVPN client to tunnel
 * through: an HTTP proxy that understands CONNECT, and a SOCKS5 proxy that
 * understands CONNECT without authentication (RFC 1928). Each records the
 * destinations it was asked for.
 */
import net from 'node:net';

export interface LoopbackProxy {
  host: string;
  port: number;
  /** `host:port` of every destination asked for. */
  requested: string[];
  close: () => Promise<void>;
}

function pipeBoth(client: net.Socket, upstream: net.Socket, rest: Buffer): void {
  if (rest.length > 0) upstream.write(rest);
  client.pipe(upstream);
  upstream.pipe(client);
}

async function listen(
  host: string,
  onConnection: (socket: net.Socket) => void,
  requested: string[],
): Promise<LoopbackProxy> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    onConnection(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    host,
    port,
    requested,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function connectUpstream(
  host: string,
  port: number,
  client: net.Socket,
  onUp: (upstream: net.Socket) => void,
): void {
  const upstream = net.connect(port, host, () => onUp(upstream));
  upstream.on('error', () => client.destroy());
  client.on('close', () => upstream.destroy());
  upstream.on('close', () => client.destroy());
}

/** `CONNECT host:port HTTP/1.x`, headers, blank line; answers `200 Connection established` once connected. */
export function startHttpConnectProxy(host: string): Promise<LoopbackProxy> {
  const requested: string[] = [];
  return listen(
    host,
    (client) => {
      let buffer = Buffer.alloc(0);
      const onData = (chunk: Buffer): void => {
        buffer = Buffer.concat([buffer, chunk]);
        const end = buffer.indexOf('\r\n\r\n');
        if (end === -1) return;
        client.off('data', onData);
        const match = /^CONNECT (\S+):(\d+) HTTP\/1\.[01]\r\n/.exec(
          buffer.subarray(0, end + 2).toString('latin1'),
        );
        if (match === null) {
          client.end('HTTP/1.0 400 Bad Request\r\n\r\n');
          return;
        }
        const [target, port] = [match[1] ?? '', Number(match[2])];
        requested.push(`${target}:${port}`);
        connectUpstream(target, port, client, (upstream) => {
          client.write('HTTP/1.0 200 Connection established\r\n\r\n');
          pipeBoth(client, upstream, buffer.subarray(end + 4));
        });
      };
      client.on('data', onData);
    },
    requested,
  );
}

/** SOCKS5: greeting (method 0 chosen), then CONNECT to a domain name or IPv4 address. */
export function startSocks5Proxy(host: string): Promise<LoopbackProxy> {
  const requested: string[] = [];
  return listen(
    host,
    (client) => {
      let buffer = Buffer.alloc(0);
      let greeted = false;
      const onData = (chunk: Buffer): void => {
        buffer = Buffer.concat([buffer, chunk]);
        if (!greeted) {
          if (buffer.length < 2 || buffer.length < 2 + (buffer[1] ?? 0)) return;
          buffer = buffer.subarray(2 + (buffer[1] ?? 0));
          client.write(Buffer.from([5, 0]));
          greeted = true;
        }
        if (buffer.length < 5) return;
        let target: string;
        let offset: number;
        if (buffer[3] === 3) {
          const length = buffer[4] ?? 0;
          if (buffer.length < 5 + length + 2) return;
          target = buffer.subarray(5, 5 + length).toString('latin1');
          offset = 5 + length;
        } else if (buffer[3] === 1) {
          if (buffer.length < 10) return;
          target = Array.from(buffer.subarray(4, 8)).join('.');
          offset = 8;
        } else {
          client.destroy();
          return;
        }
        client.off('data', onData);
        const port = buffer.readUInt16BE(offset);
        requested.push(`${target}:${port}`);
        const rest = buffer.subarray(offset + 2);
        connectUpstream(target, port, client, (upstream) => {
          client.write(Buffer.from([5, 0, 0, 1, 0, 0, 0, 0, 0, 0]));
          pipeBoth(client, upstream, rest);
        });
      };
      client.on('data', onData);
    },
    requested,
  );
}
