/**
 * SSM Run Command as a CommandTransport.
 */
import {
  GetCommandInvocationCommand,
  paginateListCommandInvocations,
  SendCommandCommand,
  type SSMClient,
} from '@aws-sdk/client-ssm';
import type { CommandTransport, InvocationState } from '../ports.ts';

export interface SsmTransportOptions {
  documentName: string;
  /** SendCommand TimeoutSeconds: how long a command may wait to be delivered. */
  timeoutSeconds: number;
  pluginName?: string | undefined;
}

function errorName(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'name' in error && typeof error.name === 'string'
    ? error.name
    : undefined;
}

export function createSsmTransport(ssm: SSMClient, options: SsmTransportOptions): CommandTransport {
  return {
    async send(request) {
      const answer = await ssm.send(
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
          Comment: request.comment.slice(0, 100),
          // Results are read with GetCommandInvocation and written by the
          // collector; SSM's own CloudWatch output would need log permissions on
          // the hosts and duplicate every record.
          CloudWatchOutputConfig: { CloudWatchOutputEnabled: false },
        }),
      );
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
        if (errorName(error) === 'InvocationDoesNotExist') return null;
        throw error;
      }
    },
  };
}
