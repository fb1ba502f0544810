/**
 * The monitor host: one EC2 instance, part of the stack when the `monitorHost`
 * stage param is `true`, that joins CloudConnexa as a connector and is
 * enrolled in the fleet by the stack's own tag (its first round runs on the
 * next schedule). With `monitorHost=false` the fragment is empty: the template
 * is the same as without this module.
 *
 * Decided at package time (serverless.yml reaches it through
 * stack/monitor-host.cjs), so a bad value fails `serverless package` with a
 * message naming the param, before anything is deployed.
 *
 * What the instance gets, and why:
 * - Ubuntu Server LTS (arm64 by default) from Canonical's public SSM parameter,
 *   given to EC2 as `resolve:ssm:<name>` and resolved when the instance
 *   launches (EC2 User Guide, "Use a Systems Manager parameter instead of an
 *   AMI ID"). The template text stays the same when Canonical publishes a new
 *   image, so a later deploy never replaces the instance: a replacement would
 *   be a new connector needing a new token (a CloudFormation parameter of type
 *   AWS::SSM::Parameter::Value<AWS::EC2::Image::Id> would re-resolve on every
 *   deploy and replace it; AWS CDK's GenericSSMParameterImage warns of that).
 *   Ubuntu's unattended-upgrades applies security updates in place.
 * - IMDSv2 only (tokens required, hop limit 1), an encrypted gp3 root volume,
 *   no key pair, a security group with no inbound rule: SSM is the only way in.
 * - A role with AmazonSSMManagedInstanceCore, plus ssm:GetParameter on the
 *   token parameter alone and kms:Decrypt only through SSM for that
 *   parameter (encryption context PARAMETER_ARN). The managed policy allows
 *   ssm:GetParameter(s) on every parameter, and the AWS managed key aws/ssm
 *   lets any principal of the account decrypt through SSM, so an explicit Deny
 *   keeps the instance from reading any other parameter.
 * - User data: stack/monitor-host-bootstrap.sh with its settings; never the
 *   token, which the instance reads itself at boot.
 *
 * No Auto Scaling group: a replacement instance would be a new connector, and
 * a connector token works once, so a replaced host could not rejoin without a
 * new token from the portal. A failed instance is recovered in place by EC2
 * (simplified automatic recovery, on by default for t4g), keeping its volume
 * and its enrolment; the fleet's monitoring-blind alarm reports it meanwhile.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { HiddenValue, InvalidInputError } from '../common/errors.ts';
import { isParameterName } from '../functions/dispatch/resource-parameters.ts';

/** The profile name OpenVPN's setup tool imports by default; the agent's gateway discovery looks for it. */
export const CONNECTOR_PROFILE_NAME = 'CloudConnexa';

/** EC2 user data is at most 16 KB before base64 encoding (EC2 User Guide, "Run commands at launch"). */
export const USER_DATA_LIMIT = 16_384;

export const BOOTSTRAP_PATH = join(resolve(__dirname), 'monitor-host-bootstrap.sh');

export const INSTANCE_LOGICAL_ID = 'MonitorHostInstance';
export const ROLE_LOGICAL_ID = 'MonitorHostRole';
export const PROFILE_LOGICAL_ID = 'MonitorHostInstanceProfile';
export const SECURITY_GROUP_LOGICAL_ID = 'MonitorHostSecurityGroup';

/** Canonical publishes its Ubuntu Server images under this path (one parameter per release, arch and volume type). */
const UBUNTU_IMAGE_PARAMETER =
  /^\/aws\/service\/canonical\/ubuntu\/server\/[0-9.]+\/stable\/current\/(arm64|amd64)\/hvm\/ebs-[a-z0-9]+\/ami-id$/;
const SUBNET_ID = /^subnet-[0-9a-f]{8}([0-9a-f]{9})?$/;
const VPC_ID = /^vpc-[0-9a-f]{8}([0-9a-f]{9})?$/;
/** `family.size`, e.g. t4g.micro, m7g.large. */
const INSTANCE_TYPE = /^([a-z][a-z0-9-]*)\.[a-z0-9]+$/;
/** Graviton (arm64) families carry a `g` after their generation: t4g, m6gd, c7gn, im4gn, x2gd. */
const GRAVITON_FAMILY = /^[a-z]+\d+[a-z]*g[a-z]*$/;
const KMS_KEY_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]{1,128}$/;

/** The stage params this module reads, as serverless resolves them (strings). */
export interface MonitorHostParams {
  monitorHost: string;
  connectorTokenParameter: string;
  connectorTokenKmsKeyArn: string;
  monitorHostSubnetId: string;
  monitorHostVpcId: string;
  monitorHostInstanceType: string;
  monitorHostImageParameter: string;
  monitorHostRoutesTraffic: string;
  tagKey: string;
  tagValue: string;
}

export interface MonitorHostSettings {
  tokenParameter: string;
  kmsKeyArn: string | null;
  subnetId: string;
  vpcId: string;
  instanceType: string;
  imageParameter: string;
  routesTraffic: boolean;
  tagKey: string;
  tagValue: string;
}

function parseBoolean(field: string, value: string): boolean {
  if (value !== 'true' && value !== 'false') throw new InvalidInputError(field, value, 'true or false');
  return value === 'true';
}

/**
 * A connector token is `[key][file reference]`: the key base64 of variable
 * length, the file reference always 40 characters (openvpn-connector-setup,
 * openvpn/connector/token.py, `DecodeToken`). One key in 64 starts with `/`,
 * and such a token without `+` or `=` is also a well-formed parameter name.
 */
const TOKEN_KEY = /^[A-Za-z0-9+/]+={0,2}$/;
const TOKEN_FILE_REFERENCE = /^[A-Za-z0-9]{40}$/;
/** Python's b64decode wants whole quads; 16 bytes is a short key, and names this long of base64 letters alone are rare. */
const TOKEN_MIN_KEY_CHARACTERS = 24;

/** True for a value shaped like a connector token, valid parameter name or not. */
export function looksLikeConnectorToken(value: string): boolean {
  const key = value.slice(0, -40);
  return (
    key.length >= TOKEN_MIN_KEY_CHARACTERS &&
    key.length % 4 === 0 &&
    TOKEN_KEY.test(key) &&
    TOKEN_FILE_REFERENCE.test(value.slice(-40))
  );
}

/**
 * The token parameter's name. A value that is not a name, or that is shaped
 * like a connector token, is not repeated in the message: it may be the token
 * itself, pasted into the wrong param, and the name lands in the template.
 */
function parseTokenParameter(value: string): string {
  const field = 'param connectorTokenParameter';
  const length = value.length;
  if (value === '') {
    throw new InvalidInputError(
      field,
      value,
      'the name of the SecureString parameter holding the connector token, e.g. /cloudconnexa/connector-token: required with monitorHost=true',
    );
  }
  if (!isParameterName(value)) {
    throw new InvalidInputError(
      field,
      new HiddenValue(`${length} characters, not shown: it may be the token itself`),
      'a Parameter Store name such as /cloudconnexa/connector-token (levels of letters, digits and _ . -, not beginning with aws or ssm), naming a SecureString parameter that holds the token; never the token itself',
    );
  }
  if (looksLikeConnectorToken(value)) {
    throw new InvalidInputError(
      field,
      new HiddenValue(`${length} characters, not shown: it may be the token itself`),
      'a Parameter Store name such as /cloudconnexa/connector-token, never the token itself (a base64 key and a 40-character file reference); a real name of that shape needs a - _ or . in it',
    );
  }
  return value;
}

/** Checks every monitor host param; returns null when the monitor host is off. Throws InvalidInputError naming the param. */
export function parseMonitorHostParams(params: MonitorHostParams): MonitorHostSettings | null {
  if (!parseBoolean('param monitorHost', params.monitorHost)) return null;
  const tokenParameter = parseTokenParameter(params.connectorTokenParameter);
  const kms = params.connectorTokenKmsKeyArn;
  if (kms !== '' && !KMS_KEY_ARN.test(kms)) {
    throw new InvalidInputError(
      'param connectorTokenKmsKeyArn',
      kms,
      'empty (the AWS managed key aws/ssm) or the ARN of the customer managed key encrypting the token parameter, arn:aws:kms:<region>:<account>:key/<key id>',
    );
  }
  if (!SUBNET_ID.test(params.monitorHostSubnetId)) {
    throw new InvalidInputError(
      'param monitorHostSubnetId',
      params.monitorHostSubnetId,
      'a subnet id (subnet- and 8 or 17 hex digits) with outbound internet access: required with monitorHost=true',
    );
  }
  if (!VPC_ID.test(params.monitorHostVpcId)) {
    throw new InvalidInputError(
      'param monitorHostVpcId',
      params.monitorHostVpcId,
      "the id of the subnet's VPC (vpc- and 8 or 17 hex digits), for the instance's security group: required with monitorHost=true",
    );
  }
  const image = UBUNTU_IMAGE_PARAMETER.exec(params.monitorHostImageParameter);
  if (image === null) {
    throw new InvalidInputError(
      'param monitorHostImageParameter',
      params.monitorHostImageParameter,
      "a Canonical Ubuntu Server image parameter such as /aws/service/canonical/ubuntu/server/24.04/stable/current/arm64/hvm/ebs-gp3/ami-id (the bootstrap installs with apt and snap, as OpenVPN's packages need)",
    );
  }
  const type = INSTANCE_TYPE.exec(params.monitorHostInstanceType);
  if (type === null) {
    throw new InvalidInputError(
      'param monitorHostInstanceType',
      params.monitorHostInstanceType,
      'an EC2 instance type such as t4g.micro',
    );
  }
  const arm = image[1] === 'arm64';
  if (GRAVITON_FAMILY.test(type[1] ?? '') !== arm) {
    throw new InvalidInputError(
      'param monitorHostInstanceType',
      params.monitorHostInstanceType,
      `an ${arm ? 'arm64 (Graviton, e.g. t4g.micro)' : 'x86_64 (e.g. t3.micro)'} instance type, matching the ${image[1]} image of monitorHostImageParameter`,
    );
  }
  return {
    tokenParameter,
    kmsKeyArn: kms === '' ? null : kms,
    subnetId: params.monitorHostSubnetId,
    vpcId: params.monitorHostVpcId,
    instanceType: params.monitorHostInstanceType,
    imageParameter: params.monitorHostImageParameter,
    routesTraffic: parseBoolean('param monitorHostRoutesTraffic', params.monitorHostRoutesTraffic),
    tagKey: params.tagKey,
    tagValue: params.tagValue,
  };
}

type Region = { Ref: 'AWS::Region' };
const REGION: Region = { Ref: 'AWS::Region' };
/** A user data part: text, or the deploy region (filled in by CloudFormation). */
export type UserDataPart = string | Region;

/** Values placed in shell text between single quotes: none may hold a quote (each was validated above). */
function shellValue(name: string, value: string): string {
  if (!/^[A-Za-z0-9_./:-]*$/.test(value))
    throw new Error(`${name} cannot be placed in the bootstrap: ${value}`);
  return value;
}

/**
 * The bootstrap script as user data: comment lines dropped (16 KB limit; the
 * commented source is stack/monitor-host-bootstrap.sh), its `@@SETTINGS@@`
 * line replaced by the settings. The region is a part of its own, which
 * CloudFormation fills in. Throws when the result exceeds USER_DATA_LIMIT.
 */
export function userDataParts(
  settings: MonitorHostSettings,
  script = readFileSync(BOOTSTRAP_PATH, 'utf8'),
): UserDataPart[] {
  const lines = script.split('\n');
  const at = lines.findIndex((line) => line.trim() === '# @@SETTINGS@@');
  if (at < 0) throw new Error('stack/monitor-host-bootstrap.sh lost its # @@SETTINGS@@ line');
  const keep = (line: string, index: number) => index === 0 || !/^\s*(#|$)/.test(line);
  const before = lines.slice(0, at).filter(keep);
  const after = lines.slice(at + 1).filter((line) => !/^\s*(#|$)/.test(line));
  const header = `${before.join('\n')}\n# CloudConnexa Resource Monitor: monitor host bootstrap (stack/monitor-host-bootstrap.sh, comments dropped)\nCCM_REGION='`;
  const settingsText = [
    "'",
    `CCM_TOKEN_PARAMETER='${shellValue('connectorTokenParameter', settings.tokenParameter)}'`,
    `CCM_PROFILE_NAME='${CONNECTOR_PROFILE_NAME}'`,
    `CCM_ROUTES_TRAFFIC='${settings.routesTraffic}'`,
    ...after,
    '',
  ].join('\n');
  const parts: UserDataPart[] = [header, REGION, settingsText];
  // The longest region name is 14 characters (ap-southeast-4): the worst case.
  const size = Buffer.byteLength(renderUserData(parts, 'x'.repeat(20)));
  if (size > USER_DATA_LIMIT) {
    throw new InvalidInputError(
      'monitor host user data',
      `${size} bytes`,
      `at most ${USER_DATA_LIMIT} bytes (EC2's user data limit): stack/monitor-host-bootstrap.sh has outgrown it`,
    );
  }
  return parts;
}

/** The user data text as the instance receives it in `region`. */
export function renderUserData(parts: readonly UserDataPart[], region: string): string {
  return parts.map((part) => (typeof part === 'string' ? part : region)).join('');
}

const sub = (text: string) => ({ 'Fn::Sub': text });
// CloudFormation Fn::Sub texts (not JS templates): the account's partition, region and id.
// biome-ignore lint/suspicious/noTemplateCurlyInString: Fn::Sub syntax
const SSM_CORE_POLICY = sub('arn:${AWS::Partition}:iam::aws:policy/AmazonSSMManagedInstanceCore');
// biome-ignore lint/suspicious/noTemplateCurlyInString: Fn::Sub syntax
const ANY_KEY_HERE = sub('arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:key/*');
// biome-ignore lint/suspicious/noTemplateCurlyInString: Fn::Sub syntax
const SSM_SERVICE = sub('ssm.${AWS::Region}.amazonaws.com');

/** The token parameter's ARN (its name starts with `/`, as isParameterName requires). */
function tokenArn(name: string) {
  return sub(`arn:\${AWS::Partition}:ssm:\${AWS::Region}:\${AWS::AccountId}:parameter${name}`);
}

/** Parameter Store actions that read values; the role may use them on the token parameter only. */
export const PARAMETER_READ_ACTIONS = [
  'ssm:GetParameter',
  'ssm:GetParameters',
  'ssm:GetParametersByPath',
  'ssm:GetParameterHistory',
] as const;

function role(settings: MonitorHostSettings) {
  const parameter = tokenArn(settings.tokenParameter);
  return {
    Type: 'AWS::IAM::Role',
    Properties: {
      Description:
        'CloudConnexa monitor host: SSM management and the connector token parameter, nothing else',
      AssumeRolePolicyDocument: {
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' },
        ],
      },
      ManagedPolicyArns: [SSM_CORE_POLICY],
      Policies: [
        {
          PolicyName: 'connector-token',
          PolicyDocument: {
            Version: '2012-10-17',
            Statement: [
              { Sid: 'ReadConnectorToken', Effect: 'Allow', Action: 'ssm:GetParameter', Resource: parameter },
              {
                Sid: 'DecryptConnectorTokenThroughSsm',
                Effect: 'Allow',
                Action: 'kms:Decrypt',
                Resource: settings.kmsKeyArn ?? ANY_KEY_HERE,
                Condition: {
                  StringEquals: {
                    'kms:ViaService': SSM_SERVICE,
                    'kms:EncryptionContext:PARAMETER_ARN': parameter,
                  },
                },
              },
              // AmazonSSMManagedInstanceCore allows ssm:GetParameter(s) on '*'.
              {
                Sid: 'NoOtherParameters',
                Effect: 'Deny',
                Action: [...PARAMETER_READ_ACTIONS],
                NotResource: parameter,
              },
            ],
          },
        },
      ],
    },
  };
}

/** The fragment for serverless.yml's `resources:` list: empty when the monitor host is off. */
export function monitorHostFragment(
  settings: MonitorHostSettings | null,
  names: { service: string; stage: string },
  script?: string,
): { Resources?: Record<string, unknown>; Outputs?: Record<string, unknown> } {
  if (settings === null) return {};
  const name = `${names.service}-${names.stage}-monitor-host`;
  return {
    Resources: {
      [ROLE_LOGICAL_ID]: role(settings),
      [PROFILE_LOGICAL_ID]: {
        Type: 'AWS::IAM::InstanceProfile',
        Properties: { Roles: [{ Ref: ROLE_LOGICAL_ID }] },
      },
      [SECURITY_GROUP_LOGICAL_ID]: {
        Type: 'AWS::EC2::SecurityGroup',
        Properties: {
          GroupDescription: `${name}: no inbound rule (managed through SSM only); outbound for packages, SSM, CloudConnexa and the monitored resources`,
          VpcId: settings.vpcId,
          SecurityGroupEgress: [
            {
              IpProtocol: '-1',
              CidrIp: '0.0.0.0/0',
              Description: 'packages, SSM, CloudConnexa, monitored resources',
            },
          ],
          Tags: [{ Key: 'Name', Value: name }],
        },
      },
      [INSTANCE_LOGICAL_ID]: {
        Type: 'AWS::EC2::Instance',
        Properties: {
          ImageId: `resolve:ssm:${settings.imageParameter}`,
          InstanceType: settings.instanceType,
          IamInstanceProfile: { Ref: PROFILE_LOGICAL_ID },
          SubnetId: settings.subnetId,
          SecurityGroupIds: [{ 'Fn::GetAtt': [SECURITY_GROUP_LOGICAL_ID, 'GroupId'] }],
          // Off only for a connector that routes other hosts' traffic (README: Monitor host).
          SourceDestCheck: !settings.routesTraffic,
          MetadataOptions: {
            HttpEndpoint: 'enabled',
            HttpTokens: 'required',
            HttpPutResponseHopLimit: 1,
            InstanceMetadataTags: 'disabled',
          },
          // Ubuntu's root device; size and throughput from the image (8 GiB gp3).
          BlockDeviceMappings: [
            {
              DeviceName: '/dev/sda1',
              Ebs: { Encrypted: true, VolumeType: 'gp3', DeleteOnTermination: true },
            },
          ],
          PropagateTagsToVolumeOnCreation: true,
          UserData: { 'Fn::Base64': { 'Fn::Join': ['', userDataParts(settings, script)] } },
          Tags: [
            { Key: settings.tagKey, Value: settings.tagValue },
            { Key: 'Name', Value: name },
          ],
        },
      },
    },
    Outputs: {
      MonitorHostInstanceId: {
        Description: 'The monitor host; its records are in the log stream of this name',
        Value: { Ref: INSTANCE_LOGICAL_ID },
      },
    },
  };
}
