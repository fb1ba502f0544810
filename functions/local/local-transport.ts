/**
 * Run Command on this machine: the CommandTransport the local round plugs in
 * where the Lambda plugs in SSM. send() generates the same SSM document as the
 * stack (ssm/document.ts, embedding the built agent), writes its step's script
 * the way the SSM Agent does, and runs it with `sh` once per instance id, the
 * parameters arriving only as SSM_<Name> environment variables (interpolation
 * type ENV_VAR). Invocation states and outputs mirror ListCommandInvocations
 * and GetCommandInvocation, including their output caps.
 *
 * The script runs through the agent's own process runner (run-process.ts):
 * the same timeout, process-group kill and bounded output drain, and an
 * environment that holds only the variables named here, never the rest of
 * this process's environment.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { runProcess } from '../../agent/process/run-process.ts';
import type { ProcessResult } from '../../agent/process/types.ts';
import {
  SEND_COMMAND_MAX_INSTANCE_IDS,
  SSM_STDERR_MAX_CHARS,
  SSM_STDOUT_MAX_CHARS,
} from '../../common/aws-limits.ts';
import { headOf } from '../../common/clip-text.ts';
import { InvalidInputError } from '../../common/errors.ts';
import { SSM_PARAMETERS, type SsmParameterName, ssmEnvName } from '../../common/ssm-parameters.ts';
import { buildDocument, type CommandDocument, documentScript, RUN_STEP_NAME } from '../../ssm/document.ts';
import type { CommandTransport, InvocationOutputs, InvocationState, SendCommandRequest } from '../ports.ts';

export { SSM_STDERR_MAX_CHARS, SSM_STDOUT_MAX_CHARS };

/** What is kept of the full output for the invocation's stdout/stderr files. */
const FILE_MAX_BYTES = 4_000_000;

export interface LocalTransportOptions {
  /** The agent bundle the document embeds (resolveAgentPath()). */
  agentPath: string;
  /** Per instance: `<workDir>/<instance-id>/cache` and the command's orchestration dir. */
  workDir: string;
  /** The document step's timeoutSeconds: a run past it is killed and reported TimedOut. */
  executionTimeoutSeconds: number;
  /**
   * Added to the script's environment, which otherwise holds only PATH (this
   * process's, then node's directory), HOME, the AWS_SSM_* variables the SSM
   * Agent sets, CCM_CACHE_DIR and the SSM_* parameters.
   */
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
  /** Stops the run in progress; null when none is. */
  stop: AbortController | null;
}

interface Command {
  id: string;
  invocations: Map<string, Invocation>;
}

const keepStart = headOf;

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
    inv.stop = null;
  };

  /** How the SSM Agent would report a finished run. */
  const outcome = (result: ProcessResult): [status: string, details: string] => {
    if (result.spawnError !== null) return ['Failed', 'Failed'];
    if (result.timedOut) return ['TimedOut', 'ExecutionTimedOut'];
    if (result.aborted && result.exitCode !== 0) return ['Cancelled', 'Cancelled'];
    return result.exitCode === 0 ? ['Success', 'Success'] : ['Failed', 'Failed'];
  };

  const run = async (
    commandId: string,
    inv: Invocation,
    script: string,
    ssmEnv: Record<string, string>,
  ): Promise<void> => {
    const dir = invocationDir(commandId, inv.instanceId);
    const cacheDir = join(options.workDir, inv.instanceId, 'cache');
    mkdirSync(dir, { recursive: true });
    const scriptPath = join(dir, '_script.sh');
    writeFileSync(scriptPath, script, { mode: 0o700 });
    const env: Record<string, string> = {
      // node's own directory last: the host's PATH decides, as on an EC2 host.
      // The script appends the system directories itself.
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
    const shell = options.shell ?? 'sh';
    const stop = new AbortController();
    inv.stop = stop;
    inv.status = 'InProgress';
    inv.statusDetails = 'InProgress';
    // SIGTERM at the timeout (or on close()) lets the agent release its round
    // lock and stop its mtr processes; whatever is left of the run's process
    // group is killed when the run ends, as under the SSM Agent.
    const result = await runProcess(shell, [scriptPath], {
      timeoutMs: options.executionTimeoutSeconds * 1000,
      env,
      cwd: dir,
      maxOutputBytes: FILE_MAX_BYTES,
      signal: stop.signal,
    });
    const stderr =
      result.spawnError === null
        ? result.stderr
        : `${result.stderr}could not start ${shell}: ${result.spawnError}\n`;
    writeFileSync(join(dir, 'stdout'), result.stdout);
    writeFileSync(join(dir, 'stderr'), stderr);
    inv.stdout = keepStart(result.stdout, SSM_STDOUT_MAX_CHARS);
    inv.stderr = keepStart(stderr, SSM_STDERR_MAX_CHARS);
    const [status, details] = outcome(result);
    finish(inv, status, details, result.exitCode);
  };

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
      void run(commandId, inv, script, ssmEnv)
        .catch((error: unknown) => {
          // Writing the script or its output failed: the run is over for SSM too.
          inv.stderr = keepStart(`local transport: ${String(error)}\n`, SSM_STDERR_MAX_CHARS);
          finish(inv, 'Failed', 'Failed', null);
        })
        .then(() => {
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
      const max = SEND_COMMAND_MAX_INSTANCE_IDS;
      if (ids.length < 1 || ids.length > max || new Set(ids).size !== ids.length) {
        throw new InvalidInputError('InstanceIds', ids, `1 to ${max} distinct instance ids`);
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
          stop: null,
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
        responseCode: inv.stop !== null || inv.status === 'Pending' ? -1 : inv.responseCode,
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
        // SIGTERM first, as at a timeout: the agent releases its lock and prints a document.
        for (const inv of command.invocations.values()) inv.stop?.abort();
      }
    },
  };
}
