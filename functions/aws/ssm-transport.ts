/**
 * SSM Run Command as a CommandTransport.
 */
import {
  GetCommandInvocationCommand,
  paginateListCommandInvocations,
  SendCommandCommand,
  type SendCommandCommandOutput,
  type SSMClient,
} from '@aws-sdk/client-ssm';
import { headOf } from '../../common/clip-text.ts';
import { type CommandTransport, InstancesRefusedError, type InvocationState } from '../ports.ts';
import { awsErrorName } from './aws-errors.ts';

export interface SsmTransportOptions {
  documentName: string;
  /** SendCommand TimeoutSeconds: how long a command may wait to be delivered. */
  timeoutSeconds: number;
  pluginName?: string | undefined;
}

/** EC2 instance ids and SSM managed-node ids (hybrid activations) as they appear in error messages. */
const INSTANCE_ID = /\b(?:i|mi)-[0-9a-f]{8,17}\b/g;

/**
 * The ids of `batch` that an error message names. SSM's InvalidInstanceId
 * message reads e.g. "Instances [[i-00903e1796f3b1cb6]] not in a valid state for
 * account 775288309636" (aws-samples/eks-security-compromised-cluster-remediation#12),
 * but can be empty (aws/aws-cli#3646), so callers must not rely on it.
 */
export function instanceIdsNamedIn(message: string, batch: readonly string[]): string[] {
  const inBatch = new Set(batch);
  return [...new Set(message.match(INSTANCE_ID) ?? [])].filter((id) => inBatch.has(id));
}

/**
 * Whether a SendCommand error means "some of these instances cannot take a
 * command", which fails the whole call (up to 50 instances) although the
 * others could. InvalidInstanceId is documented as: no permission to access
 * the managed node, SSM Agent not running or not registered, or the node in
 * state Shutting-down or Terminated (SSM API reference, InvalidInstanceId). An
 * AccessDeniedException that names an instance of the call is the same kind
 * (its enrollment tag changed since discovery: the role's condition refuses
 * it); one that names none is a permissions problem of the stack, not of a host.
 */
export function refusalOf(error: unknown, batch: readonly string[]): InstancesRefusedError | null {
  const name = awsErrorName(error);
  const message = error instanceof Error ? error.message : String(error);
  const named = instanceIdsNamedIn(message, batch);
  if (name === 'InvalidInstanceId' || (name === 'AccessDeniedException' && named.length > 0)) {
    return new InstancesRefusedError(name, message, named, { cause: error });
  }
  return null;
}

export function createSsmTransport(ssm: SSMClient, options: SsmTransportOptions): CommandTransport {
  return {
    async send(request) {
      let answer: SendCommandCommandOutput;
      try {
        answer = await ssm.send(
          new SendCommandCommand({
            DocumentName: options.documentName,
            InstanceIds: request.instanceIds,
            Parameters: request.parameters,
            TimeoutSeconds: options.timeoutSeconds,
            // All hosts of the chunk at once: each host runs its own independent check.
            MaxConcurrency: '50',
            // SSM cancels the remaining invocations once MaxErrors hosts fail. One
            // broken host (no mtr, full disk) must not cost the others their round,
            // so errors never stop the command; each failure is recorded per host.
            MaxErrors: '100%',
            Comment: headOf(request.comment, 100),
            // Results are read with GetCommandInvocation and written by the
            // collector; SSM's own CloudWatch output would need log permissions on
            // the hosts and duplicate every record.
            CloudWatchOutputConfig: { CloudWatchOutputEnabled: false },
          }),
        );
      } catch (error) {
        throw refusalOf(error, request.instanceIds) ?? error;
      }
      const commandId = answer.Command?.CommandId;
      if (commandId === undefined) throw new Error('SendCommand returned no CommandId');
      return { commandId };
    },

    async listInvocations(commandId) {
      const states: InvocationState[] = [];
      const pages = paginateListCommandInvocations(
        { client: ssm, pageSize: 50 },
        { CommandId: commandId, Details: false },
      );
      for await (const page of pages) {
        for (const inv of page.CommandInvocations ?? []) {
          if (inv.InstanceId === undefined) continue;
          states.push({
            instanceId: inv.InstanceId,
            status: inv.Status ?? 'Pending',
            statusDetails: inv.StatusDetails ?? inv.Status ?? 'Pending',
          });
        }
      }
      return states;
    },

    async getInvocation(commandId, instanceId) {
      try {
        const answer = await ssm.send(
          new GetCommandInvocationCommand({
            CommandId: commandId,
            InstanceId: instanceId,
            ...(options.pluginName === undefined ? {} : { PluginName: options.pluginName }),
          }),
        );
        return {
          status: answer.Status ?? 'Pending',
          statusDetails: answer.StatusDetails ?? answer.Status ?? 'Pending',
          responseCode: typeof answer.ResponseCode === 'number' ? answer.ResponseCode : null,
          stdout: answer.StandardOutputContent ?? '',
          stderr: answer.StandardErrorContent ?? '',
        };
      } catch (error) {
        // Normal right after SendCommand: the invocation is not registered yet.
        if (awsErrorName(error) === 'InvocationDoesNotExist') return null;
        throw error;
      }
    },
  };
}
