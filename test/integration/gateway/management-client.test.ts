import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { parseManagementEndpoint, queryManagementState } from '../../../agent/gateway/management-client.ts';
import { InvalidInputError, MonitorError } from '../../../common/errors.ts';

const GREETING = ">INFO:OpenVPN Management Interface Version 5 -- type 'help' for more info\r\n";
const STATE_ANSWER = '1712345678,CONNECTED,SUCCESS,10.8.0.2,203.0.113.5,1194,192.0.2.10,51820\r\nEND\r\n';

const tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gateway-mgmt-test-'));
after(() => fs.rmSync(tempDir, { recursive: true, force: true }));

type Behaviour = 'normal' | 'password' | 'silent' | 'no-end' | 'error' | 'chunked';

interface FakeManagement {
  endpoint: string;
  received: string[];
  close: () => Promise<void>;
}

/** A loopback server speaking the management protocol the way OpenVPN 2.6 does (or failing to). */
async function startFakeManagement(
  behaviour: Behaviour,
  listen: { host: string } | { path: string } = { host: '127.0.0.1' },
): Promise<FakeManagement> {
  const received: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.setEncoding('utf8');
    if (behaviour === 'password') socket.write('ENTER PASSWORD:');
    else if (behaviour !== 'silent') socket.write(GREETING);
    let buffer = '';
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      let newline = buffer.indexOf('\n');
      while (newline !== -1) {
        const line = buffer.slice(0, newline).replace(/\r$/, '');
        buffer = buffer.slice(newline + 1);
        received.push(line);
        if (line === 'state') answerState(socket);
        if (line === 'quit') socket.end();
        newline = buffer.indexOf('\n');
      }
    });
  });
  const answerState = (socket: net.Socket): void => {
    if (behaviour === 'normal') socket.write(`>HOLD:Waiting for hold release:0\r\n${STATE_ANSWER}`);
    if (behaviour === 'no-end') socket.write('1712345678,CONNECTED,SUCCESS,10.8.0.2,203.0.113.5,1194,,\r\n');
    if (behaviour === 'error')
      socket.write("ERROR: unknown command [state], enter 'help' for more options\r\n");
    if (behaviour === 'chunked') {
      // The answer split mid-line and mid-CRLF, as TCP may deliver it.
      const parts = ['1712345678,CONNECTED,SUC', 'CESS,10.8.0.2,203.0.11', '3.5,1194,,\r', '\nEN', 'D\r\n'];
      parts.forEach((part, index) => {
        setTimeout(() => socket.write(part), 10 * index);
      });
    }
  };
  if ('path' in listen) {
    await new Promise<void>((resolve) => server.listen(listen.path, resolve));
  } else {
    await new Promise<void>((resolve) => server.listen(0, listen.host, resolve));
  }
  const address = server.address();
  const endpoint =
    'path' in listen
      ? listen.path
      : typeof address === 'object' && address !== null
        ? net.isIPv6(listen.host)
          ? `[${listen.host}]:${address.port}`
          : `${listen.host}:${address.port}`
        : '';
  return {
    endpoint,
    received,
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

describe('queryManagementState over loopback TCP', () => {
  it('sends state after the greeting, returns the answer up to END, then sends quit', async () => {
    // Prepare
    const server = await startFakeManagement('normal');
    try {
      // Act
      const answer = await queryManagementState(server.endpoint, 2000);

      // Assess
      assert.equal(answer, STATE_ANSWER);
      // A poll bound is a hang guard, not a speed limit: it costs nothing once `quit` has arrived.
      await waitFor(() => server.received.length >= 2, 30_000);
      assert.deepEqual(server.received, ['state', 'quit']);
    } finally {
      await server.close();
    }
  });

  it('reassembles an answer that arrives in pieces split inside lines and CRLF', async () => {
    const server = await startFakeManagement('chunked');
    try {
      const answer = await queryManagementState(server.endpoint, 2000);

      assert.equal(answer, '1712345678,CONNECTED,SUCCESS,10.8.0.2,203.0.113.5,1194,,\r\nEND\r\n');
    } finally {
      await server.close();
    }
  });

  it('talks to a server on [::1] given as [v6]:port', async () => {
    const server = await startFakeManagement('normal', { host: '::1' });
    try {
      assert.match(server.endpoint, /^\[::1\]:\d+$/);

      const answer = await queryManagementState(server.endpoint, 2000);

      assert.equal(answer, STATE_ANSWER);
    } finally {
      await server.close();
    }
  });

  it('rejects with E_GATEWAY naming the password prompt, which has no line ending', async () => {
    const server = await startFakeManagement('password');
    try {
      const error = await rejection(queryManagementState(server.endpoint, 2000));

      assert.ok(error instanceof MonitorError);
      assert.equal(error.code, 'E_GATEWAY');
      assert.match(error.message, /asks for a password/);
      assert.deepEqual(server.received, []);
    } finally {
      await server.close();
    }
  });

  it('times out with E_GATEWAY when the server never greets', async () => {
    const server = await startFakeManagement('silent');
    try {
      const started = Date.now();

      const error = await rejection(queryManagementState(server.endpoint, 300));

      assert.ok(error instanceof MonitorError);
      assert.equal(error.code, 'E_GATEWAY');
      assert.match(error.message, /did not send its greeting within 300 ms/);
      // A floor only: the silent server would hold the connection for ever, which the runner's hang
      // guard catches; an absolute upper bound would only measure the machine's load.
      assert.ok(Date.now() - started >= 299, `gave up after ${Date.now() - started} ms, before 300 ms`);
    } finally {
      await server.close();
    }
  });

  it('times out with E_GATEWAY and shows what arrived when END never comes', async () => {
    const server = await startFakeManagement('no-end');
    try {
      const error = await rejection(queryManagementState(server.endpoint, 300));

      assert.ok(error instanceof MonitorError);
      assert.match(error.message, /did not answer `state` within 300 ms; received: 1712345678,CONNECTED/);
    } finally {
      await server.close();
    }
  });

  it('rejects with the ERROR: line the interface answered', async () => {
    const server = await startFakeManagement('error');
    try {
      const error = await rejection(queryManagementState(server.endpoint, 2000));

      assert.ok(error instanceof MonitorError);
      assert.match(error.message, /answered `state` with "ERROR: unknown command/);
    } finally {
      await server.close();
    }
  });

  it('rejects with E_GATEWAY and ECONNREFUSED when nothing listens', async () => {
    // Prepare: a port that was free a moment ago.
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const address = probe.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    await new Promise<void>((resolve) => probe.close(() => resolve()));

    const error = await rejection(queryManagementState(`127.0.0.1:${port}`, 2000));

    assert.ok(error instanceof MonitorError);
    assert.equal(error.code, 'E_GATEWAY');
    assert.match(error.message, /ECONNREFUSED/);
  });
});

describe('queryManagementState over a unix socket', () => {
  it('accepts a plain path and a unix: prefixed path', async () => {
    const socketPath = path.join(tempDir, 'mgmt.sock');
    const server = await startFakeManagement('normal', { path: socketPath });
    try {
      assert.equal(await queryManagementState(socketPath, 2000), STATE_ANSWER);
      assert.equal(await queryManagementState(`unix:${socketPath}`, 2000), STATE_ANSWER);
    } finally {
      await server.close();
    }
  });

  it('rejects with E_GATEWAY and ENOENT for a socket path that does not exist', async () => {
    const error = await rejection(queryManagementState(path.join(tempDir, 'absent.sock'), 2000));

    assert.ok(error instanceof MonitorError);
    assert.match(error.message, /ENOENT/);
  });
});

describe('parseManagementEndpoint', () => {
  it('splits IPv4, bracketed IPv6, host name and unix forms', () => {
    assert.deepEqual(parseManagementEndpoint('127.0.0.1:7505'), {
      kind: 'tcp',
      host: '127.0.0.1',
      port: 7505,
    });
    assert.deepEqual(parseManagementEndpoint('[::1]:7505'), { kind: 'tcp', host: '::1', port: 7505 });
    assert.deepEqual(parseManagementEndpoint('localhost:7505'), {
      kind: 'tcp',
      host: 'localhost',
      port: 7505,
    });
    assert.deepEqual(parseManagementEndpoint('/run/openvpn/mgmt'), {
      kind: 'unix',
      path: '/run/openvpn/mgmt',
    });
    assert.deepEqual(parseManagementEndpoint('unix:/run/x.sock'), { kind: 'unix', path: '/run/x.sock' });
  });

  it('rejects malformed endpoints with InvalidInputError naming the value and the allowed forms', () => {
    for (const bad of [
      '',
      '127.0.0.1',
      '127.0.0.1:0',
      '127.0.0.1:65536',
      '::1:7505',
      '[nope]:1',
      'unix:',
      'unix:rel',
      'a b:1',
      '-x:1',
    ]) {
      assert.throws(
        () => parseManagementEndpoint(bad),
        (error: unknown) =>
          error instanceof InvalidInputError &&
          error.field === '--openvpn-management' &&
          error.value === bad &&
          /unix socket path/.test(error.message),
        `expected ${JSON.stringify(bad)} to be rejected`,
      );
    }
  });

  it('queryManagementState rejects a malformed endpoint before connecting', async () => {
    const error = await rejection(queryManagementState('127.0.0.1', 1000));

    assert.ok(error instanceof InvalidInputError);
  });
});

async function waitFor(condition: () => boolean, withinMs: number): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!condition() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
}
