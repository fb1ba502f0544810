/**
 * The notifier's part of the template on its own: what each set of stage
 * params declares, and the values it refuses at package time.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { anomalyAlarmName, STACK_ALARMS } from '../../../functions/notify/alarm-kinds.ts';
import { ANOMALY_RULE_ID, type NotifyParams, planNotify } from '../../../stack/notify.ts';

type Props = Record<string, unknown>;

const PARAMS: NotifyParams = {
  service: 'cloudconnexa-monitor',
  stage: 'prod',
  logGroupName: 'CloudConnexa-Monitor-Logs',
  webhookUrlParameter: '',
  slackWorkspaceId: '',
  slackChannelId: '',
  teamsTenantId: '',
  teamsTeamId: '',
  teamsChannelId: '',
};
const SLACK = { slackWorkspaceId: 'T0123ABCD', slackChannelId: 'C0123ABCD' };
const TEAMS = {
  teamsTenantId: '6f9c2f9e-1b1a-4c9e-9e0e-2b7d1f6a8c11',
  teamsTeamId: '74361522-da01-538d-aa2e-ac7918c6bb92',
  teamsChannelId: '19%3ab6ef35dc342d56ba5654e6fc6d25a071%40thread.tacv2',
};

type Statement = { Sid: string; Action: string | string[]; Resource: unknown; Condition?: unknown };

function statements(plan: ReturnType<typeof planNotify>): Statement[] {
  const role = plan.fragment.Resources.NotifyRole as {
    Properties: { Policies: { PolicyDocument: { Statement: Statement[] } }[] };
  };
  return role.Properties.Policies.flatMap((p) => p.PolicyDocument.Statement);
}

describe('planNotify', () => {
  it('by default: the rule, the role, the permission and the failure alarm; no chat, no parameter access', () => {
    const plan = planNotify(PARAMS);
    assert.deepEqual(Object.keys(plan.fragment.Resources).sort(), [
      'AlarmEventsRule',
      'NotifierFailingAlarm',
      'NotifyEventsPermission',
      'NotifyRole',
    ]);
    assert.equal(plan.webhookParameter, '');
    assert.deepEqual(plan.chat, { slack: false, teams: false });
    const actions = statements(plan).flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]));
    assert.ok(!actions.some((a) => a.startsWith('ssm:') || a.startsWith('kms:')), actions.join(', '));
  });

  it('scopes the rule and the history permission to the alarms of this stage by exact ARN', () => {
    const plan = planNotify(PARAMS);
    const rule = plan.fragment.Resources.AlarmEventsRule as {
      Properties: { EventPattern: { resources: { 'Fn::Sub': string }[] } };
    };
    const arns = rule.Properties.EventPattern.resources.map((r) => r['Fn::Sub']);
    assert.equal(arns.length, STACK_ALARMS.length);
    for (const arn of arns) {
      assert.match(
        arn,
        /^arn:\$\{AWS::Partition\}:cloudwatch:\$\{AWS::Region\}:\$\{AWS::AccountId\}:alarm:cloudconnexa-monitor-prod-[a-z-]+$/,
      );
    }
    assert.ok(
      !arns.some((a) => a.endsWith('notifier-failing')),
      'the notifier never handles its own failure alarm',
    );
    const history = statements(plan).find((s) => s.Sid === 'ReadAlarmHistory');
    assert.deepEqual(history?.Resource, rule.Properties.EventPattern.resources);
  });

  it('with anomaly alarms: a second rule matching their ARN prefix, which no other stage’s alarm name can start with, and their history by exact ARN', () => {
    // Prepare: the names stack/history-alarms.ts gives them.
    const names = ['fleet', 'i-0123456789abcdef0'].map((t) =>
      anomalyAlarmName('cloudconnexa-monitor', 'prod', t),
    );
    // Act
    const plan = planNotify({ ...PARAMS, anomalyAlarmNames: names });
    // Assess: the rule and its permission.
    const rule = plan.fragment.Resources[ANOMALY_RULE_ID] as {
      Properties: {
        EventPattern: {
          source: string[];
          'detail-type': string[];
          resources: { prefix: { 'Fn::Sub': string } }[];
        };
        Targets: { Arn: unknown }[];
      };
    };
    const arnPrefix =
      // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation Fn::Sub syntax, not a JS template
      'arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:cloudconnexa-monitor-prod_latency-anomaly-';
    assert.deepEqual(rule.Properties.EventPattern, {
      source: ['aws.cloudwatch'],
      'detail-type': ['CloudWatch Alarm State Change'],
      resources: [{ prefix: { 'Fn::Sub': arnPrefix } }],
    });
    assert.deepEqual(rule.Properties.Targets[0]?.Arn, { 'Fn::GetAtt': ['NotifyLambdaFunction', 'Arn'] });
    const permission = plan.fragment.Resources.NotifyAnomalyEventsPermission as { Properties: Props };
    assert.deepEqual(permission.Properties.SourceArn, { 'Fn::GetAtt': [ANOMALY_RULE_ID, 'Arn'] });
    // The prefix matches these alarms, and not one alarm name of another stage or service, whatever
    // its stage name (letters, digits and -), nor this stage's fixed alarms.
    const namePrefix = arnPrefix.slice(arnPrefix.indexOf(':alarm:') + ':alarm:'.length);
    for (const name of names) assert.ok(name.startsWith(namePrefix), name);
    const others = [
      ...['prod-eu', 'prod-latency-anomaly', 'prod-latency-anomaly-i', 'prodx', 'pro'].flatMap((stage) => [
        ...STACK_ALARMS.map((a) => `cloudconnexa-monitor-${stage}-${a.suffix}`),
        anomalyAlarmName('cloudconnexa-monitor', stage, 'fleet'),
      ]),
      ...STACK_ALARMS.map((a) => `cloudconnexa-monitor-prod-${a.suffix}`),
      'cloudconnexa-monitor-prod-notifier-failing',
      anomalyAlarmName('cloudconnexa-monitor-prod-latency', 'anomaly', 'fleet'),
    ];
    assert.deepEqual(
      others.filter((name) => name.startsWith(namePrefix)),
      [],
    );
    // The alarm history: the fixed alarms and exactly these.
    const history = statements(plan).find((s) => s.Sid === 'ReadAlarmHistory');
    const arns = ((history?.Resource ?? []) as { 'Fn::Sub': string }[]).map((r) => r['Fn::Sub']);
    assert.equal(arns.length, STACK_ALARMS.length + names.length);
    for (const name of names)
      assert.ok(
        arns.some((a) => a.endsWith(`:alarm:${name}`)),
        name,
      );
    // Without anomaly alarms, no rule for them.
    assert.equal(planNotify(PARAMS).fragment.Resources[ANOMALY_RULE_ID], undefined);
  });

  it('with a webhook: GetParameter on that parameter only, and kms:Decrypt only through SSM for it', () => {
    const plan = planNotify({ ...PARAMS, webhookUrlParameter: '/cloudconnexa/notify/webhook-url' });
    assert.equal(plan.webhookParameter, '/cloudconnexa/notify/webhook-url');
    const byId = new Map(statements(plan).map((s) => [s.Sid, s]));
    const arn =
      // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation Fn::Sub syntax, not a JS template
      'arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/cloudconnexa/notify/webhook-url';
    assert.deepEqual(byId.get('ReadWebhookUrl'), {
      Sid: 'ReadWebhookUrl',
      Effect: 'Allow',
      Action: 'ssm:GetParameter',
      Resource: { 'Fn::Sub': arn },
    });
    assert.deepEqual(byId.get('DecryptWebhookUrlThroughSsm')?.Condition, {
      StringEquals: {
        // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation Fn::Sub syntax
        'kms:ViaService': { 'Fn::Sub': 'ssm.${AWS::Region}.amazonaws.com' },
        'kms:EncryptionContext:PARAMETER_ARN': { 'Fn::Sub': arn },
      },
    });
  });

  it('declares Slack and Teams channel configurations only for the params set, with a role that can do nothing', () => {
    const slack = planNotify({ ...PARAMS, ...SLACK });
    assert.ok(
      slack.fragment.Resources.SlackChannel !== undefined &&
        slack.fragment.Resources.TeamsChannel === undefined,
    );
    const both = planNotify({ ...PARAMS, ...SLACK, ...TEAMS });
    const teams = both.fragment.Resources.TeamsChannel as {
      Type: string;
      Properties: Record<string, unknown>;
    };
    assert.equal(teams.Type, 'AWS::Chatbot::MicrosoftTeamsChannelConfiguration');
    assert.equal(teams.Properties.TeamsTenantId, TEAMS.teamsTenantId);
    assert.equal(teams.Properties.TeamId, TEAMS.teamsTeamId);
    assert.equal(teams.Properties.TeamsChannelId, TEAMS.teamsChannelId);
    assert.deepEqual(teams.Properties.SnsTopicArns, [{ Ref: 'AlarmTopic' }]);
    const role = both.fragment.Resources.ChatChannelRole as { Properties: Record<string, unknown> };
    assert.equal(role.Properties.Policies, undefined, 'the channel role has no permissions');
    assert.equal(role.Properties.ManagedPolicyArns, undefined);
  });

  const refused: [Partial<NotifyParams>, RegExp][] = [
    [
      { slackWorkspaceId: 'T0123ABCD' },
      /params slackWorkspaceId \/ slackChannelId "T0123ABCD \/ \(empty\)" is not allowed: both set/,
    ],
    [{ ...SLACK, slackWorkspaceId: 't0123' }, /param slackWorkspaceId "t0123" is not allowed/],
    [{ ...SLACK, slackChannelId: '#alerts' }, /param slackChannelId "#alerts" is not allowed/],
    [{ teamsTenantId: TEAMS.teamsTenantId, teamsTeamId: TEAMS.teamsTeamId }, /all three set .* or all empty/],
    [{ ...TEAMS, teamsTeamId: 'team-1' }, /param teamsTeamId "team-1" is not allowed: a UUID/],
    [{ ...TEAMS, teamsChannelId: '19:abc@thread.tacv2' }, /param teamsChannelId .* URL-encoded/],
    [{ webhookUrlParameter: 'relative/name' }, /param webhookUrlParameter "relative\/name" is not allowed/],
    [{ webhookUrlParameter: '/aws/reserved' }, /param webhookUrlParameter/],
  ];
  for (const [params, message] of refused) {
    it(`refuses ${JSON.stringify(params)}`, () => {
      assert.throws(() => planNotify({ ...PARAMS, ...params }), message);
    });
  }

  it('refuses a webhook URL given where the parameter name belongs, without repeating it', () => {
    const url = 'https://hooks.slack.com/services/T000/B000/s3cr3t';
    assert.throws(
      () => planNotify({ ...PARAMS, webhookUrlParameter: url }),
      (error: Error) =>
        /the NAME of an SSM Parameter Store SecureString/.test(error.message) &&
        !error.message.includes('s3cr3t'),
    );
  });
});
