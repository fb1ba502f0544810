import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { DescribeInstanceInformationCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { createEc2Client, createSsmClient } from '../../../functions/aws/clients.ts';
import { discoverInstances } from '../../../functions/enrollment/discover-instances.ts';
import { instanceId } from './fixtures.ts';

const ec2Mock = mockClient(EC2Client);
const ssmMock = mockClient(SSMClient);
const clients = () => ({
  ec2: createEc2Client({ region: 'eu-west-1' }),
  ssm: createSsmClient({ region: 'eu-west-1' }),
});

describe('discoverInstances', () => {
  beforeEach(() => {
    ec2Mock.reset();
    ssmMock.reset();
  });

  it('follows DescribeInstances over 3 pages, filtering by the tag and running state', async () => {
    // Prepare
    const page = (from: number, to: number) => ({
      Reservations: [
        {
          Instances: Array.from({ length: to - from }, (_, i) => ({
            InstanceId: instanceId(from + i),
            Tags: [{ Key: 'CloudConnexaMonitor:Count', Value: '5' }],
          })),
        },
      ],
    });
    // The paginator reuses one input object, so the tokens are captured as each call is made.
    const tokens: (string | undefined)[] = [];
    const pages: Record<string, object> = {
      start: { ...page(0, 40), NextToken: 't1' },
      t1: { ...page(40, 80), NextToken: 't2' },
      t2: page(80, 90),
    };
    ec2Mock.on(DescribeInstancesCommand).callsFake((input: { NextToken?: string }) => {
      tokens.push(input.NextToken);
      return pages[input.NextToken ?? 'start'];
    });
    ssmMock
      .on(DescribeInstanceInformationCommand)
      .callsFake((input: { Filters?: { Values?: string[] }[] }) => ({
        InstanceInformationList: (input.Filters?.[0]?.Values ?? []).map((id) => ({
          InstanceId: id,
          PingStatus: 'Online',
        })),
      }));
    // Act
    const found = await discoverInstances(clients(), { tagKey: 'CloudConnexaMonitor', tagValue: 'enabled' });
    // Assess
    const calls = ec2Mock.commandCalls(DescribeInstancesCommand);
    assert.equal(calls.length, 3);
    assert.deepEqual(calls[0]?.args[0].input.Filters, [
      { Name: 'tag:CloudConnexaMonitor', Values: ['enabled'] },
      { Name: 'instance-state-name', Values: ['running'] },
    ]);
    assert.deepEqual(tokens, [undefined, 't1', 't2']);
    assert.equal(found.online.length, 90);
    assert.equal(found.online[0]?.tags['CloudConnexaMonitor:Count'], '5');
    const ssmCalls = ssmMock.commandCalls(DescribeInstanceInformationCommand);
    assert.equal(ssmCalls.length, 2, '90 ids in chunks of 50');
    assert.deepEqual(
      ssmCalls.map((c) => c.args[0].input.Filters?.[0]?.Values?.length),
      [50, 40],
    );
  });

  it('follows DescribeInstanceInformation pages and sorts hosts into online and blind', async () => {
    // Prepare
    const ids = [1, 2, 3, 4].map(instanceId);
    ec2Mock.on(DescribeInstancesCommand).resolves({
      Reservations: [{ Instances: ids.map((InstanceId) => ({ InstanceId })) }],
    });
    ssmMock
      .on(DescribeInstanceInformationCommand)
      .resolvesOnce({
        InstanceInformationList: [{ InstanceId: ids[0], PingStatus: 'Online' }],
        NextToken: 'more',
      })
      .resolvesOnce({
        InstanceInformationList: [
          {
            InstanceId: ids[1],
            PingStatus: 'ConnectionLost',
            LastPingDateTime: new Date('2026-01-01T00:00:00Z'),
          },
          { InstanceId: ids[2], PingStatus: 'Inactive' },
        ],
      });
    // Act
    const found = await discoverInstances(clients(), { tagKey: 'CloudConnexaMonitor', tagValue: 'enabled' });
    // Assess
    assert.deepEqual(
      found.online.map((h) => h.instanceId),
      [ids[0]],
    );
    assert.deepEqual(
      found.blind.map((h) => [h.instanceId, h.pingStatus, h.lastPingAt]),
      [
        [ids[1], 'ConnectionLost', '2026-01-01T00:00:00.000Z'],
        [ids[2], 'Inactive', null],
        [ids[3], 'NotRegistered', null],
      ],
    );
  });
});
