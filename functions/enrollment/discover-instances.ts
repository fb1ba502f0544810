/**
 * Which hosts are enrolled (EC2 tag, running) and which of them SSM can reach.
 * An enrolled host that SSM cannot reach is a blind spot: it is returned, not
 * dropped, so that the round records it.
 */
import { type EC2Client, paginateDescribeInstances } from '@aws-sdk/client-ec2';
import { paginateDescribeInstanceInformation, type SSMClient } from '@aws-sdk/client-ssm';
import { chunk, mapLimit } from '../../common/concurrency.ts';
import type { IneligibleInstance } from '../ports.ts';

export interface EnrolledInstance {
  instanceId: string;
  tags: Record<string, string>;
}

export interface BlindInstance extends EnrolledInstance {
  /** SSM's PingStatus (ConnectionLost, Inactive), or `NotRegistered` when SSM does not know the host. */
  pingStatus: string;
  lastPingAt: string | null;
}

export interface Discovery {
  online: EnrolledInstance[];
  blind: BlindInstance[];
}

/** DescribeInstanceInformation's InstanceIds filter and page size both top out at 50. */
const SSM_CHUNK = 50;

export async function discoverInstances(
  clients: { ec2: EC2Client; ssm: SSMClient },
  enrollment: { tagKey: string; tagValue: string; concurrency?: number },
): Promise<Discovery> {
  const enrolled: EnrolledInstance[] = [];
  const pages = paginateDescribeInstances(
    { client: clients.ec2, pageSize: 1000 },
    {
      Filters: [
        { Name: `tag:${enrollment.tagKey}`, Values: [enrollment.tagValue] },
        { Name: 'instance-state-name', Values: ['running'] },
      ],
    },
  );
  for await (const page of pages) {
    for (const reservation of page.Reservations ?? []) {
      for (const instance of reservation.Instances ?? []) {
        if (instance.InstanceId === undefined) continue;
        const tags: Record<string, string> = {};
        for (const tag of instance.Tags ?? []) {
          if (tag.Key !== undefined) tags[tag.Key] = tag.Value ?? '';
        }
        enrolled.push({ instanceId: instance.InstanceId, tags });
      }
    }
  }

  const ping = new Map<string, { status: string; lastPingAt: string | null }>();
  await mapLimit(chunk(enrolled, SSM_CHUNK), enrollment.concurrency ?? 4, async (group) => {
    const infoPages = paginateDescribeInstanceInformation(
      { client: clients.ssm, pageSize: SSM_CHUNK },
      { Filters: [{ Key: 'InstanceIds', Values: group.map((i) => i.instanceId) }] },
    );
    for await (const page of infoPages) {
      for (const info of page.InstanceInformationList ?? []) {
        if (info.InstanceId === undefined) continue;
        ping.set(info.InstanceId, {
          status: info.PingStatus ?? 'Unknown',
          lastPingAt: info.LastPingDateTime?.toISOString() ?? null,
        });
      }
    }
  });

  const discovery: Discovery = { online: [], blind: [] };
  for (const instance of enrolled) {
    const state = ping.get(instance.instanceId);
    if (state?.status === 'Online') discovery.online.push(instance);
    else
      discovery.blind.push({
        ...instance,
        pingStatus: state?.status ?? 'NotRegistered',
        lastPingAt: state?.lastPingAt ?? null,
      });
  }
  return discovery;
}

/**
 * Looks again at instances SSM just refused (at most 50: one SendCommand's
 * worth) and returns those that cannot take a command now: no longer running
 * in EC2 (shutting-down, terminated, stopped, or gone) or not Online in SSM
 * (never registered, deregistered, ConnectionLost, Inactive). Two calls: EC2
 * by the `instance-id` filter, which answers for unknown ids with nothing
 * instead of failing like the InstanceIds parameter, and SSM
 * DescribeInstanceInformation by the InstanceIds filter.
 */
export async function recheckInstances(
  clients: { ec2: EC2Client; ssm: SSMClient },
  instanceIds: string[],
): Promise<IneligibleInstance[]> {
  const ids = instanceIds.slice(0, SSM_CHUNK);
  const ec2State = new Map<string, string>();
  const pages = paginateDescribeInstances(
    { client: clients.ec2, pageSize: 1000 },
    { Filters: [{ Name: 'instance-id', Values: ids }] },
  );
  for await (const page of pages) {
    for (const reservation of page.Reservations ?? []) {
      for (const instance of reservation.Instances ?? []) {
        if (instance.InstanceId !== undefined)
          ec2State.set(instance.InstanceId, instance.State?.Name ?? 'unknown');
      }
    }
  }
  const ping = new Map<string, { status: string; lastPingAt: string | null }>();
  const infoPages = paginateDescribeInstanceInformation(
    { client: clients.ssm, pageSize: SSM_CHUNK },
    { Filters: [{ Key: 'InstanceIds', Values: ids }] },
  );
  for await (const page of infoPages) {
    for (const info of page.InstanceInformationList ?? []) {
      if (info.InstanceId === undefined) continue;
      ping.set(info.InstanceId, {
        status: info.PingStatus ?? 'Unknown',
        lastPingAt: info.LastPingDateTime?.toISOString() ?? null,
      });
    }
  }
  const ineligible: IneligibleInstance[] = [];
  for (const instanceId of ids) {
    const state = ec2State.get(instanceId);
    const ssm = ping.get(instanceId);
    const pingStatus = ssm?.status ?? 'NotRegistered';
    const reasons: string[] = [];
    // Managed nodes outside EC2 (mi-...) have no EC2 state to check.
    if (instanceId.startsWith('i-') && state !== 'running') reasons.push(`EC2 state ${state ?? 'not found'}`);
    if (pingStatus !== 'Online') reasons.push(`SSM PingStatus ${pingStatus}`);
    if (reasons.length > 0) {
      ineligible.push({
        instanceId,
        reason: reasons.join(', '),
        pingStatus,
        lastPingAt: ssm?.lastPingAt ?? null,
      });
    }
  }
  return ineligible;
}
