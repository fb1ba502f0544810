import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import {
  MAX_ANSWER_CHARS,
  parseManagementEndpoint,
  queryManagement,
  queryManagementState,
} from '../../../agent/gateway/management-client.ts';
import { InvalidInputError, MonitorError } from '../../../common/errors.ts';
import { answer, type FakeManagement, type Reply, startFakeManagement } from './fake-management.ts';

const STATE_ANSWER = '1712345678,CONNECTED,SUCCESS,10.8.0.2,203.0.113.5,1194,192.0.2.10,51820\r\nEND\r\n';

const tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gateway-mgmt-test-'));
after(() => fs.rmSync(tempDir, { recursive: true, force: true }));

type Behaviour = 'normal' | 'password' | 'silent' | 'no-end' | 'error' | 'chunked';

/** A loopback server answering `state` the way OpenVPN 2.6 does (or failing to). */
function startBehaviour(
  behaviour: Behaviour,
  listen: { host: string } | { path: string } = { host: '127.0.0.1' },
): Promise<FakeManagement> {
  const replies: Record<Behaviour, Reply | undefined> = {
    normal: `>HOLD:Waiting for hold release:0\r\n${STATE_ANSWER}`,
    password: undefined,
    silent: undefined,
    'no-end': '1712345678,CONNECTED,SUCCESS,10.8.0.2,203.0.113.5,1194,,\r\n',
    error: undefined,
    chunked: (socket) => {
      // The answer split mid-line and mid-CRLF, as TCP may deliver it.
      const parts = ['1712345678,CONNECTED,SUC', 'CESS,10.8.0.2,203.0.11', '3.5,1194,,\r', '\nEN', 'D\r\n'];
      parts.forEach((part, index) => {
        setTimeout(() => socket.write(part), 10 * index);
      });
    },
  };
  const reply = replies[behaviour];
  return startFakeManagement({
    opening: behaviour === 'password' ? 'password' : behaviour === 'silent' ? 'silent' : 'greeting',
    answers: reply === undefined ? {} : { state: reply },
    listen,
  });
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
    const server = await startBehaviour('normal');
    try {
      // Act
      const answer = await queryManagementState(server.endpoint, 2000);

      // Assess
      assert.equal(answer, STATE_ANSWER);
      // A poll bound is a hang guard, not a speed limit: it costs nothing once `quit` has arrived.
      await waitFor(() => server.received.length >= 2, 30_000);
      await server.receivedLine('quit');
      assert.deepEqual(server.received, ['state', 'quit']);
    } finally {
      await server.close();
    }
  });

  it('reassembles an answer that arrives in pieces split inside lines and CRLF', async () => {
    const server = await startBehaviour('chunked');
    try {
      const answer = await queryManagementState(server.endpoint, 2000);

      assert.equal(answer, '1712345678,CONNECTED,SUCCESS,10.8.0.2,203.0.113.5,1194,,\r\nEND\r\n');
    } finally {
      await server.close();
    }
  });

  it('talks to a server on [::1] given as [v6]:port', async () => {
    const server = await startBehaviour('normal', { host: '::1' });
    try {
      assert.match(server.endpoint, /^\[::1\]:\d+$/);

      const answer = await queryManagementState(server.endpoint, 2000);

      assert.equal(answer, STATE_ANSWER);
    } finally {
      await server.close();
    }
  });

  it('rejects with E_GATEWAY naming the password prompt, which has no line ending', async () => {
    const server = await startBehaviour('password');
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
    const server = await startBehaviour('silent');
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
    const server = await startBehaviour('no-end');
    try {
      const error = await rejection(queryManagementState(server.endpoint, 300));

      assert.ok(error instanceof MonitorError);
      assert.match(error.message, /did not answer `state` within 300 ms; received: 1712345678,CONNECTED/);
    } finally {
      await server.close();
    }
  });

  it('rejects with the ERROR: line the interface answered', async () => {
    const server = await startBehaviour('error');
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
    const server = await startBehaviour('normal', { path: socketPath });
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

describe('queryManagement: several commands in one session', () => {
  const history = answer(
    '1712345600,CONNECTED,SUCCESS,10.8.0.2,203.0.113.5,1194,,',
    '1712345670,RECONNECTING,ping-restart,,,,,',
  );
  const cache = answer('1712345600,I,UDPv4 link remote: [AF_INET]203.0.113.5:1194');

  it('sends each command after the previous END and returns every answer, then quit', async () => {
    // Prepare
    const server = await startFakeManagement({ answers: { 'state all': history, 'log 500': cache } });
    try {
      // Act
      const answers = await queryManagement(server.endpoint, ['state all', 'log 500'], 2000);

      // Assess
      assert.deepEqual(answers, [
        { command: 'state all', text: history, error: null },
        { command: 'log 500', text: cache, error: null },
      ]);
      await waitFor(() => server.received.length >= 3, 1000);
      await server.receivedLine('quit');
      assert.deepEqual(server.received, ['state all', 'log 500', 'quit']);
    } finally {
      await server.close();
    }
  });

  it('accepts bare LF line endings as well as CRLF', async () => {
    const server = await startFakeManagement({ answers: { 'state all': history.replace(/\r\n/g, '\n') } });
    try {
      const [state] = await queryManagement(server.endpoint, ['state all'], 2000);

      assert.equal(state?.text, history);
    } finally {
      await server.close();
    }
  });

  it('keeps the first answer when a later command is refused with ERROR:', async () => {
    const server = await startFakeManagement({ answers: { 'state all': history } });
    try {
      const answers = await queryManagement(server.endpoint, ['state all', 'log 500'], 2000);

      assert.equal(answers[0]?.text, history);
      assert.equal(answers[1]?.text, null);
      assert.match(answers[1]?.error ?? '', /answered `log 500` with "ERROR: unknown command \[log 500\]/);
    } finally {
      await server.close();
    }
  });

  it('keeps the first answer when a later one never ends, within the one timeout', async () => {
    const server = await startFakeManagement({
      answers: { 'state all': history, 'log 500': '1712345600,I,Initialization Sequence Completed\r\n' },
    });
    try {
      const answers = await queryManagement(server.endpoint, ['state all', 'log 500'], 400);

      assert.equal(answers[0]?.text, history);
      assert.match(
        answers[1]?.error ?? '',
        /did not answer `log 500` within 400 ms; received: 1712345600,I,Init/,
      );
    } finally {
      await server.close();
    }
  });

  it('keeps the first answer when the interface closes the connection during the second', async () => {
    const server = await startFakeManagement({
      answers: {
        'state all': history,
        'log 500': (socket) => socket.end('1712345600,I,partial\r\n'),
      },
    });
    try {
      const answers = await queryManagement(server.endpoint, ['state all', 'log 500'], 2000);

      assert.equal(answers[0]?.text, history);
      assert.match(answers[1]?.error ?? '', /closed the connection before END/);
    } finally {
      await server.close();
    }
  });

  it('stops reading an answer longer than its bound instead of buffering it', async () => {
    // Prepare: a `state all` answer that grows past MAX_ANSWER_CHARS and never ends.
    const line = `1712345600,CONNECTED,SUCCESS,10.8.0.2,203.0.113.5,1194,,${'x'.repeat(1000)}\r\n`;
    const server = await startFakeManagement({
      answers: {
        'state all': (socket) => {
          for (let sent = 0; sent <= MAX_ANSWER_CHARS; sent += line.length * 64)
            socket.write(line.repeat(64));
        },
      },
    });
    try {
      const error = await rejection(queryManagement(server.endpoint, ['state all'], 20_000));

      assert.ok(error instanceof MonitorError);
      assert.match(
        error.message,
        new RegExp(
          `sent more than ${MAX_ANSWER_CHARS} characters without finishing the answer to \`state all\``,
        ),
      );
    } finally {
      await server.close();
    }
  });

  it('cuts off a server that streams notifications forever without answering', async () => {
    // Prepare: >LOG: lines are ignored, so only the byte bound can end this before the timeout.
    let flooding = true;
    const server = await startFakeManagement({
      answers: {
        'state all': (socket) => {
          const flood = (): void => {
            if (!flooding || socket.destroyed) return;
            socket.write('>LOG:1712345600,I,noise\r\n'.repeat(4096), () => setImmediate(flood));
          };
          flood();
        },
      },
    });
    try {
      const error = await rejection(queryManagement(server.endpoint, ['state all'], 60_000));

      assert.ok(error instanceof MonitorError);
      assert.match(error.message, /sent more than \d+ characters without finishing its answers/);
    } finally {
      flooding = false;
      await server.close();
    }
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
