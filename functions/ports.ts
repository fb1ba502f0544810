/**
 * The ports dispatch and collection depend on. The Lambda functions plug in
 * the AWS adapters (functions/aws/*); a local run plugs in a transport that
 * runs the agent on this machine and sinks that write files.
 */
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

export interface CommandTransport {
  send(request: SendCommandRequest): Promise<{ commandId: string }>;
  /** Invocations SSM knows for the command; hosts not yet listed are still pending. */
  listInvocations(commandId: string): Promise<InvocationState[]>;
  /** `null` while SSM has no invocation for the host yet (InvocationDoesNotExist). */
  getInvocation(commandId: string, instanceId: string): Promise<InvocationOutputs | null>;
}

export interface JobQueue {
  enqueue(job: QueuedJob, delaySeconds: number): Promise<void>;
}

export interface Inventory {
  discover(): Promise<Discovery>;
}
