/**
 * The notifier in the packaged template (`serverless package`, offline, no
 * credentials): every alarm reaches the topic through the notifier and only
 * through it (its own failure alarm aside), the EventBridge rule matches
 * exactly the stack's alarms, the role is least privilege, the webhook URL
 * is nowhere (only its parameter's name), chat configurations exist only when
 * their params are set, and every function's environment fits Lambda's 4 KB.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { STAGE_RESOURCES_MAX_CHARS } from '../../common/stack-params.ts';
import { CONTRIBUTOR_STATE_CHANGE, STATE_CHANGE } from '../../functions/notify/alarm-event.ts';
import { classifyAlarm } from '../../functions/notify/alarm-kinds.ts';
import { NOTIFY_TIMEOUT_SECONDS } from '../../functions/notify/limits.ts';
import { createPackager, type Resource, type Template } from './package-stack.ts';

const SERVICE = 'cloudconnexa-monitor';
const packager = createPackager('notify-template');
const runId = randomBytes(4).toString('hex');
const WEBHOOK_PARAMETER = '/cloudconnexa/notify/webhook-url';
const WATCHED_INSTANCE = 'i-0123456789abcdef0';
const CHAT = [
  'slackWorkspaceId=T0123ABCD',
  'slackChannelId=C0123ABCD',
  'teamsTenantId=6f9c2f9e-1b1a-4c9e-9e0e-2b7d1f6a8c11',
  'teamsTeamId=74361522-da01-538d-aa2e-ac7918c6bb92',
  'teamsChannelId=19%3ab6ef35dc342d56ba5654e6fc6d25a071%40thread.tacv2',
];

interface Statement {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: unknown;
}

/** Packages a stage: its exit code, output, and the template when it packaged. */
async function run(
  stage: string,
  params: string[],
): Promise<{ code: number | null; output: string; template: Template | null }> {
  const result = await packager.run(stage, params);
  return {
    code: result.code,
    output: result.output,
    template: result.code === 0 ? packager.templateOf(stage) : null,
  };
}

const resource = (t: Template, id: string): Resource => {
  const r = t.Resources[id];
  assert.ok(r, `resource ${id} is missing`);
  return r;
};
const ofType = (t: Template, type: string) => Object.entries(t.Resources).filter(([, r]) => r.Type === type);
const list = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);
/** `${AWS::<name>}`, as Fn::Sub texts hold it. */
const pseudo = (name: string) => `$${'{'}AWS::${name}${'}'}`;
const [PARTITION, REGION, ACCOUNT] = ['Partition', 'Region', 'AccountId'].map(pseudo);
const alarmArn = (name: string) => ({
  'Fn::Sub': `arn:${PARTITION}:cloudwatch:${REGION}:${ACCOUNT}:alarm:${name}`,
});

function notifyStatements(t: Template): Statement[] {
  const role = resource(t, 'NotifyRole').Properties as {
    Policies: { PolicyDocument: { Statement: Statement[] } }[];
  };
  return role.Policies.flatMap((p) => p.PolicyDocument.Statement);
}

let plain: { stage: string; template: Template };
let full: { stage: string; template: Template };

describe('the notifier in the packaged template', () => {
  before(async () => {
    const stages = [`nt-${runId}`, `nc-${runId}`];
    const [a, b] = await Promise.all([
      run(stages[0] as string, []),
      run(stages[1] as string, [
        `webhookUrlParameter=${WEBHOOK_PARAMETER}`,
        ...CHAT,
        'adoptLogGroup=true',
        `latencyAnomalyAlarms=fleet,${WATCHED_INSTANCE}`,
        'pathChangeAlarm=true',
      ]),
    ]);
    assert.ok(a?.template, `packaging failed:\n${a?.output}`);
    assert.ok(b?.template, `packaging failed:\n${b?.output}`);
    plain = { stage: stages[0] as string, template: a.template };
    full = { stage: stages[1] as string, template: b.template };
  });

  after(() => packager.cleanup());

  it('routes every alarm but its own through exactly one EventBridge rule, and none of them to the topic directly', () => {
    for (const { stage, template } of [plain, full]) {
      const rule = resource(template, 'AlarmEventsRule').Properties as {
        EventPattern: { source: string[]; 'detail-type': string[]; resources: unknown[] };
        Targets: { Arn: unknown }[];
      };
      assert.deepEqual(rule.EventPattern.source, ['aws.cloudwatch']);
      assert.deepEqual(rule.EventPattern['detail-type'], [STATE_CHANGE, CONTRIBUTOR_STATE_CHANGE]);
      assert.deepEqual(
        rule.Targets.map((t) => t.Arn),
        [{ 'Fn::GetAtt': ['NotifyLambdaFunction', 'Arn'] }],
      );
      const routed = JSON.stringify(rule.EventPattern.resources);
      // The anomaly alarms' rule: by ARN prefix (stack/notify.ts), only where the stage declares them.
      const anomalyRule = template.Resources.AnomalyAlarmEventsRule?.Properties as
        | {
            EventPattern: { source: string[]; 'detail-type': string[]; resources: { prefix: unknown }[] };
            Targets: { Arn: unknown }[];
          }
        | undefined;
      const anomalies = ofType(template, 'AWS::CloudWatch::AnomalyDetector').length;
      assert.equal(anomalyRule !== undefined, anomalies > 0, `${stage}: an anomaly rule iff anomaly alarms`);
      const prefixSub = anomalyRule?.EventPattern.resources[0]?.prefix as { 'Fn::Sub': string } | undefined;
      const namePrefix = prefixSub?.['Fn::Sub'].split(':alarm:')[1] ?? null;
      if (anomalyRule !== undefined) {
        assert.deepEqual(anomalyRule.EventPattern.source, ['aws.cloudwatch']);
        assert.deepEqual(anomalyRule.EventPattern['detail-type'], [STATE_CHANGE]);
        assert.equal(anomalyRule.EventPattern.resources.length, 1);
        assert.deepEqual(prefixSub, alarmArn(`${SERVICE}-${stage}_latency-anomaly-`));
        assert.deepEqual(
          anomalyRule.Targets.map((t) => t.Arn),
          [{ 'Fn::GetAtt': ['NotifyLambdaFunction', 'Arn'] }],
        );
        const permission = resource(template, 'NotifyAnomalyEventsPermission').Properties;
        assert.equal(permission.Principal, 'events.amazonaws.com');
        assert.deepEqual(permission.SourceArn, { 'Fn::GetAtt': ['AnomalyAlarmEventsRule', 'Arn'] });
      }
      let anomalyAlarms = 0;
      for (const [id, alarm] of ofType(template, 'AWS::CloudWatch::Alarm')) {
        const name = String(alarm.Properties.AlarmName);
        assert.ok(
          name.startsWith(`${SERVICE}-${stage}-`) || name.startsWith(`${SERVICE}-${stage}_`),
          `${id} is named for the stage`,
        );
        const direct = ['AlarmActions', 'OKActions', 'InsufficientDataActions'].filter(
          (k) => alarm.Properties[k] !== undefined,
        );
        const byName = routed.includes(JSON.stringify(alarmArn(name)));
        const byPrefix = namePrefix !== null && name.startsWith(namePrefix);
        if (id === 'NotifierFailingAlarm') {
          assert.deepEqual(
            alarm.Properties.AlarmActions,
            [{ Ref: 'AlarmTopic' }],
            'the fallback goes to the topic directly',
          );
          assert.ok(!routed.includes(name) && !byPrefix, 'never through the notifier');
          continue;
        }
        assert.deepEqual(direct, [], `${id} notifies through the notifier only (no duplicate e-mails)`);
        assert.ok(byName !== byPrefix, `${id} (${name}) is routed by exactly one rule`);
        // The notifier knows each alarm it is handed (functions/notify/alarm-kinds.ts).
        const kind = classifyAlarm(name, `${SERVICE}-${stage}-`, []).kind;
        assert.notEqual(kind, 'other', `${id} (${name}) is a known alarm`);
        if (byPrefix) {
          anomalyAlarms++;
          assert.equal(kind, 'latency-anomaly');
          assert.match(id, /LatencyAnomaly[0-9a-f]*Alarm$/, `${id} is an anomaly alarm`);
        }
      }
      assert.equal(anomalyAlarms, anomalies, `${stage}: every anomaly alarm matches the prefix`);
      const permission = resource(template, 'NotifyEventsPermission').Properties;
      assert.equal(permission.Principal, 'events.amazonaws.com');
      assert.deepEqual(permission.SourceArn, { 'Fn::GetAtt': ['AlarmEventsRule', 'Arn'] });
    }
    assert.equal(ofType(full.template, 'AWS::CloudWatch::AnomalyDetector').length, 2);
  });

  it("scopes the anomaly rule's prefix to this stage: no alarm of the other stage matches it, nor this stage's fixed alarms", () => {
    const prefixOf = (t: Template) => {
      const rule = resource(t, 'AnomalyAlarmEventsRule').Properties as {
        EventPattern: { resources: { prefix: { 'Fn::Sub': string } }[] };
      };
      return rule.EventPattern.resources[0]?.prefix['Fn::Sub'].split(':alarm:')[1] ?? '';
    };
    const prefix = prefixOf(full.template);
    assert.ok(prefix.length > `${SERVICE}-${full.stage}`.length);
    const names = (t: Template) =>
      ofType(t, 'AWS::CloudWatch::Alarm').map(([, a]) => String(a.Properties.AlarmName));
    assert.deepEqual(
      names(plain.template).filter((n) => n.startsWith(prefix)),
      [],
      'the other stage',
    );
    assert.deepEqual(
      names(full.template)
        .filter((n) => n.startsWith(prefix))
        .sort(),
      [
        `${SERVICE}-${full.stage}_latency-anomaly-fleet`,
        `${SERVICE}-${full.stage}_latency-anomaly-${WATCHED_INSTANCE}`,
      ],
    );
  });

  it('retries a failed notification twice, then sends the event itself to the topic; the failure alarm watches it', () => {
    const t = plain.template;
    const fn = resource(t, 'NotifyLambdaFunction').Properties;
    assert.equal(Number(fn.Timeout), NOTIFY_TIMEOUT_SECONDS);
    assert.deepEqual(fn.Role, { 'Fn::GetAtt': ['NotifyRole', 'Arn'] });
    assert.deepEqual(fn.Architectures, ['arm64']);
    const config = ofType(t, 'AWS::Lambda::EventInvokeConfig').find(([, r]) =>
      JSON.stringify(r.Properties.FunctionName).includes('Notify'),
    );
    assert.equal(config?.[1].Properties.MaximumRetryAttempts, 2);
    assert.deepEqual(config?.[1].Properties.DestinationConfig, {
      OnFailure: { Destination: { Ref: 'AlarmTopic' } },
    });
    const alarm = resource(t, 'NotifierFailingAlarm').Properties;
    assert.equal(alarm.Namespace, 'AWS/Lambda');
    assert.equal(alarm.MetricName, 'Errors');
    assert.deepEqual(alarm.Dimensions, [{ Name: 'FunctionName', Value: { Ref: 'NotifyLambdaFunction' } }]);
  });

  it('gives the notifier least privilege: each action on its own resources, nothing on "*"', () => {
    for (const { template } of [plain, full]) {
      const granted = new Map<string, unknown[]>();
      for (const s of notifyStatements(template)) {
        assert.equal(s.Effect, 'Allow');
        assert.ok(!list(s.Resource).includes('*'), `${s.Sid} on '*'`);
        for (const action of list(s.Action))
          granted.set(action, [...(granted.get(action) ?? []), ...list(s.Resource)]);
      }
      const monitorGroup = {
        'Fn::Sub': `arn:${PARTITION}:logs:${REGION}:${ACCOUNT}:log-group:CloudConnexa-Monitor-Logs:*`,
      };
      assert.deepEqual(granted.get('logs:FilterLogEvents'), [
        monitorGroup,
        { 'Fn::GetAtt': ['DispatchLogGroup', 'Arn'] },
      ]);
      assert.deepEqual(granted.get('logs:CreateLogStream'), [{ 'Fn::GetAtt': ['NotifyLogGroup', 'Arn'] }]);
      assert.deepEqual(granted.get('sns:Publish'), [{ Ref: 'AlarmTopic' }]);
      assert.deepEqual(granted.get('sqs:ReceiveMessage'), [
        { 'Fn::GetAtt': ['CollectDeadLetterQueue', 'Arn'] },
      ]);
      const alarms = ofType(template, 'AWS::CloudWatch::Alarm')
        .filter(([id]) => id !== 'NotifierFailingAlarm')
        .map(([, a]) => JSON.stringify(alarmArn(String(a.Properties.AlarmName))));
      const history = (granted.get('cloudwatch:DescribeAlarmHistory') ?? []).map((r) => JSON.stringify(r));
      for (const arn of alarms) assert.ok(history.includes(arn), `history of ${arn}`);
      assert.ok(
        history.every((arn) => arn.includes(':alarm:cloudconnexa-monitor-')),
        'only the stack alarms',
      );
      const known = new Set([
        'logs:CreateLogStream',
        'logs:PutLogEvents',
        'logs:FilterLogEvents',
        'cloudwatch:DescribeAlarmHistory',
        'sns:Publish',
        'sqs:GetQueueUrl',
        'sqs:ReceiveMessage',
        'ssm:GetParameter',
        'kms:Decrypt',
      ]);
      for (const action of granted.keys()) assert.ok(known.has(action), `unexpected action ${action}`);
    }
    const plainActions = notifyStatements(plain.template).flatMap((s) => list(s.Action));
    assert.ok(
      !plainActions.includes('ssm:GetParameter') && !plainActions.includes('kms:Decrypt'),
      'no webhook, no secret access',
    );
  });

  it("keeps the webhook URL out: only the SecureString's name, readable and decryptable by the notifier alone", () => {
    const t = full.template;
    const env = (
      resource(t, 'NotifyLambdaFunction').Properties.Environment as { Variables: Record<string, unknown> }
    ).Variables;
    assert.equal(env.WEBHOOK_URL_PARAMETER, WEBHOOK_PARAMETER);
    const parameterArn = `arn:${PARTITION}:ssm:${REGION}:${ACCOUNT}:parameter${WEBHOOK_PARAMETER}`;
    const statements = notifyStatements(t);
    const read = statements.filter((s) => list(s.Action).includes('ssm:GetParameter'));
    assert.deepEqual(
      read.map((s) => s.Resource),
      [{ 'Fn::Sub': parameterArn }],
    );
    const decrypt = statements.filter((s) => list(s.Action).includes('kms:Decrypt'));
    assert.equal(decrypt.length, 1);
    assert.deepEqual(decrypt[0]?.Condition, {
      StringEquals: {
        'kms:ViaService': { 'Fn::Sub': `ssm.${REGION}.amazonaws.com` },
        'kms:EncryptionContext:PARAMETER_ARN': { 'Fn::Sub': parameterArn },
      },
    });
    for (const [id, r] of Object.entries(t.Resources)) {
      if (id === 'NotifyRole' || id === 'NotifyLambdaFunction') continue;
      assert.ok(!JSON.stringify(r).includes(WEBHOOK_PARAMETER), `${id} does not name the parameter`);
    }
    assert.ok(!JSON.stringify(t).includes('https://hooks'), 'no URL in the template');
  });

  it('declares the chat configurations only when their params are set', () => {
    assert.equal(ofType(plain.template, 'AWS::Chatbot::SlackChannelConfiguration').length, 0);
    assert.equal(ofType(plain.template, 'AWS::Chatbot::MicrosoftTeamsChannelConfiguration').length, 0);
    assert.equal(plain.template.Resources.ChatChannelRole, undefined);
    const slack = resource(full.template, 'SlackChannel');
    const teams = resource(full.template, 'TeamsChannel');
    assert.equal(slack.Type, 'AWS::Chatbot::SlackChannelConfiguration');
    assert.equal(teams.Type, 'AWS::Chatbot::MicrosoftTeamsChannelConfiguration');
    for (const config of [slack, teams]) {
      assert.deepEqual(config.Properties.SnsTopicArns, [{ Ref: 'AlarmTopic' }]);
      assert.deepEqual(config.Properties.IamRoleArn, { 'Fn::GetAtt': ['ChatChannelRole', 'Arn'] });
      assert.deepEqual(config.Properties.GuardrailPolicies, [
        { 'Fn::Sub': `arn:${PARTITION}:iam::aws:policy/CloudWatchReadOnlyAccess` },
      ]);
      assert.match(String(config.Properties.ConfigurationName), /^[A-Za-z0-9-_]{1,128}$/);
    }
    assert.equal(slack.Properties.SlackWorkspaceId, 'T0123ABCD');
    assert.equal(teams.Properties.TeamsChannelId, '19%3ab6ef35dc342d56ba5654e6fc6d25a071%40thread.tacv2');
    const role = resource(full.template, 'ChatChannelRole').Properties;
    assert.equal(role.Policies, undefined);
    assert.equal(role.ManagedPolicyArns, undefined);
    assert.match(JSON.stringify(role.AssumeRolePolicyDocument), /"Service":"chatbot\.amazonaws\.com"/);
  });

  it('names what the notifier derives: the dashboard, the alarm prefix and the dispatch log group', () => {
    const { stage, template: t } = plain;
    const env = (
      resource(t, 'NotifyLambdaFunction').Properties.Environment as { Variables: Record<string, unknown> }
    ).Variables;
    assert.equal(env.POWERTOOLS_SERVICE_NAME, `${SERVICE}-${stage}`);
    assert.equal(resource(t, 'Dashboard').Properties.DashboardName, `${SERVICE}-${stage}`);
    assert.equal(
      resource(t, 'DispatchLogGroup').Properties.LogGroupName,
      `/aws/lambda/${SERVICE}-${stage}-dispatch`,
    );
    assert.deepEqual(env.ALARM_TOPIC_ARN, { Ref: 'AlarmTopic' });
  });

  it("keeps every function's environment within Lambda's 4 KB with the longest stage resource list", () => {
    // Refs as long as CloudFormation makes them in a long region, with a long stage name.
    const longStage = 'production-eu-central';
    const expanded: Record<string, string> = {
      MonitorDocument: `${SERVICE}-${longStage}-agent`,
      CollectQueue: `https://sqs.ap-southeast-2.amazonaws.com/123456789012/${SERVICE}-${longStage}-CollectQueue-AbCdEfGhIjKl`,
      AlarmTopic: `arn:aws:sns:ap-southeast-2:123456789012:${SERVICE}-${longStage}-AlarmTopic-AbCdEfGhIjKl`,
      // CloudFormation names the table <stack>-<logical id>-<suffix>.
      ClaimsTable: `${SERVICE}-${longStage}-ClaimsTable-AbCdEfGhIjKlM`,
    };
    for (const [id, fn] of ofType(full.template, 'AWS::Lambda::Function')) {
      const variables =
        (fn.Properties.Environment as { Variables: Record<string, unknown> } | undefined)?.Variables ?? {};
      let bytes = 0;
      for (const [key, value] of Object.entries(variables)) {
        let text: string;
        if (typeof value === 'string') text = value.replaceAll(full.stage, longStage);
        else {
          const ref = (value as { Ref?: string }).Ref ?? '';
          assert.ok(
            ref in expanded,
            `${id}: ${key} is a Ref this test knows the length of (${JSON.stringify(value)})`,
          );
          text = expanded[ref] as string;
        }
        if (key === 'DEFAULT_RESOURCES') text = 'x'.repeat(STAGE_RESOURCES_MAX_CHARS);
        bytes += Buffer.byteLength(key) + Buffer.byteLength(text);
      }
      assert.ok(bytes <= 4096, `${id}: ${bytes} bytes of environment`);
    }
  });

  it('fails packaging on chat params set in part, naming them, and on a URL given as the parameter name, without echoing it', async () => {
    const [partial, url] = await Promise.all([
      run(`np-${runId}`, ['slackWorkspaceId=T0123ABCD']),
      run(`nu-${runId}`, ['webhookUrlParameter=https://hooks.example.com/services/T0/B0/s3cr3t']),
    ]);
    assert.notEqual(partial.code, 0);
    assert.match(
      partial.output,
      /params slackWorkspaceId \/ slackChannelId "T0123ABCD \/ \(empty\)" is not allowed: both set/,
    );
    assert.notEqual(url.code, 0);
    assert.match(url.output, /the NAME of an SSM Parameter Store SecureString/);
    assert.ok(!url.output.includes('s3cr3t'), 'the URL is not repeated');
  });
});
