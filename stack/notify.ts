/**
 * The notifier's part of the template, decided at package time from the stage
 * parameters (serverless.yml reaches it through stack/notify.cjs; the function
 * itself is in serverless.yml's `functions:`):
 *
 * - `AlarmEventsRule`: EventBridge delivers "CloudWatch Alarm State Change" and
 *   "CloudWatch Alarm Contributor State Change" events of exactly the stack's
 *   alarms (their ARNs, from functions/notify/alarm-kinds.ts) to the notifier;
 *   an alarm of another stage or stack never matches.
 * - `AnomalyAlarmEventsRule`, only when the stage declares latency anomaly
 *   alarms (stack/history-alarms.ts): their state changes, matched by the ARN
 *   prefix `...:alarm:<service>-<stage>_latency-anomaly-` (EventBridge content
 *   filtering, `prefix`), since their names vary with the instances listed and
 *   an exact list of up to 21 ARNs would not fit the 2,048 characters of an
 *   event pattern beside the others. The `_` keeps the prefix this stack's
 *   (functions/notify/alarm-kinds.ts LATENCY_ANOMALY_MARK).
 * - `NotifyRole`: its own logs; FilterLogEvents on the central log group and the
 *   dispatch function's log group; DescribeAlarmHistory on the stack's alarms
 *   (the anomaly alarms by name);
 *   Publish to the alarm topic; ReceiveMessage on the dead-letter queue (a look
 *   with visibility 0); with a webhook, GetParameter on that one parameter and
 *   kms:Decrypt only through SSM for that parameter. No wildcard action, no
 *   `Resource: "*"`.
 * - `NotifierFailingAlarm`: the notifier's errors, with direct SNS actions (the
 *   one alarm not routed through it): the plain e-mail when it is broken.
 * - Chat (AWS Chatbot, now Amazon Q Developer in chat applications), only when
 *   its parameters are set: a Slack and/or a Microsoft Teams channel
 *   configuration subscribed to the alarm topic, with a channel role that has
 *   no permissions (the channel receives notifications and can run nothing)
 *   and a read-only guardrail (without one, AdministratorAccess applies).
 *
 * The webhook's URL never appears here: only the parameter's name does.
 */
import { InvalidInputError } from '../common/errors.ts';
import { parseParameterName } from '../functions/dispatch/resource-parameters.ts';
import { CONTRIBUTOR_STATE_CHANGE, STATE_CHANGE } from '../functions/notify/alarm-event.ts';
import {
  alarmNamePrefix,
  anomalyAlarmPrefix,
  NOTIFIER_FAILING_SUFFIX,
  STACK_ALARMS,
} from '../functions/notify/alarm-kinds.ts';
import { NOTIFIER_FAILING_ALARM_PERIOD_SECONDS, type Sensitivity } from './alarm-sensitivity.ts';

export interface NotifyParams {
  service: string;
  stage: string;
  logGroupName: string;
  webhookUrlParameter: string;
  slackWorkspaceId: string;
  slackChannelId: string;
  teamsTenantId: string;
  teamsTeamId: string;
  teamsChannelId: string;
  /** M of N of the notifier-failing alarm (stack/alarm-sensitivity.ts); default 1 of 1. */
  notifierFailingAlarm?: Pick<Sensitivity, 'datapoints' | 'periods'>;
  /** The stage's latency anomaly alarms (stack/history-alarms.ts anomalyAlarmNames); none by default. */
  anomalyAlarmNames?: readonly string[];
}

export interface NotifyPlan {
  fragment: { Resources: Record<string, unknown> };
  /** The webhook URL parameter's name for the function's environment ('' for none). */
  webhookParameter: string;
  chat: { slack: boolean; teams: boolean };
}

export const NOTIFY_FUNCTION_ID = 'NotifyLambdaFunction';
export const NOTIFY_LOG_GROUP_ID = 'NotifyLogGroup';
export const ALARM_RULE_ID = 'AlarmEventsRule';
export const ANOMALY_RULE_ID = 'AnomalyAlarmEventsRule';

const UUID = /^[0-9A-Fa-f]{8}(-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}$/;
/** AWS::Chatbot property patterns (CloudFormation resource reference). */
const SLACK_WORKSPACE = /^[0-9A-Z]{1,255}$/;
const SLACK_CHANNEL = /^[A-Za-z0-9]{1,255}$/;
const TEAMS_CHANNEL = /^([a-zA-Z0-9-_=+/.,])*%3[aA]([a-zA-Z0-9-_=+/.,])*%40([a-zA-Z0-9-_=+/.,])*$/;

const sub = (text: string) => ({ 'Fn::Sub': text });
/** `${AWS::Region}` and friends, for Fn::Sub texts written as plain strings. */
const PARTITION = '$' + '{AWS::Partition}';
const REGION = '$' + '{AWS::Region}';
const ACCOUNT = '$' + '{AWS::AccountId}';
const getAtt = (id: string, attribute: string) => ({ 'Fn::GetAtt': [id, attribute] });

export function alarmArn(name: string): { 'Fn::Sub': string } {
  return sub(`arn:${PARTITION}:cloudwatch:${REGION}:${ACCOUNT}:alarm:${name}`);
}

/** The names of the alarms routed through the notifier by name, for a service and stage. */
export function routedAlarmNames(service: string, stage: string): string[] {
  return STACK_ALARMS.map((a) => `${alarmNamePrefix(service, stage)}${a.suffix}`);
}

/** The ARN prefix the anomaly rule matches: `arn:<partition>:cloudwatch:<region>:<account>:alarm:<service>-<stage>_latency-anomaly-`. */
export function anomalyAlarmArnPrefix(service: string, stage: string): { 'Fn::Sub': string } {
  return alarmArn(anomalyAlarmPrefix(alarmNamePrefix(service, stage)));
}

function checkWebhookParameter(value: string): string {
  if (value === '') return '';
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
    throw new InvalidInputError(
      'param webhookUrlParameter',
      '(a URL, not shown)',
      'the NAME of an SSM Parameter Store SecureString that holds the URL (e.g. /cloudconnexa/notify/webhook-url), never the URL itself: the template and the Lambda environment are readable by anyone who can describe the stack',
    );
  }
  return parseParameterName(value, 'param webhookUrlParameter', '/');
}

function chatParams(p: NotifyParams): { slack: boolean; teams: boolean } {
  const slack = [p.slackWorkspaceId, p.slackChannelId];
  if (slack.some((v) => v !== '') && slack.some((v) => v === '')) {
    throw new InvalidInputError(
      'params slackWorkspaceId / slackChannelId',
      `${p.slackWorkspaceId || '(empty)'} / ${p.slackChannelId || '(empty)'}`,
      'both set (Slack delivery) or both empty',
    );
  }
  if (slack[0] !== '' && !SLACK_WORKSPACE.test(p.slackWorkspaceId)) {
    throw new InvalidInputError(
      'param slackWorkspaceId',
      p.slackWorkspaceId,
      'the workspace id the chat console shows: capital letters and digits, e.g. T0123ABCD',
    );
  }
  if (slack[1] !== '' && !SLACK_CHANNEL.test(p.slackChannelId)) {
    throw new InvalidInputError(
      'param slackChannelId',
      p.slackChannelId,
      'a Slack channel id: letters and digits, e.g. C0123ABCD',
    );
  }
  const teams = [p.teamsTenantId, p.teamsTeamId, p.teamsChannelId];
  if (teams.some((v) => v !== '') && teams.some((v) => v === '')) {
    throw new InvalidInputError(
      'params teamsTenantId / teamsTeamId / teamsChannelId',
      teams.map((v) => v || '(empty)').join(' / '),
      'all three set (Microsoft Teams delivery) or all empty',
    );
  }
  if (teams[0] !== '') {
    for (const [name, value] of [
      ['teamsTenantId', p.teamsTenantId],
      ['teamsTeamId', p.teamsTeamId],
    ] as const) {
      if (!UUID.test(value))
        throw new InvalidInputError(`param ${name}`, value, 'a UUID, as the chat console shows it');
    }
    if (!TEAMS_CHANNEL.test(p.teamsChannelId) || p.teamsChannelId.length > 255) {
      throw new InvalidInputError(
        'param teamsChannelId',
        p.teamsChannelId,
        'a Teams channel id as copied from Teams, URL-encoded, e.g. 19%3ab6ef35dc342d56ba5654e6fc6d25a071%40thread.tacv2',
      );
    }
  }
  return { slack: slack[0] !== '', teams: teams[0] !== '' };
}

function notifyRole(p: NotifyParams, webhookParameter: string) {
  const parameterArn = `arn:${PARTITION}:ssm:${REGION}:${ACCOUNT}:parameter${webhookParameter}`;
  const statements: unknown[] = [
    {
      Sid: 'OwnLogs',
      Effect: 'Allow',
      Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      Resource: getAtt(NOTIFY_LOG_GROUP_ID, 'Arn'),
    },
    {
      Sid: 'ReadMonitorRecords',
      Effect: 'Allow',
      Action: 'logs:FilterLogEvents',
      // Built from the name (the group may be adopted): covers its streams.
      Resource: sub(`arn:${PARTITION}:logs:${REGION}:${ACCOUNT}:log-group:${p.logGroupName}:*`),
    },
    {
      Sid: 'ReadDispatchErrors',
      Effect: 'Allow',
      Action: 'logs:FilterLogEvents',
      Resource: getAtt('DispatchLogGroup', 'Arn'),
    },
    {
      Sid: 'ReadAlarmHistory',
      Effect: 'Allow',
      Action: 'cloudwatch:DescribeAlarmHistory',
      Resource: [...routedAlarmNames(p.service, p.stage), ...(p.anomalyAlarmNames ?? [])].map(alarmArn),
    },
    { Sid: 'PublishNotifications', Effect: 'Allow', Action: 'sns:Publish', Resource: { Ref: 'AlarmTopic' } },
    {
      Sid: 'PeekDeadLetters',
      Effect: 'Allow',
      Action: ['sqs:GetQueueUrl', 'sqs:ReceiveMessage'],
      Resource: getAtt('CollectDeadLetterQueue', 'Arn'),
    },
  ];
  if (webhookParameter !== '') {
    statements.push(
      { Sid: 'ReadWebhookUrl', Effect: 'Allow', Action: 'ssm:GetParameter', Resource: sub(parameterArn) },
      {
        Sid: 'DecryptWebhookUrlThroughSsm',
        Effect: 'Allow',
        Action: 'kms:Decrypt',
        // The parameter's key may be aws/ssm or the user's own: any key, but only
        // when SSM decrypts this one parameter.
        Resource: sub(`arn:${PARTITION}:kms:${REGION}:${ACCOUNT}:key/*`),
        Condition: {
          StringEquals: {
            'kms:ViaService': sub(`ssm.${REGION}.amazonaws.com`),
            'kms:EncryptionContext:PARAMETER_ARN': sub(parameterArn),
          },
        },
      },
    );
  }
  return {
    Type: 'AWS::IAM::Role',
    Properties: {
      AssumeRolePolicyDocument: {
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' },
        ],
      },
      Policies: [{ PolicyName: 'notify', PolicyDocument: { Version: '2012-10-17', Statement: statements } }],
    },
  };
}

/** The anomaly alarms' rule and its permission to invoke the notifier; nothing without anomaly alarms. */
function anomalyRule(p: NotifyParams): Record<string, unknown> {
  const names = p.anomalyAlarmNames ?? [];
  if (names.length === 0) return {};
  const prefix = anomalyAlarmPrefix(alarmNamePrefix(p.service, p.stage));
  return {
    [ANOMALY_RULE_ID]: {
      Type: 'AWS::Events::Rule',
      Properties: {
        Description: `State changes of the ${prefix}* alarms (latency anomaly detection), to the notifier`,
        State: 'ENABLED',
        EventPattern: {
          source: ['aws.cloudwatch'],
          'detail-type': [STATE_CHANGE],
          resources: [{ prefix: anomalyAlarmArnPrefix(p.service, p.stage) }],
        },
        Targets: [{ Id: 'notify', Arn: getAtt(NOTIFY_FUNCTION_ID, 'Arn') }],
      },
    },
    NotifyAnomalyEventsPermission: {
      Type: 'AWS::Lambda::Permission',
      Properties: {
        Action: 'lambda:InvokeFunction',
        FunctionName: getAtt(NOTIFY_FUNCTION_ID, 'Arn'),
        Principal: 'events.amazonaws.com',
        SourceArn: getAtt(ANOMALY_RULE_ID, 'Arn'),
      },
    },
  };
}

export function planNotify(p: NotifyParams): NotifyPlan {
  const webhookParameter = checkWebhookParameter(p.webhookUrlParameter);
  const chat = chatParams(p);
  const prefix = alarmNamePrefix(p.service, p.stage);
  const resources: Record<string, unknown> = {
    NotifyRole: notifyRole(p, webhookParameter),
    [ALARM_RULE_ID]: {
      Type: 'AWS::Events::Rule',
      Properties: {
        Description: `State changes of the ${prefix}* alarms, to the notifier`,
        State: 'ENABLED',
        EventPattern: {
          source: ['aws.cloudwatch'],
          'detail-type': [STATE_CHANGE, CONTRIBUTOR_STATE_CHANGE],
          resources: routedAlarmNames(p.service, p.stage).map(alarmArn),
        },
        Targets: [{ Id: 'notify', Arn: getAtt(NOTIFY_FUNCTION_ID, 'Arn') }],
      },
    },
    NotifyEventsPermission: {
      Type: 'AWS::Lambda::Permission',
      Properties: {
        Action: 'lambda:InvokeFunction',
        FunctionName: getAtt(NOTIFY_FUNCTION_ID, 'Arn'),
        Principal: 'events.amazonaws.com',
        SourceArn: getAtt(ALARM_RULE_ID, 'Arn'),
      },
    },
    ...anomalyRule(p),
    NotifierFailingAlarm: {
      Type: 'AWS::CloudWatch::Alarm',
      Properties: {
        AlarmName: `${prefix}${NOTIFIER_FAILING_SUFFIX}`,
        AlarmDescription:
          'The notifier failed: alarm e-mails come without evidence (as the raw event, from its on-failure destination) until it is fixed. See its log group.',
        Namespace: 'AWS/Lambda',
        MetricName: 'Errors',
        Dimensions: [{ Name: 'FunctionName', Value: { Ref: NOTIFY_FUNCTION_ID } }],
        Statistic: 'Sum',
        Period: NOTIFIER_FAILING_ALARM_PERIOD_SECONDS,
        EvaluationPeriods: p.notifierFailingAlarm?.periods ?? 1,
        DatapointsToAlarm: p.notifierFailingAlarm?.datapoints ?? 1,
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
        TreatMissingData: 'notBreaching',
        // Direct, not through the notifier: this is the path that works when it does not.
        AlarmActions: [{ Ref: 'AlarmTopic' }],
        OKActions: [{ Ref: 'AlarmTopic' }],
      },
    },
  };
  if (chat.slack || chat.teams) {
    resources.ChatChannelRole = {
      Type: 'AWS::IAM::Role',
      Properties: {
        AssumeRolePolicyDocument: {
          Version: '2012-10-17',
          Statement: [
            { Effect: 'Allow', Principal: { Service: 'chatbot.amazonaws.com' }, Action: 'sts:AssumeRole' },
          ],
        },
      },
    };
    const common = {
      IamRoleArn: getAtt('ChatChannelRole', 'Arn'),
      SnsTopicArns: [{ Ref: 'AlarmTopic' }],
      GuardrailPolicies: [sub(`arn:${PARTITION}:iam::aws:policy/CloudWatchReadOnlyAccess`)],
      LoggingLevel: 'ERROR',
      UserRoleRequired: false,
    };
    if (chat.slack) {
      resources.SlackChannel = {
        Type: 'AWS::Chatbot::SlackChannelConfiguration',
        Properties: {
          ConfigurationName: `${prefix}slack`,
          SlackWorkspaceId: p.slackWorkspaceId,
          SlackChannelId: p.slackChannelId,
          ...common,
        },
      };
    }
    if (chat.teams) {
      resources.TeamsChannel = {
        Type: 'AWS::Chatbot::MicrosoftTeamsChannelConfiguration',
        Properties: {
          ConfigurationName: `${prefix}teams`,
          TeamsTenantId: p.teamsTenantId,
          TeamId: p.teamsTeamId,
          TeamsChannelId: p.teamsChannelId,
          ...common,
        },
      };
    }
  }
  return { fragment: { Resources: resources }, webhookParameter, chat };
}
