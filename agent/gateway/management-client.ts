/**
 * A one-shot client for the OpenVPN 2 management interface: connect, wait for
 * the greeting, send read-only commands (`state all`, `log N`) one at a time,
 * read each answer up to `END`, say `quit`. The interface is a line protocol
 * with CRLF endings (manage.c); notifications (`>INFO:`, `>HOLD:`, `>LOG:`)
 * may arrive at any time and are ignored here. Bounded in time and bytes.
 */
import { createConnection, isIP, type Socket } from 'node:net';
import { excerpt, InvalidInputError, MonitorError } from '../../common/errors.ts';
import { isHostName } from './host-port.ts';

export type ManagementEndpoint = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string };

const FIELD = '--openvpn-management';
const ALLOWED =
  'host:port (IPv4 address, [IPv6 address]:port or a host name such as localhost, port 1-65535) ' +
  'or a unix socket path (/path/to/socket or unix:/path/to/socket)';

/** Validates and splits a management endpoint as the user wrote it (spaces not trimmed, as for every flag). */
export function parseManagementEndpoint(endpoint: string): ManagementEndpoint {
  const value = typeof endpoint === 'string' ? endpoint : '';
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

export interface ManagementAnswer {
  command: string;
  /** The answer's lines up to and including `END`, CRLF-terminated; null when it failed. */
  text: string | null;
  /** Why there is no answer (an `ERROR:` line, too long, no answer in time, connection closed). */
  error: string | null;
}

/** One answer may not exceed this (`state all` keeps 100 lines, `log N` N lines of at most 10 KiB). */
export const MAX_ANSWER_CHARS = 1024 * 1024;
/** Everything received in one session, notifications included: a server that streams forever is cut off. */
const MAX_RECEIVED_CHARS = 4 * 1024 * 1024;

/**
 * Returns the lines the interface sent in answer to `state`, up to and
 * including `END`. Rejects with MonitorError('E_GATEWAY') on a refused
 * connection, a password prompt, an `ERROR:` answer, an early close or a
 * timeout; with InvalidInputError for a malformed endpoint.
 */
export async function queryManagementState(endpoint: string, timeoutMs: number): Promise<string> {
  const [answer] = await queryManagement(endpoint, ['state'], timeoutMs);
  return answer?.text ?? '';
}

/**
 * Sends `commands` one after the other (each after the previous answer's
 * `END`) and returns their answers, then says `quit`. The whole exchange ends
 * within `timeoutMs` and MAX_RECEIVED_CHARS.
 *
 * The first command is required: when it fails (and on a refused connection,
 * a password prompt, no greeting, an early close, a timeout) the promise
 * rejects with MonitorError('E_GATEWAY'); InvalidInputError for a malformed
 * endpoint. A later command that fails gets `error` in its answer, and the
 * answers before it are kept.
 */
export async function queryManagement(
  endpoint: string,
  commands: readonly string[],
  timeoutMs: number,
): Promise<ManagementAnswer[]> {
  const target = parseManagementEndpoint(endpoint);
  const where = `OpenVPN management interface ${endpoint}`;
  if (commands.length === 0) return [];

  return new Promise<ManagementAnswer[]>((resolve, reject) => {
    const answers: ManagementAnswer[] = [];
    let buffer = '';
    let response = '';
    let received = 0;
    let phase: 'greeting' | 'answer' | 'done' = 'greeting';
    // handleLine() may finish the exchange; a function keeps TypeScript from narrowing `phase` across it.
    const done = (): boolean => phase === 'done';
    const socket: Socket =
      target.kind === 'unix'
        ? createConnection({ path: target.path })
        : createConnection({ host: target.host, port: target.port });
    const pending = (): string => commands[answers.length] ?? '';

    const settle = (): void => {
      phase = 'done';
      clearTimeout(timer);
      // Nothing more is read: whatever arrives until the socket closes is dropped.
      socket.removeAllListeners('data');
      // `quit` lets OpenVPN log a clean disconnect instead of a reset. The socket
      // is closed once it is sent, whatever the peer does next: one that keeps
      // talking must not hold the agent open or fill its memory.
      socket.end('quit\r\n', () => socket.destroy());
      resolve(answers);
    };
    /** A failure: fatal before the first answer, recorded for the pending command after it. */
    /** `cause`: the socket error behind the failure, if any. */
    const fail = (message: string, cause?: unknown): void => {
      if (phase === 'done') return;
      const seen = excerpt(response || buffer, 300);
      const full = seen === '' ? message : `${message}; received: ${seen}`;
      socket.removeAllListeners('data');
      if (answers.length === 0) {
        phase = 'done';
        clearTimeout(timer);
        socket.destroy();
        reject(new MonitorError('E_GATEWAY', full, cause === undefined ? undefined : { cause }));
        return;
      }
      const failed = answers.length;
      for (let index = failed; index < commands.length; index += 1) {
        answers.push({
          command: commands[index] ?? '',
          text: null,
          error: index === failed ? full : 'not sent',
        });
      }
      phase = 'done';
      clearTimeout(timer);
      socket.destroy();
      resolve(answers);
    };
    const send = (): void => {
      response = '';
      socket.write(`${pending()}\r\n`);
    };
    const answered = (text: string | null, error: string | null): void => {
      answers.push({ command: pending(), text, error });
      if (answers.length === commands.length) settle();
      else send();
    };

    const timer = setTimeout(() => {
      fail(
        `${where} did not ${phase === 'greeting' ? 'send its greeting' : `answer \`${pending()}\``} within ${Math.round(timeoutMs)} ms`,
      );
    }, timeoutMs);

    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      if (phase === 'done') return;
      received += chunk.length;
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
      while (newline !== -1 && !done()) {
        const line = buffer.slice(0, newline).replace(/\r$/, '');
        buffer = buffer.slice(newline + 1);
        handleLine(line);
        newline = buffer.indexOf('\n');
      }
      if (done()) return;
      if (buffer.length + response.length > MAX_ANSWER_CHARS) {
        fail(
          `${where} sent more than ${MAX_ANSWER_CHARS} characters without finishing the answer to \`${pending()}\``,
        );
      } else if (received > MAX_RECEIVED_CHARS) {
        fail(`${where} sent more than ${MAX_RECEIVED_CHARS} characters without finishing its answers`);
      }
    });

    const handleLine = (line: string): void => {
      if (phase === 'greeting') {
        // Any first line means the interface is talking; `>INFO:` is the usual greeting.
        phase = 'answer';
        send();
        return;
      }
      if (line.startsWith('ERROR:')) {
        const message = `${where} answered \`${pending()}\` with ${JSON.stringify(line)}`;
        if (answers.length === 0) fail(message);
        else answered(null, message);
        return;
      }
      // Notifications other than >STATE: are not part of the answer.
      if (line.startsWith('>') && !line.startsWith('>STATE:')) return;
      response += `${line}\r\n`;
      // A stray CR (`END\r\r\n`) must not hide the end of the answer.
      if (line.trimEnd() === 'END') answered(response, null);
    };

    socket.on('error', (error: NodeJS.ErrnoException) => {
      fail(`cannot talk to ${where}: ${error.code ?? error.message}`, error);
    });
    socket.on('close', () => {
      fail(`${where} closed the connection before ${phase === 'greeting' ? 'its greeting' : 'END'}`);
    });
  });
}
