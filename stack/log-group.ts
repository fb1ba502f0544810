/**
 * The central log group's part of the template, decided at package time by
 * the `adoptLogGroup` stage parameter.
 *
 * Created (default): an `AWS::Logs::LogGroup` named `logGroupName`, retained
 * when the stack is removed, with the stage's retention.
 *
 * Adopted (`adoptLogGroup=true`): the group already exists outside any stack
 * (the old script's CloudWatch agent creates `CloudConnexa-Monitor-Logs` on
 * its first push, per the old README). CloudFormation cannot create a log
 * group whose name exists: the resource fails with `AlreadyExists` and the
 * whole stack rolls back (e.g. serverless/serverless#3237,
 * aws-solutions/amazon-marketing-cloud-uploader-from-aws#167). So the stack
 * declares no log group at all, and every use (metric filter, IAM, dashboard
 * query, function environment, output) names the group by its name or by an
 * ARN built from it. Its retention is left exactly as the user set it: a
 * stack that silently shortened the retention of an existing evidence archive
 * would destroy history; the README shows the one command to change it.
 *
 * serverless.yml reaches this module through stack/log-group.cjs.
 */
import { InvalidInputError } from '../common/errors.ts';

export const LOG_GROUP_LOGICAL_ID = 'MonitorLogGroup';
export const LEGACY_FILTER_LOGICAL_ID = 'LegacyMetricFilter';

/** CloudWatch Logs log group names: 1-512 of letters, digits and `_ - / . #` (CreateLogGroup API reference). */
const LOG_GROUP_NAME = /^[A-Za-z0-9_\-/.#]{1,512}$/;

/** CloudWatch Logs accepts only these retention periods (PutRetentionPolicy API reference). */
export const RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

export interface LogGroupParams {
  logGroupName: string;
  adoptLogGroup: string;
  logRetentionDays: string;
}

export interface LogGroupPlan {
  adopt: boolean;
  name: string;
  /** Resources to merge into the template (serverless.yml `resources` array). */
  fragment: { Resources: Record<string, unknown> };
  /** DependsOn for the functions: anything that writes to the group waits for it when the stack creates it. */
  dependsOn: string[];
}

export function parseLogGroupParams(params: LogGroupParams): {
  adopt: boolean;
  name: string;
  retention: number;
} {
  if (params.adoptLogGroup !== 'true' && params.adoptLogGroup !== 'false') {
    throw new InvalidInputError('param adoptLogGroup', params.adoptLogGroup, 'true or false');
  }
  if (!LOG_GROUP_NAME.test(params.logGroupName)) {
    throw new InvalidInputError(
      'param logGroupName',
      params.logGroupName,
      'a CloudWatch Logs log group name: 1-512 letters, digits and _ - / . #',
    );
  }
  const retention = Number(params.logRetentionDays);
  if (!(RETENTION_DAYS as readonly number[]).includes(retention) || !/^\d+$/.test(params.logRetentionDays)) {
    throw new InvalidInputError(
      'param logRetentionDays',
      params.logRetentionDays,
      `one of the periods CloudWatch Logs accepts: ${RETENTION_DAYS.join(', ')}`,
    );
  }
  return { adopt: params.adoptLogGroup === 'true', name: params.logGroupName, retention };
}

/** The old tool's filter, unchanged, so alarms built on HighLatencyOrLoss keep working. */
function legacyFilter(name: string, adopt: boolean, pattern: string, namespace: string, metric: string) {
  return {
    Type: 'AWS::Logs::MetricFilter',
    ...(adopt ? {} : { DependsOn: [LOG_GROUP_LOGICAL_ID] }),
    Properties: {
      LogGroupName: name,
      FilterPattern: pattern,
      MetricTransformations: [{ MetricNamespace: namespace, MetricName: metric, MetricValue: '1' }],
    },
  };
}

export function planLogGroup(
  params: LogGroupParams,
  legacy: { pattern: string; namespace: string; metric: string },
): LogGroupPlan {
  const { adopt, name, retention } = parseLogGroupParams(params);
  const resources: Record<string, unknown> = {
    [LEGACY_FILTER_LOGICAL_ID]: legacyFilter(name, adopt, legacy.pattern, legacy.namespace, legacy.metric),
  };
  if (!adopt) {
    // Retained when the stack is removed: the logs are the evidence CloudConnexa
    // support asks for, and must not vanish with a mistyped `serverless remove`
    // (a later deploy adopts the retained group).
    resources[LOG_GROUP_LOGICAL_ID] = {
      Type: 'AWS::Logs::LogGroup',
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: { LogGroupName: name, RetentionInDays: retention },
    };
  }
  return { adopt, name, fragment: { Resources: resources }, dependsOn: adopt ? [] : [LOG_GROUP_LOGICAL_ID] };
}
