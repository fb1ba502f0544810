/**
 * The ports dispatch and collection depend on. The Lambda functions plug in
 * the AWS adapters (functions/aws/*); a local run plugs in a transport that
 * runs the agent on this machine and sinks that write files.
 */
import { MonitorError } from '../common/errors.ts';
import type { QueuedJob } from './collect/records-job.ts';
import type { SsmParameters } from './dispatch/host-settings.ts';
import type { Discovery } from './enrollment/discover-instances.ts';

export interface SendCommandRequest {
  instanceIds: string[];
  parameters: SsmParameters;
  comment: string;
}

export interface InvocationState {
  instanceId: string;
  status: string;
  statusDetails: string;
}

export interface InvocationOutputs {
  status: string;
  statusDetails: string;
  responseCode: number | null;
  stdout: string;
  stderr: string;
}

/**
 * SSM refused a whole SendCommand because of some of its instances
 * (InvalidInstanceId: terminating, terminated, no longer registered, SSM Agent
 * not running). The other instances of the call were not sent either; the
 * dispatcher isolates the refused ones (functions/dispatch/send-isolating.ts).
 */
export class InstancesRefusedError extends MonitorError {
  /** The service's error name, e.g. InvalidInstanceId. */
  readonly errorName: string;
  /** The service's message as given (may be empty). */
  readonly detail: string;
  /** Instance ids the message names (SSM does not always name them). */
  readonly named: string[];
  constructor(errorName: string, message: string, named: string[], options?: { cause?: unknown }) {
    super('E_INSTANCE_REFUSED', `${errorName}: ${message === '' ? '(no message)' : message}`, options);
    this.errorName = errorName;
    this.detail = message;
    this.named = named;
  }
}

export interface CommandTransport {
  /** Rejects with InstancesRefusedError when SSM refuses the call because of some of its instances. */
  send(request: SendCommandRequest): Promise<{ commandId: string }>;
  /** Invocations SSM knows for the command; hosts not yet listed are still pending. */
  listInvocations(commandId: string): Promise<InvocationState[]>;
  /** `null` while SSM has no invocation for the host yet (InvocationDoesNotExist). */
  getInvocation(commandId: string, instanceId: string): Promise<InvocationOutputs | null>;
}

export interface JobQueue {
  enqueue(job: QueuedJob, delaySeconds: number): Promise<void>;
}

/** Why an instance cannot take a command now, e.g. `EC2 state shutting-down` or `SSM PingStatus ConnectionLost`. */
export interface IneligibleInstance {
  instanceId: string;
  reason: string;
  pingStatus: string;
  lastPingAt: string | null;
}

export interface Inventory {
  discover(): Promise<Discovery>;
  /**
   * Looks again at a few instances (at most 50) that SSM just refused, and
   * returns those that are no longer running in EC2 or Online in SSM. Optional:
   * without it, refused instances are isolated by sending smaller commands.
   */
  recheck?(instanceIds: string[]): Promise<IneligibleInstance[]>;
}
