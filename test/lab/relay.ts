/**
 * Handle on one tun_relay.py process: a delay line joining two namespaces.
 * The relay reads commands on stdin and answers one line each on stdout; closing
 * stdin ends it, so it dies with the lab process even after a crash.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import path from 'node:path';
import { ProcessError } from '../../common/errors.ts';
import { isAlive, terminate } from './run.ts';

const RELAY_SCRIPT = path.join(__dirname, 'tun_relay.py');

export interface RelayEnd {
  namespace: string;
  ifname: string;
}

export class Relay {
  readonly pid: number;
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly command: string[];
  private buffered = '';
  private stderr = '';
  private readonly waiting: Array<(line: string) => void> = [];
  private queue: Promise<unknown> = Promise.resolve();
  private exited = false;

  private constructor(child: ChildProcessWithoutNullStreams, command: string[]) {
    this.child = child;
    this.command = command;
    if (child.pid === undefined) throw this.failure('did not start');
    this.pid = child.pid;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      this.buffered += chunk;
      let newline = this.buffered.indexOf('\n');
      while (newline >= 0) {
        const line = this.buffered.slice(0, newline);
        this.buffered = this.buffered.slice(newline + 1);
        this.waiting.shift()?.(line);
        newline = this.buffered.indexOf('\n');
      }
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk;
    });
    child.stdin.on('error', () => {});
    child.on('exit', () => {
      this.exited = true;
      for (const resolve of this.waiting.splice(0)) resolve('');
    });
  }

  /** Starts the relay and resolves once both TUN devices exist (still down, no address). */
  static async start(a: RelayEnd, b: RelayEnd, timeoutMs = 10_000): Promise<Relay> {
    const args = [RELAY_SCRIPT, a.namespace, a.ifname, b.namespace, b.ifname];
    const child = spawn('python3', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    // a lab the caller forgot to destroy must not keep the test process alive; when
    // the process exits, the relay sees EOF on stdin and ends itself
    child.unref();
    for (const stream of [child.stdin, child.stdout, child.stderr]) unrefStream(stream);
    const relay = new Relay(child, ['python3', ...args]);
    const line = await relay.nextLine(timeoutMs);
    if (line !== 'ready') {
      await relay.stop();
      throw relay.failure(`did not report ready (got ${JSON.stringify(line)})`);
    }
    return relay;
  }

  /** Sets the one-way delay of each direction, effective for the next packet read. */
  async setDelay(aToBMs: number, bToAMs: number): Promise<void> {
    const answer = await this.request(`delay ${aToBMs} ${bToAMs}`);
    if (!answer.startsWith('ok')) throw this.failure(`refused delay ${aToBMs}/${bToAMs} ms: ${answer}`);
  }

  /** Packets forwarded in each direction since start. */
  async stats(): Promise<{ aToB: number; bToA: number; queued: number }> {
    const answer = await this.request('stats');
    const value = (key: string): number =>
      Number(new RegExp(`${key}=(\\d+)`).exec(answer)?.[1] ?? Number.NaN);
    return { aToB: value('a_to_b'), bToA: value('b_to_a'), queued: value('queued') };
  }

  get running(): boolean {
    return !this.exited && isAlive(this.pid);
  }

  async stop(): Promise<void> {
    this.child.stdin.end();
    if (!this.exited) await terminate([this.pid], 1000);
  }

  private request(line: string): Promise<string> {
    const next = this.queue.then(async () => {
      if (this.exited) throw this.failure('has exited');
      const answer = this.nextLine(5000);
      this.child.stdin.write(`${line}\n`);
      return answer;
    });
    this.queue = next.catch(() => {});
    return next;
  }

  private nextLine(timeoutMs: number): Promise<string> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const index = this.waiting.indexOf(done);
        if (index >= 0) this.waiting.splice(index, 1);
        reject(this.failure(`did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = (line: string): void => {
        clearTimeout(timer);
        resolve(line);
      };
      this.waiting.push(done);
    });
  }

  private failure(what: string): ProcessError {
    return new ProcessError('E_PROCESS', `TUN relay ${this.command.slice(2).join(' ')} ${what}`, {
      command: this.command,
      exitCode: this.child.exitCode,
      signal: this.child.signalCode,
      stderr: this.stderr,
    });
  }
}

function unrefStream(stream: unknown): void {
  (stream as { unref?: () => void }).unref?.();
}
