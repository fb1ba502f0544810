/**
 * The monitor host's part of the template (stack/monitor-host.ts), packaged
 * with `serverless package` (offline, no credentials): nothing with the
 * default monitorHost=false; with true, the instance, its role, profile and
 * security group as the README promises, and packaging that fails naming
 * the param for bad values.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { STACK_PARAM_DEFAULTS } from '../../common/stack-params.ts';
import { isParameterName } from '../../functions/dispatch/resource-parameters.ts';
import {
  type MonitorHostParams,
  monitorHostFragment,
  PARAMETER_READ_ACTIONS,
  parseMonitorHostParams,
  renderUserData,
  USER_DATA_LIMIT,
  type UserDataPart,
  userDataParts,
} from '../../stack/monitor-host.ts';
import { createPackager, type Resource, type Template } from './package-stack.ts';

const TOKEN_PARAMETER = '/cloudconnexa/connector-token';
const SUBNET = 'subnet-0123456789abcdef0';
const VPC = 'vpc-0fedcba9876543210';
const CUSTOMER_KEY = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const ENABLE = [
  'monitorHost=true',
  `connectorTokenParameter=${TOKEN_PARAMETER}`,
  `monitorHostSubnetId=${SUBNET}`,
  `monitorHostVpcId=${VPC}`,
];

interface Statement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action: string | string[];
  Resource?: unknown;
  NotResource?: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}
const packager = createPackager('monitor-host-template');
const runId = randomBytes(4).toString('hex');

function resource(t: Template, id: string): Resource {
  const found = t.Resources[id];
  assert.ok(found, `resource ${id} is missing`);
  return found;
}

function ofType(t: Template, type: string): string[] {
  return Object.entries(t.Resources)
    .filter(([, r]) => r.Type === type)
    .map(([id]) => id);
}

function roleStatements(t: Template, roleId: string): Statement[] {
  const policies = resource(t, roleId).Properties.Policies as {
    PolicyDocument: { Statement: Statement[] };
  }[];
  return policies.flatMap((p) => p.PolicyDocument.Statement);
}

function userDataOf(t: Template): UserDataPart[] {
  const data = resource(t, 'MonitorHostInstance').Properties.UserData as {
    'Fn::Base64': { 'Fn::Join': ['', UserDataPart[]] };
  };
  return data['Fn::Base64']['Fn::Join'][1];
}

const tokenArn = {
  'Fn::Sub': `arn:\${AWS::Partition}:ssm:\${AWS::Region}:\${AWS::AccountId}:parameter${TOKEN_PARAMETER}`,
};

const PARAMS: MonitorHostParams = {
  monitorHost: 'true',
  connectorTokenParameter: TOKEN_PARAMETER,
  connectorTokenKmsKeyArn: '',
  monitorHostSubnetId: SUBNET,
  monitorHostVpcId: VPC,
  monitorHostInstanceType: STACK_PARAM_DEFAULTS.monitorHostInstanceType,
  monitorHostImageParameter: STACK_PARAM_DEFAULTS.monitorHostImageParameter,
  monitorHostRoutesTraffic: 'false',
  tagKey: STACK_PARAM_DEFAULTS.tagKey,
  tagValue: STACK_PARAM_DEFAULTS.tagValue,
};

let off: Template;
let on: Template;
let custom: Template;
const offStage = `mhoff-${runId}`;
const onStage = `mhon-${runId}`;

describe('monitor host in the packaged template', () => {
  before(async () => {
    [off, on, custom] = await Promise.all([
      packager.template(offStage, []),
      packager.template(onStage, ENABLE),
      packager.template(`mhkey-${runId}`, [
        ...ENABLE,
        `connectorTokenKmsKeyArn=${CUSTOMER_KEY}`,
        'monitorHostRoutesTraffic=true',
        'monitorHostInstanceType=t3.small',
        'monitorHostImageParameter=/aws/service/canonical/ubuntu/server/22.04/stable/current/amd64/hvm/ebs-gp2/ami-id',
        'tagKey=Monitoring',
        'tagValue=cloudconnexa',
      ]),
    ]);
  });

  after(() => packager.cleanup());

  it('adds nothing with the default monitorHost=false', () => {
    assert.equal(STACK_PARAM_DEFAULTS.monitorHost, 'false');
    for (const type of [
      'AWS::EC2::Instance',
      'AWS::EC2::SecurityGroup',
      'AWS::IAM::InstanceProfile',
      'AWS::AutoScaling::AutoScalingGroup',
    ]) {
      assert.deepEqual(ofType(off, type), [], type);
    }
    assert.deepEqual(
      Object.keys(off.Resources).filter((id) => id.startsWith('MonitorHost')),
      [],
    );
    assert.equal(off.Outputs?.MonitorHostInstanceId, undefined);
    const text = JSON.stringify(off);
    assert.ok(!text.includes('ec2.amazonaws.com'), 'no role for an instance');
    assert.ok(!text.includes('connector'), 'nothing about the connector');
    // The same resources as with the monitor host, less the monitor host's (function
    // versions are named after a hash of their code and environment, which names the stage).
    const ids = (t: Template) =>
      Object.keys(t.Resources)
        .filter((id) => !id.startsWith('MonitorHost') && !/LambdaVersion/.test(id))
        .sort();
    assert.deepEqual(ids(on), ids(off));
  });

  it('launches one arm64 Ubuntu LTS instance, resolved by EC2 at launch from the public parameter, IMDSv2 only, encrypted, no key pair', () => {
    assert.deepEqual(ofType(on, 'AWS::EC2::Instance'), ['MonitorHostInstance']);
    const instance = resource(on, 'MonitorHostInstance').Properties;
    assert.equal(
      instance.ImageId,
      'resolve:ssm:/aws/service/canonical/ubuntu/server/24.04/stable/current/arm64/hvm/ebs-gp3/ami-id',
    );
    assert.equal(instance.InstanceType, 't4g.micro');
    assert.equal(instance.KeyName, undefined, 'no SSH key: SSM only');
    assert.deepEqual(instance.MetadataOptions, {
      HttpEndpoint: 'enabled',
      HttpTokens: 'required',
      HttpPutResponseHopLimit: 1,
      InstanceMetadataTags: 'disabled',
    });
    const disks = instance.BlockDeviceMappings as { DeviceName: string; Ebs: Record<string, unknown> }[];
    assert.equal(disks.length, 1);
    assert.equal(disks[0]?.DeviceName, '/dev/sda1', "Ubuntu's root device");
    assert.equal(disks[0]?.Ebs.Encrypted, true);
    assert.equal(disks[0]?.Ebs.DeleteOnTermination, true, 'serverless remove leaves no volume behind');
    assert.equal(instance.SubnetId, SUBNET);
    assert.deepEqual(instance.IamInstanceProfile, { Ref: 'MonitorHostInstanceProfile' });
    assert.deepEqual(instance.SecurityGroupIds, [{ 'Fn::GetAtt': ['MonitorHostSecurityGroup', 'GroupId'] }]);
    assert.equal(instance.SourceDestCheck, true, 'a monitor host routes nothing by default');
    assert.equal(instance.DisableApiTermination, undefined, 'serverless remove can delete it');
    assert.deepEqual(
      ofType(on, 'AWS::AutoScaling::AutoScalingGroup'),
      [],
      'one instance, not replaced with a used token',
    );
    assert.deepEqual(on.Outputs?.MonitorHostInstanceId?.Value, { Ref: 'MonitorHostInstance' });
  });

  it("enrols the instance with the stack's own tag, the one dispatch may send commands to", () => {
    for (const [t, key, value] of [
      [on, 'CloudConnexaMonitor', 'enabled'],
      [custom, 'Monitoring', 'cloudconnexa'],
    ] as const) {
      const tags = resource(t, 'MonitorHostInstance').Properties.Tags as { Key: string; Value: string }[];
      assert.ok(
        tags.some((tag) => tag.Key === key && tag.Value === value),
        JSON.stringify(tags),
      );
      const env = (
        resource(t, 'DispatchLambdaFunction').Properties.Environment as { Variables: Record<string, unknown> }
      ).Variables;
      assert.equal(env.TAG_KEY, key);
      assert.equal(env.TAG_VALUE, value);
      const send = JSON.stringify(resource(t, 'DispatchRole').Properties);
      assert.ok(send.includes(`"ssm:resourceTag/${key}":"${value}"`), 'dispatch may send the document to it');
    }
  });

  it("gives it a security group with no inbound rule, in the subnet's VPC", () => {
    assert.deepEqual(ofType(on, 'AWS::EC2::SecurityGroup'), ['MonitorHostSecurityGroup']);
    const group = resource(on, 'MonitorHostSecurityGroup').Properties;
    assert.equal(group.SecurityGroupIngress, undefined);
    assert.deepEqual(ofType(on, 'AWS::EC2::SecurityGroupIngress'), []);
    assert.equal(group.VpcId, VPC);
  });

  it('lets the instance read the token parameter and no other, and decrypt it only through SSM', () => {
    const role = resource(on, 'MonitorHostRole').Properties;
    assert.match(JSON.stringify(role.AssumeRolePolicyDocument), /"Service":"ec2\.amazonaws\.com"/);
    assert.deepEqual(role.ManagedPolicyArns, [
      // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation Fn::Sub syntax
      { 'Fn::Sub': 'arn:${AWS::Partition}:iam::aws:policy/AmazonSSMManagedInstanceCore' },
    ]);
    const statements = roleStatements(on, 'MonitorHostRole');
    const allows = statements.filter((s) => s.Effect === 'Allow');
    assert.deepEqual(
      allows.map((s) => s.Action),
      ['ssm:GetParameter', 'kms:Decrypt'],
    );
    assert.deepEqual(allows[0]?.Resource, tokenArn, 'exactly the one parameter ARN');
    const decrypt = allows[1];
    assert.deepEqual(decrypt?.Resource, {
      // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation Fn::Sub syntax
      'Fn::Sub': 'arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:key/*',
    });
    assert.deepEqual(decrypt?.Condition, {
      StringEquals: {
        // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation Fn::Sub syntax
        'kms:ViaService': { 'Fn::Sub': 'ssm.${AWS::Region}.amazonaws.com' },
        'kms:EncryptionContext:PARAMETER_ARN': tokenArn,
      },
    });
    // AmazonSSMManagedInstanceCore allows ssm:GetParameter(s) on '*': an explicit Deny takes every other parameter away.
    const denies = statements.filter((s) => s.Effect === 'Deny');
    assert.equal(denies.length, 1);
    assert.deepEqual(denies[0]?.Action, [...PARAMETER_READ_ACTIONS]);
    assert.deepEqual(denies[0]?.NotResource, tokenArn);
    assert.equal(denies[0]?.Resource, undefined);
    assert.deepEqual(resource(on, 'MonitorHostInstanceProfile').Properties.Roles, [
      { Ref: 'MonitorHostRole' },
    ]);
    for (const s of allows) {
      for (const action of [s.Action].flat()) assert.ok(!action.includes('*'), `wildcard action ${action}`);
      assert.notEqual(s.Resource, '*');
    }
    // A customer managed key: decrypt with that key only.
    const customDecrypt = roleStatements(custom, 'MonitorHostRole').find((s) => s.Action === 'kms:Decrypt');
    assert.equal(customDecrypt?.Resource, CUSTOMER_KEY);
    assert.ok(customDecrypt?.Condition?.StringEquals?.['kms:ViaService']);
  });

  it('carries the bootstrap as user data, under 16 KB, with the parameter name but never a token or a reference that would resolve one', () => {
    const parts = userDataOf(on);
    assert.deepEqual(
      parts,
      userDataParts(parseMonitorHostParams(PARAMS) ?? assert.fail('on')),
      'the script the bootstrap tests run',
    );
    assert.deepEqual(
      parts.filter((p) => typeof p !== 'string'),
      [{ Ref: 'AWS::Region' }],
    );
    const text = renderUserData(parts, 'ap-southeast-4');
    assert.ok(Buffer.byteLength(text) <= USER_DATA_LIMIT, `${Buffer.byteLength(text)} bytes`);
    assert.ok(text.startsWith('#!/bin/sh\n'));
    assert.match(text, new RegExp(`^CCM_TOKEN_PARAMETER='${TOKEN_PARAMETER}'$`, 'm'));
    assert.match(text, /^CCM_PROFILE_NAME='CloudConnexa'$/m);
    assert.match(text, /^CCM_ROUTES_TRAFFIC='false'$/m);
    assert.match(renderUserData(userDataOf(custom), 'eu-west-1'), /^CCM_ROUTES_TRAFFIC='true'$/m);
    // Nothing that CloudFormation or EC2 would resolve into a secret at deploy time.
    for (const t of [on, custom]) {
      const all = JSON.stringify(t);
      assert.doesNotMatch(all, /resolve:ssm-secure|\{\{resolve:/);
      assert.doesNotMatch(all, /AWS::SSM::Parameter::Value/);
      assert.equal(t.Parameters, undefined, 'no CloudFormation parameters at all');
      assert.ok(!all.includes('NoEcho'));
      assert.equal(
        all.split(TOKEN_PARAMETER).length - 1,
        4,
        'the name appears only in the user data and the role (3 ARNs)',
      );
    }
  });

  it('turns the source/destination check off only for a connector that routes traffic, and accepts an amd64 image with an x86 type', () => {
    const instance = resource(custom, 'MonitorHostInstance').Properties;
    assert.equal(instance.SourceDestCheck, false);
    assert.equal(instance.InstanceType, 't3.small');
    assert.equal(
      instance.ImageId,
      'resolve:ssm:/aws/service/canonical/ubuntu/server/22.04/stable/current/amd64/hvm/ebs-gp2/ami-id',
    );
  });

  it('fails packaging naming the param: a bad subnet id, no token parameter, a token pasted as its name', async () => {
    const token = `${randomBytes(33).toString('base64')}${randomBytes(20).toString('hex')}`;
    const runs = await Promise.all([
      packager.run(`mhbad1-${runId}`, [...ENABLE, 'monitorHostSubnetId=subnet-xyz']),
      packager.run(
        `mhbad2-${runId}`,
        ENABLE.filter((p) => !p.startsWith('connectorTokenParameter')),
      ),
      packager.run(`mhbad3-${runId}`, [...ENABLE, `connectorTokenParameter=${token}`]),
    ]);
    const expected = [
      /param monitorHostSubnetId "subnet-xyz" is not allowed: a subnet id/,
      /param connectorTokenParameter "" is not allowed: the name of the SecureString parameter holding the connector token/,
      /param connectorTokenParameter \(\d+ characters, not shown: it may be the token itself\) is not allowed/,
    ];
    runs.forEach((run, i) => {
      assert.notEqual(run.code, 0, `case ${i}`);
      assert.match(run.output, expected[i] ?? /never/, run.output);
    });
    for (const part of [token, token.slice(0, 20), token.slice(-40)]) {
      assert.ok(!runs[2]?.output.includes(part), 'the pasted token is not repeated');
    }
  });

  it('refuses the other bad values naming the param (the same check packaging runs)', () => {
    const cases: [Partial<MonitorHostParams>, RegExp][] = [
      [{ monitorHost: 'yes' }, /param monitorHost "yes" is not allowed: true or false/],
      [{ monitorHostVpcId: '' }, /param monitorHostVpcId "" is not allowed: the id of the subnet's VPC/],
      [
        { monitorHostInstanceType: 't3.micro' },
        /param monitorHostInstanceType "t3\.micro" is not allowed: an arm64 \(Graviton, e\.g\. t4g\.micro\) instance type, matching the arm64 image/,
      ],
      [
        { monitorHostImageParameter: '/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64' },
        /param monitorHostImageParameter .* is not allowed: a Canonical Ubuntu Server image parameter/,
      ],
      [
        { connectorTokenKmsKeyArn: 'alias/aws/ssm' },
        /param connectorTokenKmsKeyArn "alias\/aws\/ssm" is not allowed: empty \(the AWS managed key aws\/ssm\) or the ARN/,
      ],
      [
        { monitorHostRoutesTraffic: 'on' },
        /param monitorHostRoutesTraffic "on" is not allowed: true or false/,
      ],
      [
        { connectorTokenParameter: '/aws/reserved' },
        /param connectorTokenParameter \(13 characters, not shown/,
      ],
    ];
    for (const [change, expected] of cases) {
      assert.throws(() => parseMonitorHostParams({ ...PARAMS, ...change }), expected, JSON.stringify(change));
    }
  });

  it('refuses a token whose key happens to be a well-formed parameter name (1 token in 128), and keeps it out of the message', () => {
    // A key starting with `/` and free of `+` and `=` makes a valid name; a
    // random token drew one in an earlier CI run.
    const fileRef = 'a3f09c1b7e5d24680f1e2d3c4b5a69788796a5b4';
    // Keys as base64 gives them (33, 32 and 18 bytes), each starting with `/`.
    const keys = [
      '/yzLa6Qj01a9VJ7Uv7dulpdqDc3gWgmZahzbn4NCLsRo',
      '/EezTjb0AyrNHKIZKnubCXARzL/j2OJ7BLtpmeAAV43V',
      '/1oa4BKvpdTIicUK1Ceq9UXT',
      '/yzLa6Qj01a9VJ7Uv7dulpdqDc3gWgmZahzbn4NCLsQ=',
    ];
    for (const key of keys) {
      const token = `${key}${fileRef}`;
      assert.throws(
        () => parseMonitorHostParams({ ...PARAMS, connectorTokenParameter: token }),
        (error: Error) =>
          /param connectorTokenParameter \(\d+ characters, not shown: it may be the token itself\) is not allowed/.test(
            error.message,
          ) &&
          !error.message.includes(fileRef.slice(0, 12)) &&
          !error.message.includes(key.slice(1, 13)),
        token,
      );
    }
    // The first three are well-formed names: only the token shape refuses them.
    for (const key of keys.slice(0, 3)) assert.ok(isParameterName(`${key}${fileRef}`), key);
    // Real names still pass, long ones of letters and digits alone unless
    // token-shaped, and a token-shaped one with the `-` the message asks for.
    assert.throws(() =>
      parseMonitorHostParams({ ...PARAMS, connectorTokenParameter: `/${'p'.repeat(23)}${fileRef}` }),
    );
    for (const name of [
      '/cloudconnexa/connector-token',
      '/cloudconnexa/production/eu/connector/token',
      `/cc/${'a'.repeat(22)}${fileRef}`,
      `/${'p'.repeat(22)}-${fileRef}`,
    ]) {
      assert.equal(
        parseMonitorHostParams({ ...PARAMS, connectorTokenParameter: name })?.tokenParameter,
        name,
        name,
      );
    }
  });

  it('builds nothing and checks nothing else when off; refuses a bootstrap past 16 KB', () => {
    assert.equal(
      parseMonitorHostParams({ ...PARAMS, monitorHost: 'false', monitorHostSubnetId: 'junk' }),
      null,
    );
    assert.deepEqual(monitorHostFragment(null, { service: 's', stage: 'x' }), {});
    assert.throws(
      () =>
        userDataParts(
          parseMonitorHostParams(PARAMS) ?? assert.fail('on'),
          `#!/bin/sh\n# @@SETTINGS@@\n${'x=1\n'.repeat(5000)}`,
        ),
      /monitor host user data "\d+ bytes" is not allowed: at most 16384 bytes/,
    );
  });
});
