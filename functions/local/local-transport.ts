/**
 * Run Command on this machine: the CommandTransport the local round plugs in
 * where the Lambda plugs in SSM. send() generates the same SSM document as the
 * stack (ssm/document.ts, embedding the built agent), writes its step's script
 * the way the SSM Agent does, and runs it with `sh` once per instance id, the
 * parameters arriving only as SSM_<Name> environment variables (interpolation
 * type ENV_VAR). Invocation states and outputs mirror ListCommandInvocations
 * and GetCommandInvocation, including their output caps.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { InvalidInputError } from '../../common/errors.ts';
import { SSM_PARAMETERS, type SsmParameterName, ssmEnvName } from '../../common/ssm-parameters.ts';
import { buildDocument, type CommandDocument, documentScript, RUN_STEP_NAME } from '../../ssm/document.ts';
import type { CommandTransport, InvocationOutputs, InvocationState, SendCommandRequest } from '../ports.ts';

/** GetCommandInvocation returns at most this much of stdout and stderr. */
export const SSM_STDOUT_MAX_CHARS = 24_000;
export const SSM_STDERR_MAX_CHARS = 8_000;

/** What is kept of the full output for the invocation's stdout/stderr files. */
const FILE_MAX_CHARS = 4_000_000;

/** SendCommand accepts 1 to 50 InstanceIds. */
const MAX_INSTANCE_IDS = 50;

export interface LocalTransportOptions {
  /** The agent bundle the document embeds (resolveAgentPath()). */
  agentPath: string;
  /** Per instance: `<workDir>/<instance-id>/cache` and the command's orchestration dir. */
  workDir: string;
  /** The document step's timeoutSeconds: a run past it is killed and reported TimedOut. */
  executionTimeoutSeconds: number;
  /** Added to the script's environment (e.g. PATH on a host with tools elsewhere). */
  env?: Record<string, string>;
  shell?: string;
  /**
   * Runs at a time. Every local "instance" is this machine and the agent keeps
   * one round per log dir (a lock), so the default runs them one after another.
   */
  concurrency?: number;
}

export interface LocalTransport extends CommandTransport {
  /** The generated document (built on the first send). */
  document(): CommandDocument;
  /** Where a run's _script.sh, stdout and stderr are written. */
  invocationDir(commandId: string, instanceId: string): string;
  /** Resolves once no run is pending or in progress. */
  idle(): Promise<void>;
  /** Kills every run in progress and drops pending ones (reported Cancelled). */
  close(): void;
}

interface Invocation {
  instanceId: string;
  status: string;
  statusDetails: string;
  responseCode: number | null;
  stdout: string;
  stderr: string;
  child: ChildProcess | null;
}

interface Command {
  id: string;
  invocations: Map<string, Invocation>;
}

/** Between SIGTERM and SIGKILL of a run past its timeout. */
const KILL_GRACE_MS = 2000;

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

function keepStart(text: string, max: number): string {
  return text.length > max ? text.slice(0, max) : text;
}

/** Checks Parameters as the SSM API does: known names, one value each, the allowedPattern; fills defaults. */
function environmentFor(
  document: CommandDocument,
  parameters: SendCommandRequest['parameters'],
): Record<string, string> {
  const known = new Set<string>(SSM_PARAMETERS.map((p) => p.name));
  for (const name of Object.keys(parameters)) {
    if (!known.has(name)) {
      throw new InvalidInputError('SendCommand Parameters', name, `one of ${[...known].join(', ')}`);
    }
  }
  const env: Record<string, string> = {};
  for (const spec of SSM_PARAMETERS) {
    const name: SsmParameterName = spec.name;
    const given: readonly string[] | undefined = parameters[name];
    const declared = document.parameters[name];
    if (given !== undefined && given.length !== 1) {
      throw new InvalidInputError(`SendCommand parameter ${name}`, given, 'exactly one value');
    }
    const value = given?.[0] ?? declared.default;
    if (!new RegExp(declared.allowedPattern).test(value)) {
      throw new InvalidInputError(
        `SendCommand parameter ${name}`,
        value,
        `a value matching the document pattern ${declared.allowedPattern}`,
      );
    }
    env[ssmEnvName(name)] = value;
  }
  return env;
}

export function createLocalTransport(options: LocalTransportOptions): LocalTransport {
  const commands = new Map<string, Command>();
  const waiting: (() => void)[] = [];
  const idleWaiters: (() => void)[] = [];
  const concurrency = Math.max(1, options.concurrency ?? 1);
  let running = 0;
  let pending = 0;
  let closed = false;
  let doc: CommandDocument | undefined;

  const getDocument = (): CommandDocument => {
    doc ??= buildDocument({
      agentPath: options.agentPath,
      executionTimeoutSeconds: options.executionTimeoutSeconds,
    });
    return doc;
  };
  const invocationDir = (commandId: string, instanceId: string): string =>
    join(options.workDir, instanceId, 'orchestration', commandId, RUN_STEP_NAME);

  const settleIdle = (): void => {
    if (running > 0 || pending > 0) return;
    for (const resolve of idleWaiters.splice(0)) resolve();
  };

  const finish = (inv: Invocation, status: string, details: string, code: number | null): void => {
    inv.status = status;
    inv.statusDetails = details;
    inv.responseCode = code;
    inv.child = null;
  };

  const run = (commandId: string, inv: Invocation, script: string, ssmEnv: Record<string, string>) =>
    new Promise<void>((done) => {
      const dir = invocationDir(commandId, inv.instanceId);
      const cacheDir = join(options.workDir, inv.instanceId, 'cache');
      mkdirSync(dir, { recursive: true });
      const scriptPath = join(dir, '_script.sh');
      writeFileSync(scriptPath, script, { mode: 0o700 });
      const env: Record<string, string> = {
        // node's own directory last: the host's PATH decides, as on an EC2 host.
        PATH: [process.env.PATH, dirname(process.execPath)]
          .filter((p) => p !== undefined && p !== '')
          .join(delimiter),
        HOME: process.env.HOME ?? cacheDir,
        AWS_SSM_INSTANCE_ID: inv.instanceId,
        AWS_SSM_REGION_NAME: 'local',
        CCM_CACHE_DIR: cacheDir,
        ...options.env,
        ...ssmEnv,
      };
      let stdout = '';
      let stderr = '';
      let settled = false;
      let timedOut = false;
      const child = spawn(options.shell ?? 'sh', [scriptPath], {
        cwd: dir,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
        // Its own process group, so a timeout kills the agent and its mtr too.
        detached: true,
      });
      inv.child = child;
      inv.status = 'InProgress';
      inv.statusDetails = 'InProgress';
      child.stdout?.setEncoding('utf8');
      child.stderr?.setEncoding('utf8');
      child.stdout?.on('data', (chunk: string) => {
        if (stdout.length < FILE_MAX_CHARS) stdout += chunk;
      });
      child.stderr?.on('data', (chunk: string) => {
        if (stderr.length < FILE_MAX_CHARS) stderr += chunk;
      });
      const killGroup = (signal: NodeJS.Signals = 'SIGKILL'): void => {
        if (child.pid !== undefined) signalGroup(child.pid, signal);
      };
      let hardKill: NodeJS.Timeout | undefined;
      const timer = setTimeout(() => {
        timedOut = true;
        // SIGTERM first: the agent then releases its round lock and stops its mtr processes.
        killGroup('SIGTERM');
        hardKill = setTimeout(() => killGroup('SIGKILL'), KILL_GRACE_MS);
      }, options.executionTimeoutSeconds * 1000);
      const end = (status: string, details: string, code: number | null): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        clearTimeout(hardKill);
        writeFileSync(join(dir, 'stdout'), stdout);
        writeFileSync(join(dir, 'stderr'), stderr);
        inv.stdout = keepStart(stdout, SSM_STDOUT_MAX_CHARS);
        inv.stderr = keepStart(stderr, SSM_STDERR_MAX_CHARS);
        finish(inv, status, details, code);
        done();
      };
      child.on('error', (error) => {
        stderr += `could not start ${options.shell ?? 'sh'}: ${error.message}\n`;
        end('Failed', 'Failed', null);
      });
      child.on('close', (code) => {
        // Leftovers of the script (a backgrounded process) die with the run, as under the SSM Agent.
        killGroup();
        if (timedOut) end('TimedOut', 'ExecutionTimedOut', code);
        else if (closed && code !== 0) end('Cancelled', 'Cancelled', code);
        else if (code === 0) end('Success', 'Success', 0);
        else end('Failed', 'Failed', code);
      });
    });

  const schedule = (commandId: string, inv: Invocation, script: string, ssmEnv: Record<string, string>) => {
    pending++;
    const start = (): void => {
      pending--;
      if (closed) {
        finish(inv, 'Cancelled', 'Cancelled', null);
        settleIdle();
        return;
      }
      running++;
      void run(commandId, inv, script, ssmEnv).then(() => {
        running--;
        waiting.shift()?.();
        settleIdle();
      });
    };
    if (running < concurrency) start();
    else waiting.push(start);
  };

  return {
    document: getDocument,
    invocationDir,

    async send(request) {
      if (closed) throw new Error('the local transport is closed');
      const ids = request.instanceIds;
      if (ids.length < 1 || ids.length > MAX_INSTANCE_IDS || new Set(ids).size !== ids.length) {
        throw new InvalidInputError('InstanceIds', ids, `1 to ${MAX_INSTANCE_IDS} distinct instance ids`);
      }
      const document = getDocument();
      const ssmEnv = environmentFor(document, request.parameters);
      const script = documentScript(document);
      const command: Command = { id: randomUUID(), invocations: new Map() };
      commands.set(command.id, command);
      for (const instanceId of ids) {
        const inv: Invocation = {
          instanceId,
          status: 'Pending',
          statusDetails: 'Pending',
          responseCode: null,
          stdout: '',
          stderr: '',
          child: null,
        };
        command.invocations.set(instanceId, inv);
        schedule(command.id, inv, script, ssmEnv);
      }
      return { commandId: command.id };
    },

    async listInvocations(commandId) {
      const command = commands.get(commandId);
      if (command === undefined) return [];
      return [...command.invocations.values()].map(
        (inv): InvocationState => ({
          instanceId: inv.instanceId,
          status: inv.status,
          statusDetails: inv.statusDetails,
        }),
      );
    },

    async getInvocation(commandId, instanceId) {
      const inv = commands.get(commandId)?.invocations.get(instanceId);
      if (inv === undefined) return null;
      const outputs: InvocationOutputs = {
        status: inv.status,
        statusDetails: inv.statusDetails,
        // SSM reports -1 until the run has an exit code.
        responseCode: inv.child !== null || inv.status === 'Pending' ? -1 : inv.responseCode,
        stdout: inv.stdout,
        stderr: inv.stderr,
      };
      return outputs;
    },

    idle() {
      return new Promise<void>((resolve) => {
        idleWaiters.push(resolve);
        settleIdle();
      });
    },

    close() {
      closed = true;
      for (const start of waiting.splice(0)) start();
      for (const command of commands.values()) {
        for (const inv of command.invocations.values()) {
          const pid = inv.child?.pid;
          // SIGTERM lets the agent release its lock; the run's close handler then kills what is left.
          if (pid !== undefined) signalGroup(pid, 'SIGTERM');
        }
      }
    },
  };
}
