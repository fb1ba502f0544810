/**
 * A one-shot client for the OpenVPN 2 management interface: connect, wait for
 * the greeting, ask `state`, read up to `END`, say `quit`. The interface is a
 * line protocol with CRLF endings; notifications (`>INFO:`, `>HOLD:`, `>LOG:`)
 * may arrive at any time and are ignored here.
 */
import { createConnection, isIP, type Socket } from 'node:net';
import { excerpt, InvalidInputError, MonitorError } from '../../common/errors.ts';

export type ManagementEndpoint = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string };

const FIELD = '--openvpn-management';
const ALLOWED =
  'host:port (IPv4 address, [IPv6 address]:port or a host name such as localhost, port 1-65535) ' +
  'or a unix socket path (/path/to/socket or unix:/path/to/socket)';
const MAX_RESPONSE_CHARS = 1024 * 1024;

/** Validates and splits a management endpoint as the user wrote it. */
export function parseManagementEndpoint(endpoint: string): ManagementEndpoint {
  const value = typeof endpoint === 'string' ? endpoint.trim() : '';
  if (value.includes('\0') || value.length > 4096) throw new InvalidInputError(FIELD, endpoint, ALLOWED);
  if (value.startsWith('/')) return { kind: 'unix', path: value };
  if (value.startsWith('unix:')) {
    const path = value.slice('unix:'.length);
    if (!path.startsWith('/')) throw new InvalidInputError(FIELD, endpoint, ALLOWED);
    return { kind: 'unix', path };
  }
  const bracketed = /^\[([^\]]+)\]:(\d{1,5})$/.exec(value);
  if (bracketed !== null) {
    const host = bracketed[1] ?? '';
    const port = Number(bracketed[2]);
    if (isIP(host) === 6 && validPort(port)) return { kind: 'tcp', host, port };
    throw new InvalidInputError(FIELD, endpoint, ALLOWED);
  }
  const hostPort = /^([A-Za-z0-9.-]+):(\d{1,5})$/.exec(value);
  if (hostPort !== null) {
    const host = hostPort[1] ?? '';
    const port = Number(hostPort[2]);
    if (validPort(port) && (isIP(host) === 4 || isHostName(host))) return { kind: 'tcp', host, port };
  }
  throw new InvalidInputError(FIELD, endpoint, ALLOWED);
}

function validPort(port: number): boolean {
  return Number.isInteger(port) && port >= 1 && port <= 65_535;
}

function isHostName(host: string): boolean {
  if (host.length > 253 || /^[\d.]+$/.test(host)) return false;
  return host
    .replace(/\.$/, '')
    .split('.')
    .every((label) => /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/.test(label));
}

/**
 * Returns the lines the interface sent in answer to `state`, up to and
 * including `END`. Rejects with MonitorError('E_GATEWAY') on a refused
 * connection, a password prompt, an `ERROR:` answer, an early close or a
 * timeout; with InvalidInputError for a malformed endpoint.
 */
export async function queryManagementState(endpoint: string, timeoutMs: number): Promise<string> {
  const target = parseManagementEndpoint(endpoint);
  const where = `OpenVPN management interface ${endpoint}`;

  return new Promise<string>((resolve, reject) => {
    let buffer = '';
    let response = '';
    let phase: 'greeting' | 'state' | 'done' = 'greeting';
    const socket: Socket =
      target.kind === 'unix'
        ? createConnection({ path: target.path })
        : createConnection({ host: target.host, port: target.port });

    const finish = (error: MonitorError | null, text = ''): void => {
      if (phase === 'done') return;
      phase = 'done';
      clearTimeout(timer);
      // Nothing more is read: whatever arrives until the socket closes is dropped.
      socket.removeAllListeners('data');
      if (error === null) {
        // `quit` lets OpenVPN log a clean disconnect instead of a reset. The
        // socket is closed once it is sent, whatever the peer does next: one
        // that keeps talking must not hold the agent open or fill its memory.
        socket.end('quit\r\n', () => socket.destroy());
        resolve(text);
      } else {
        socket.destroy();
        reject(error);
      }
    };
    const fail = (message: string): void => {
      const seen = excerpt(response || buffer, 300);
      finish(new MonitorError('E_GATEWAY', seen === '' ? message : `${message}; received: ${seen}`));
    };

    const timer = setTimeout(() => {
      fail(
        `${where} did not ${phase === 'greeting' ? 'send its greeting' : 'answer `state`'} within ${timeoutMs} ms`,
      );
    }, timeoutMs);

    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      // The prompt has no line ending: it waits on the same line for the password.
      if (buffer.includes('ENTER PASSWORD:')) {
        fail(
          `${where} asks for a password (--management with a password file); ` +
            'the monitor does not send management passwords: use --openvpn-log or --gateway-ip instead',
        );
        return;
      }
      let newline = buffer.indexOf('\n');
      while (newline !== -1 && phase !== 'done') {
        const line = buffer.slice(0, newline).replace(/\r$/, '');
        buffer = buffer.slice(newline + 1);
        handleLine(line);
        newline = buffer.indexOf('\n');
      }
      if (buffer.length + response.length > MAX_RESPONSE_CHARS) {
        fail(`${where} sent more than ${MAX_RESPONSE_CHARS} characters without finishing the answer`);
      }
    });

    const handleLine = (line: string): void => {
      if (phase === 'greeting') {
        // Any first line means the interface is talking; `>INFO:` is the usual greeting.
        phase = 'state';
        socket.write('state\r\n');
        return;
      }
      if (line.startsWith('ERROR:')) {
        fail(`${where} answered \`state\` with ${JSON.stringify(line)}`);
        return;
      }
      // Notifications other than >STATE: are not part of the answer.
      if (line.startsWith('>') && !line.startsWith('>STATE:')) return;
      response += `${line}\r\n`;
      if (line === 'END') finish(null, response);
    };

    socket.on('error', (error: NodeJS.ErrnoException) => {
      fail(`cannot talk to ${where}: ${error.code ?? error.message}`);
    });
    socket.on('close', () => {
      fail(`${where} closed the connection before ${phase === 'greeting' ? 'its greeting' : 'END'}`);
    });
  });
}
