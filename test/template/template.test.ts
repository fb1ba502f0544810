/**
 * Packages the stack with `serverless package` (offline, no AWS credentials)
 * and checks the CloudFormation template it produces.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  DIMENSIONS,
  FLEET_METRICS,
  HOST_METRICS,
  LEGACY_FILTER_PATTERN,
  LEGACY_METRIC,
  METRIC_NAMESPACE,
  RESOURCE_METRICS,
} from '../../common/metric-names.ts';
import {
  DEFAULTS,
  formatNumber,
  formatSwitch,
  LIMITS,
  NUMBER_KINDS,
  numberPattern,
} from '../../common/settings.ts';
import {
  RESOURCES_MAX_CHARS,
  RESOURCES_MIN_CHARS,
  resourcesPattern,
  SSM_PARAMETERS,
} from '../../common/ssm-parameters.ts';
import { STACK_PARAM_DEFAULTS } from '../../common/stack-params.ts';
import { SEED_MAINTENANCE_KEY } from '../../common/stream-seed-line.ts';
import { CLAIMS_KEY_ATTRIBUTE, CLAIMS_TTL_ATTRIBUTE } from '../../functions/aws/claims-table.ts';
import { CLAIM_STALE_MS, CLAIM_TTL_SECONDS } from '../../functions/collect/job-claims.ts';
import {
  AGENT_BUNDLE_ENV,
  buildDocument,
  type CommandDocument,
  DEFAULT_AGENT_PATH,
  DOCUMENT_SIZE_LIMIT,
  documentResourcesMaxChars,
  documentScript,
  RUN_STEP_NAME,
  worstCaseSize,
} from '../../ssm/document.ts';
import { ALARM_RULE_ID } from '../../stack/notify.ts';
import { filterPatternMatches } from '../helpers/filter-pattern.ts';
import { evaluate } from './metric-math.ts';
import { createPackager, type Resource, type RunResult, type Template } from './package-stack.ts';

interface Statement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action: string | string[];
  Resource?: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}
interface Packaged {
  stage: string;
  template: Template;
  ms: number;
}
const ROOT = resolve(__dirname, '..', '..');
const packager = createPackager('template');
const scratch = packager.scratch;
const runId = randomBytes(4).toString('hex');

/** A stand-in for dist/agent.js of realistic size and compressibility (about 60 KB of varied JS). */
function placeholderAgent(): string {
  const path = join(scratch, 'placeholder-agent.js');
  const words = ['resolve', 'probe', 'latency', 'gateway', 'render', 'parse', 'hops', 'loss', 'report'];
  let text = "'use strict';\n";
  for (let i = 0; text.length < 60_000; i++) {
    const word = words[i % words.length] ?? 'x';
    text += `function ${word}_${i}(a,b){const c=${randomBytes(4).readUInt32LE()};return a.${word}(b,c)+"${randomBytes(6).toString('base64')}"}\n`;
  }
  writeFileSync(path, text);
  return path;
}

/** A packaging run with `env` added to the child's credential-free environment (package-stack.ts). */
function runPackage(stage: string, params: string[], env: Record<string, string>): Promise<RunResult> {
  return packager.run(stage, params, env);
}

async function packageStage(stage: string, params: string[], env: Record<string, string>): Promise<Packaged> {
  const started = Date.now();
  const template = await packager.template(stage, params, env);
  return { stage, template, ms: Date.now() - started };
}

function resource(template: Template, logicalId: string): Resource {
  const found = template.Resources[logicalId];
  assert.ok(found, `resource ${logicalId} is missing; have ${Object.keys(template.Resources).join(', ')}`);
  return found;
}

function ofType(template: Template, type: string): [string, Resource][] {
  return Object.entries(template.Resources).filter(([, r]) => r.Type === type);
}

function actions(statement: Statement): string[] {
  return Array.isArray(statement.Action) ? statement.Action : [statement.Action];
}

function resources(statement: Statement): unknown[] {
  return Array.isArray(statement.Resource) ? statement.Resource : [statement.Resource];
}

/** Every policy statement in the template, with the resource that holds it. */
function statements(template: Template): { owner: string; statement: Statement }[] {
  const found: { owner: string; statement: Statement }[] = [];
  const visit = (owner: string, value: unknown): void => {
    if (Array.isArray(value)) {
      for (const item of value) visit(owner, item);
      return;
    }
    if (typeof value !== 'object' || value === null) return;
    const record = value as Record<string, unknown>;
    if (Array.isArray(record.Statement)) {
      for (const s of record.Statement) found.push({ owner, statement: s as Statement });
    }
    for (const child of Object.values(record)) visit(owner, child);
  };
  for (const [id, r] of Object.entries(template.Resources)) visit(id, r.Properties);
  return found;
}

function roleStatements(template: Template, roleId: string): Statement[] {
  return statements(template)
    .filter((s) => s.owner === roleId && s.statement.Action !== 'sts:AssumeRole')
    .map((s) => s.statement);
}

function documentOf(template: Template): CommandDocument {
  return resource(template, 'MonitorDocument').Properties.Content as CommandDocument;
}

function getAtt(logicalId: string, attribute: string): unknown {
  return { 'Fn::GetAtt': [logicalId, attribute] };
}

/** Renders the dashboard's Fn::Sub body with sample values so it can be parsed as JSON. */
function dashboardBody(template: Template): {
  widgets: { type: string; properties: Record<string, unknown> }[];
} {
  const sub = resource(template, 'Dashboard').Properties.DashboardBody as { 'Fn::Sub': [string, object] };
  const [text, variables] = sub['Fn::Sub'];
  const rendered = text.replace(/\$\{([A-Za-z:]+)\}/g, (_match, name: string) => {
    if (name === 'AWS::Region') return 'us-east-1';
    const value = Reflect.get(variables, name);
    return typeof value === 'string' || typeof value === 'number' ? String(value) : `sample-${name}`;
  });
  return JSON.parse(rendered) as { widgets: { type: string; properties: Record<string, unknown> }[] };
}

const KNOWN_METRICS = new Set<string>([
  ...Object.values(FLEET_METRICS),
  ...Object.values(HOST_METRICS),
  ...Object.values(RESOURCE_METRICS),
  LEGACY_METRIC,
]);

let main: Packaged;
let other: Packaged;
/** adoptLogGroup=true, a stage default list in Parameter Store, the path-change and anomaly alarms. */
let adopted: Packaged;
const WATCHED_INSTANCE = 'i-0123456789abcdef0';
const LOG_GROUP = STACK_PARAM_DEFAULTS.logGroupName;
const STAGE_LIST_PARAMETER = '/cc-test/lists/default';
let agentEnv: Record<string, string> = {};

describe('packaged CloudFormation template', () => {
  before(async () => {
    // In CI `npm run build` runs first; without a build, test with a placeholder of realistic size.
    const built = existsSync(DEFAULT_AGENT_PATH);
    agentEnv = { [AGENT_BUNDLE_ENV]: built ? DEFAULT_AGENT_PATH : placeholderAgent() };
    [main, other, adopted] = await Promise.all([
      packageStage(`ci-${runId}`, [], agentEnv),
      packageStage(
        `qa-${runId}`,
        ['alarmEmail=ops@example.com', 'metricGranularity=fleet', 'jitterThresholdMs=5.50', 'count=025'],
        agentEnv,
      ),
      packageStage(
        `mig-${runId}`,
        [
          'adoptLogGroup=true',
          'resourcesParameterPath=/cc-test/',
          `resourcesParameter=${STAGE_LIST_PARAMETER}`,
          'pathChangeAlarm=true',
          `latencyAnomalyAlarms=fleet,${WATCHED_INSTANCE}`,
        ],
        agentEnv,
      ),
    ]);
    const source = built ? 'dist/agent.js' : 'a placeholder agent';
    process.stdout.write(
      `# serverless package took ${main.ms}, ${other.ms} and ${adopted.ms} ms (three stages in parallel, ${source})\n`,
    );
  });

  after(() => packager.cleanup());

  it('packages for two different stage names, naming each stage in functions, alarms and metrics', () => {
    for (const packaged of [main, other]) {
      const fn = resource(packaged.template, 'DispatchLambdaFunction').Properties;
      assert.equal(fn.FunctionName, `cloudconnexa-monitor-${packaged.stage}-dispatch`);
      const alarm = resource(packaged.template, 'HostsFlaggedAlarm').Properties;
      assert.deepEqual(alarm.Dimensions, [{ Name: DIMENSIONS.stage, Value: packaged.stage }]);
      const doc = resource(packaged.template, 'MonitorDocument').Properties;
      assert.equal(doc.Name, `cloudconnexa-monitor-${packaged.stage}-agent`);
    }
  });

  it('runs both functions on a current Node.js runtime on arm64, each with its own role', () => {
    const t = main.template;
    for (const [fn, role] of [
      ['DispatchLambdaFunction', 'DispatchRole'],
      ['CollectLambdaFunction', 'CollectRole'],
    ] as const) {
      const props = resource(t, fn).Properties;
      assert.match(String(props.Runtime), /^nodejs(2[2-9]|[3-9]\d)\.x$/);
      assert.deepEqual(props.Architectures, ['arm64']);
      assert.deepEqual(props.Role, getAtt(role, 'Arn'));
      assert.equal(resource(t, role).Type, 'AWS::IAM::Role');
    }
    assert.equal(t.Resources.IamRoleLambdaExecution, undefined, 'no shared default role');
  });

  it('gives the functions the environment contract they read', () => {
    const env = (
      resource(main.template, 'CollectLambdaFunction').Properties.Environment as {
        Variables: Record<string, unknown>;
      }
    ).Variables;
    for (const name of [
      'STAGE',
      'LOG_GROUP_NAME',
      'DOCUMENT_NAME',
      'COLLECT_QUEUE_URL',
      'CLAIMS_TABLE_NAME',
      'TAG_KEY',
      'TAG_VALUE',
      'METRIC_GRANULARITY',
      'DEFAULT_RESOURCES',
      'DEFAULT_COUNT',
      'DEFAULT_INTERVAL_SEC',
      'DEFAULT_LATENCY_THRESHOLD_MS',
      'DEFAULT_LOSS_THRESHOLD_PCT',
      'DEFAULT_HOPS',
      'DEFAULT_LOSS_RULE',
      'DEFAULT_TCP_PORT',
      'DEFAULT_BASELINE_FLAG',
      'DEFAULT_JITTER_THRESHOLD_MS',
      'RESOURCES_PARAMETER_PATH',
      'RESOURCES_MAX_CHARS',
      'LOG_DIR',
      'ALLOW_INSTALL',
      'COMMAND_TIMEOUT_SECONDS',
      'EXECUTION_TIMEOUT_SECONDS',
      'POWERTOOLS_METRICS_NAMESPACE',
      'POWERTOOLS_SERVICE_NAME',
      'PLUGIN_NAME',
    ]) {
      assert.ok(env[name] !== undefined && env[name] !== '', `environment variable ${name} is missing`);
    }
    assert.equal(env.STAGE, main.stage);
    assert.equal(env.POWERTOOLS_METRICS_NAMESPACE, METRIC_NAMESPACE);
    assert.equal(env.PLUGIN_NAME, RUN_STEP_NAME);
    assert.deepEqual(env.DOCUMENT_NAME, { Ref: 'MonitorDocument' });
    assert.equal(env.LOG_GROUP_NAME, LOG_GROUP, 'by name: the group may be adopted');
    assert.deepEqual(env.COLLECT_QUEUE_URL, { Ref: 'CollectQueue' });
    assert.deepEqual(env.CLAIMS_TABLE_NAME, { Ref: 'ClaimsTable' });
    assert.equal(env.METRIC_GRANULARITY, 'host');
    assert.equal(env.TAG_KEY, 'CloudConnexaMonitor');
    assert.equal(env.TAG_VALUE, 'enabled');
  });

  it('runs the dispatcher every 5 minutes and the collector from the queue with partial batch failures', () => {
    const t = main.template;
    // The schedule's rule; the notifier's (alarm events) is tested in notify-template.test.ts.
    const rules = ofType(t, 'AWS::Events::Rule').filter(
      ([, r]) => r.Properties.ScheduleExpression !== undefined,
    );
    assert.equal(rules.length, 1);
    const rule = rules[0]?.[1].Properties ?? {};
    assert.equal(rule.ScheduleExpression, 'rate(5 minutes)');
    const targets = rule.Targets as { Arn: unknown }[];
    assert.deepEqual(targets[0]?.Arn, getAtt('DispatchLambdaFunction', 'Arn'));
    const mappings = ofType(t, 'AWS::Lambda::EventSourceMapping');
    assert.equal(mappings.length, 1);
    const mapping = mappings[0]?.[1].Properties;
    assert.deepEqual(mapping?.EventSourceArn, getAtt('CollectQueue', 'Arn'));
    assert.deepEqual(mapping?.FunctionName, getAtt('CollectLambdaFunction', 'Arn'));
    assert.deepEqual(mapping?.FunctionResponseTypes, ['ReportBatchItemFailures']);
  });

  it('never retries a failed dispatch, which would send the round a second time', () => {
    const configs = ofType(main.template, 'AWS::Lambda::EventInvokeConfig');
    const dispatch = configs.find(([, r]) => JSON.stringify(r.Properties?.FunctionName).includes('Dispatch'));
    assert.equal(dispatch?.[1].Properties?.MaximumRetryAttempts, 0);
  });

  it('creates the central log group with the retention from params and keeps the legacy metric filter', () => {
    const t = main.template;
    const group = resource(t, 'MonitorLogGroup');
    assert.equal(group.Type, 'AWS::Logs::LogGroup');
    assert.equal(Reflect.get(group, 'DeletionPolicy'), 'Retain', 'removing the stack keeps the evidence');
    assert.equal(group.Properties.LogGroupName, LOG_GROUP);
    assert.equal(Number(group.Properties.RetentionInDays), Number(STACK_PARAM_DEFAULTS.logRetentionDays));
    const filters = ofType(t, 'AWS::Logs::MetricFilter');
    assert.equal(filters.length, 1);
    const [filterId, filter] = filters[0] ?? [];
    assert.equal(filter?.Properties.FilterPattern, LEGACY_FILTER_PATTERN);
    // The deployed pattern, by CloudWatch's JSON pattern semantics, over seed lines as the collector
    // writes them: a flagged line counts, unless it carries the maintenance window's end.
    const deployed = String(filter?.Properties.FilterPattern);
    const seed = { HOSTNAME: 'h', LATENCY_FLAG: '1', LOSS_FLAG: '0' };
    assert.equal(filterPatternMatches(deployed, JSON.stringify(seed)), true);
    assert.equal(filterPatternMatches(deployed, JSON.stringify({ ...seed, LATENCY_FLAG: '0' })), false);
    assert.equal(
      filterPatternMatches(
        deployed,
        JSON.stringify({ ...seed, [SEED_MAINTENANCE_KEY]: '2026-12-01T18:00:00.000Z' }),
      ),
      false,
      'a host in a maintenance window does not count',
    );
    assert.equal(filter?.Properties.LogGroupName, LOG_GROUP);
    assert.deepEqual(filter?.DependsOn, ['MonitorLogGroup'], `${filterId} waits for the group it filters`);
    assert.deepEqual(filter?.Properties.MetricTransformations, [
      { MetricNamespace: METRIC_NAMESPACE, MetricName: LEGACY_METRIC, MetricValue: '1' },
    ]);
    for (const fn of ['DispatchLambdaFunction', 'CollectLambdaFunction']) {
      assert.ok(
        resource(t, fn).DependsOn?.includes('MonitorLogGroup'),
        `${fn} writes only once the group exists`,
      );
    }
  });

  it('with adoptLogGroup=true declares no log group of that name and uses the existing one by name, retention untouched', () => {
    const t = adopted.template;
    const groups = ofType(t, 'AWS::Logs::LogGroup').map(([id, r]) => [id, r.Properties.LogGroupName]);
    assert.ok(
      groups.every(([, name]) => name !== LOG_GROUP),
      `no AWS::Logs::LogGroup named ${LOG_GROUP}: ${JSON.stringify(groups)}`,
    );
    assert.equal(t.Resources.MonitorLogGroup, undefined);
    assert.ok(
      !JSON.stringify(t).includes('RetentionInDays":30,"LogGroupName":"CloudConnexa') &&
        groups.every(([id]) =>
          ['DispatchLogGroup', 'CollectLogGroup', 'NotifyLogGroup'].includes(String(id)),
        ),
      "only the functions' own log groups get a retention",
    );
    const filter = ofType(t, 'AWS::Logs::MetricFilter')[0]?.[1];
    assert.equal(filter?.Properties.LogGroupName, LOG_GROUP);
    assert.equal(filter?.Properties.FilterPattern, LEGACY_FILTER_PATTERN);
    assert.equal(filter?.DependsOn, undefined);
    const env = (
      resource(t, 'DispatchLambdaFunction').Properties.Environment as { Variables: Record<string, unknown> }
    ).Variables;
    assert.equal(env.LOG_GROUP_NAME, LOG_GROUP);
    assert.equal(t.Outputs?.LogGroupName?.Value, LOG_GROUP);
    const sub = resource(t, 'Dashboard').Properties.DashboardBody as { 'Fn::Sub': [string, object] };
    assert.equal(Reflect.get(sub['Fn::Sub'][1], 'LogGroupName'), LOG_GROUP);
    for (const fn of ['DispatchLambdaFunction', 'CollectLambdaFunction']) {
      assert.ok(!resource(t, fn).DependsOn?.includes('MonitorLogGroup'), fn);
    }
  });

  it('names only logical ids the template declares, with either adoptLogGroup value', () => {
    const pseudo = new Set([
      'AWS::Region',
      'AWS::AccountId',
      'AWS::Partition',
      'AWS::StackName',
      'AWS::StackId',
      'AWS::URLSuffix',
      'AWS::NoValue',
    ]);
    for (const packaged of [main, other, adopted]) {
      const t = packaged.template;
      const declared = new Set([...Object.keys(t.Resources), ...Object.keys(t.Parameters ?? {})]);
      const conditions = new Set(Object.keys(t.Conditions ?? {}));
      const named: string[] = [];
      const visit = (value: unknown, subVariables: Set<string>): void => {
        if (Array.isArray(value)) {
          for (const item of value) visit(item, subVariables);
          return;
        }
        if (typeof value !== 'object' || value === null) return;
        for (const [key, child] of Object.entries(value)) {
          if (key === 'Ref' && typeof child === 'string') named.push(child);
          else if (key === 'Fn::GetAtt') {
            const target = Array.isArray(child) ? child[0] : String(child).split('.')[0];
            named.push(String(target));
          } else if (key === 'Fn::Sub') {
            const [text, variables] = Array.isArray(child) ? child : [child, {}];
            const own = new Set(Object.keys(variables as object));
            for (const match of String(text).matchAll(/\$\{([^}!]+)\}/g)) {
              const name = (match[1] ?? '').split('.')[0] ?? '';
              if (!own.has(name)) named.push(name);
            }
            visit(variables, own);
            continue;
          }
          visit(child, subVariables);
        }
      };
      for (const [id, r] of Object.entries(t.Resources)) {
        visit(r.Properties, new Set());
        for (const dependency of r.DependsOn ?? []) named.push(dependency);
        if (r.Condition !== undefined) {
          assert.ok(
            conditions.has(r.Condition),
            `${packaged.stage}: ${id} uses unknown condition ${r.Condition}`,
          );
        }
      }
      visit(t.Outputs, new Set());
      for (const name of named) {
        assert.ok(
          declared.has(name) || pseudo.has(name),
          `${packaged.stage}: a Ref/GetAtt/Sub/DependsOn names ${name}, which the template does not declare`,
        );
      }
      assert.ok(named.length > 20, `${packaged.stage}: found the references (${named.length})`);
    }
  });

  it('fails packaging with a message naming the param: adoptLogGroup, a list parameter outside the path, host anomaly alarms without host metrics, a stage list past 4 KB of environment', async () => {
    const runs = await Promise.all([
      runPackage(`badadopt-${runId}`, ['adoptLogGroup=yes'], agentEnv),
      runPackage(`badlist-${runId}`, ['resourcesParameter=/elsewhere/list'], agentEnv),
      runPackage(
        `badanomaly-${runId}`,
        ['metricGranularity=fleet', `latencyAnomalyAlarms=fleet,${WATCHED_INSTANCE}`],
        agentEnv,
      ),
      runPackage(
        `longenv-${runId}`,
        [
          `resources=${Array.from({ length: 60 }, (_, i) => `host-${i}.${'x'.repeat(50)}.corp.internal`).join(',')}`,
        ],
        agentEnv,
      ),
    ]);
    const [adopt, list, anomaly, long] = runs.map((r) => ({ code: r.code, output: r.stdout + r.stderr }));
    assert.notEqual(anomaly?.code, 0);
    assert.match(
      anomaly?.output ?? '',
      /param latencyAnomalyAlarms "fleet,i-0123456789abcdef0" is not allowed: instance ids only with metricGranularity host or resource/,
    );
    assert.notEqual(long?.code, 0);
    assert.match(
      long?.output ?? '',
      /param resources ".*" is not allowed: at most 3000 characters: Lambda allows 4 KB/,
    );
    assert.notEqual(adopt?.code, 0);
    assert.match(adopt?.output ?? '', /param adoptLogGroup "yes" is not allowed: true or false/);
    assert.notEqual(list?.code, 0);
    assert.match(
      list?.output ?? '',
      /param resourcesParameter "\/elsewhere\/list" is not allowed: a parameter under \/cloudconnexa\//,
    );
  });

  it('judges stage params that carry agent settings by the agent grammar, as written: refused as the flag is, naming the param', async () => {
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().replace(/\.\d+Z$/, 'Z');
    const runs = await Promise.all([
      runPackage(`spacedcount-${runId}`, ['count= 25'], agentEnv),
      runPackage(`spacedjitter-${runId}`, ['jitterThresholdMs= 5'], agentEnv),
      runPackage(`spacedrule-${runId}`, ['lossRule= any-hop'], agentEnv),
      runPackage(`spacedwindow-${runId}`, [`maintenanceUntil= ${tomorrow}`], agentEnv),
    ]);
    const [count, jitter, rule, window] = runs.map((r) => ({ code: r.code, output: r.stdout + r.stderr }));
    assert.notEqual(count?.code, 0);
    assert.match(
      count?.output ?? '',
      /param count " 25" is not allowed: an integer from 1 to 500, in digits \(no sign, exponent, point or spaces\)/,
    );
    assert.notEqual(jitter?.code, 0, 'once trimmed by the functions and never checked by the document');
    assert.match(
      jitter?.output ?? '',
      /param jitterThresholdMs " 5" is not allowed: a number from 0 to 60000/,
    );
    assert.notEqual(rule?.code, 0);
    assert.match(rule?.output ?? '', /param lossRule " any-hop" is not allowed: one of persistent, any-hop/);
    assert.notEqual(window?.code, 0);
    assert.match(window?.output ?? '', /param maintenanceUntil " \d{4}-.*" is not allowed: an ISO-8601 time/);
  });

  it('sends failed collection jobs to a dead-letter queue and hides a batch longer than the collector runs', () => {
    const t = main.template;
    const queue = resource(t, 'CollectQueue').Properties;
    assert.equal(resource(t, 'CollectDeadLetterQueue').Type, 'AWS::SQS::Queue');
    const redrive = queue.RedrivePolicy as { deadLetterTargetArn: unknown; maxReceiveCount: number };
    assert.deepEqual(redrive.deadLetterTargetArn, getAtt('CollectDeadLetterQueue', 'Arn'));
    assert.ok(redrive.maxReceiveCount >= 2, 'a job gets retries before the dead-letter queue');
    const collectorTimeout = Number(resource(t, 'CollectLambdaFunction').Properties.Timeout);
    assert.ok(Number(queue.VisibilityTimeout) > collectorTimeout, 'visibility timeout > collector timeout');
  });

  it('claims rounds and jobs in an on-demand DynamoDB table with a TTL, no backups, deleted with the stack', () => {
    for (const packaged of [main, adopted]) {
      const t = packaged.template;
      const tables = ofType(t, 'AWS::DynamoDB::Table');
      assert.deepEqual(
        tables.map(([id]) => id),
        ['ClaimsTable'],
      );
      const table = resource(t, 'ClaimsTable') as Resource & {
        DeletionPolicy?: string;
        UpdateReplacePolicy?: string;
      };
      assert.equal(table.DeletionPolicy, 'Delete');
      assert.equal(table.UpdateReplacePolicy, 'Delete');
      const p = table.Properties;
      assert.equal(p.BillingMode, 'PAY_PER_REQUEST');
      assert.equal(p.TableName, undefined, 'named by CloudFormation: stages never collide');
      assert.deepEqual(p.KeySchema, [{ AttributeName: CLAIMS_KEY_ATTRIBUTE, KeyType: 'HASH' }]);
      assert.deepEqual(p.AttributeDefinitions, [{ AttributeName: CLAIMS_KEY_ATTRIBUTE, AttributeType: 'S' }]);
      assert.deepEqual(p.TimeToLiveSpecification, { AttributeName: CLAIMS_TTL_ATTRIBUTE, Enabled: true });
      assert.deepEqual(p.PointInTimeRecoverySpecification, { PointInTimeRecoveryEnabled: false });
      assert.deepEqual(t.Outputs?.ClaimsTableName?.Value, { Ref: 'ClaimsTable' });
    }
    // A claim outlives every copy of its job: the queue's retention, and the dead-letter queue's for a redrive.
    for (const queue of ['CollectQueue', 'CollectDeadLetterQueue']) {
      const retention = Number(resource(main.template, queue).Properties.MessageRetentionPeriod);
      assert.ok(CLAIM_TTL_SECONDS > retention, `claims outlive ${queue}'s ${retention} s`);
    }
  });

  it('lets each function call only what it uses on the claim table, and run only once it may', () => {
    const t = main.template;
    const grants = statements(t).filter((s) => actions(s.statement).some((a) => a.startsWith('dynamodb:')));
    assert.deepEqual(
      grants.map((g) => g.owner).sort(),
      ['ClaimsTableCollectPolicy', 'ClaimsTableDispatchPolicy'],
      'DynamoDB rights only in the claim policies',
    );
    for (const [policyId, role, expected] of [
      ['ClaimsTableDispatchPolicy', 'DispatchRole', ['dynamodb:PutItem', 'dynamodb:UpdateItem']],
      [
        'ClaimsTableCollectPolicy',
        'CollectRole',
        ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:GetItem'],
      ],
    ] as const) {
      const policy = resource(t, policyId);
      assert.equal(policy.Type, 'AWS::IAM::Policy');
      assert.deepEqual(policy.Properties.Roles, [{ Ref: role }]);
      const [statement, ...more] = grants.filter((g) => g.owner === policyId).map((g) => g.statement);
      assert.equal(more.length, 0);
      assert.deepEqual(statement?.Action, expected);
      assert.deepEqual(statement?.Resource, getAtt('ClaimsTable', 'Arn'), 'scoped to the table');
    }
    for (const [fn, policyId] of [
      ['DispatchLambdaFunction', 'ClaimsTableDispatchPolicy'],
      ['CollectLambdaFunction', 'ClaimsTableCollectPolicy'],
    ] as const) {
      assert.ok(resource(t, fn).DependsOn?.includes(policyId), `${fn} waits for ${policyId}`);
    }
    // The job claims no longer live in the collector's log group.
    for (const { owner, statement } of statements(t)) {
      assert.ok(
        !actions(statement).includes('logs:DescribeLogStreams'),
        `${owner} allows DescribeLogStreams`,
      );
    }
  });

  it('lets a job claim go stale only after the collector timed out, and a copy handed back find it so', () => {
    const t = main.template;
    const collectorTimeoutMs = Number(resource(t, 'CollectLambdaFunction').Properties.Timeout) * 1000;
    assert.ok(collectorTimeoutMs + 60_000 <= CLAIM_STALE_MS, 'a live owner is never taken over');
    const visibilityMs = Number(resource(t, 'CollectQueue').Properties.VisibilityTimeout) * 1000;
    assert.ok(visibilityMs > CLAIM_STALE_MS, 'a copy handed back finds the claim committed or stale');
  });

  it('subscribes the alarm e-mail only when one is given', () => {
    const subscription = resource(main.template, 'AlarmEmailSubscription');
    assert.equal(subscription.Condition, 'HasAlarmEmail');
    assert.deepEqual(subscription.Properties.TopicArn, { Ref: 'AlarmTopic' });
    assert.equal(resource(main.template, 'AlarmTopic').Type, 'AWS::SNS::Topic');
    assert.deepEqual(main.template.Conditions?.HasAlarmEmail, { 'Fn::Not': [{ 'Fn::Equals': ['', ''] }] });
    assert.deepEqual(other.template.Conditions?.HasAlarmEmail, {
      'Fn::Not': [{ 'Fn::Equals': ['ops@example.com', ''] }],
    });
    assert.equal(resource(other.template, 'AlarmEmailSubscription').Properties.Endpoint, 'ops@example.com');
  });

  it('alarms when any host is flagged in M of N rounds', () => {
    const alarm = resource(main.template, 'HostsFlaggedAlarm').Properties;
    assert.equal(alarm.Namespace, METRIC_NAMESPACE);
    assert.equal(alarm.MetricName, FLEET_METRICS.hostsFlagged);
    assert.equal(alarm.Statistic, 'Sum');
    assert.equal(alarm.ComparisonOperator, 'GreaterThanThreshold');
    assert.equal(Number(alarm.Threshold), 0);
    const m = Number(alarm.DatapointsToAlarm);
    const n = Number(alarm.EvaluationPeriods);
    assert.ok(m >= 1 && m < n, `M of N with M < N (got ${m} of ${n})`);
  });

  it("alarms when a host's tunnel is down or reconnecting in M of N rounds, for every stage and granularity (stack/tunnel-alarm.yml)", () => {
    for (const packaged of [main, other, adopted]) {
      const alarm = resource(packaged.template, 'TunnelsDownAlarm');
      // Fleet metric: no condition, so a `fleet` granularity stage has it too.
      assert.equal(alarm.Condition, undefined);
      const p = alarm.Properties;
      assert.equal(p.AlarmName, `cloudconnexa-monitor-${packaged.stage}-tunnels-down`);
      assert.equal(p.Namespace, METRIC_NAMESPACE);
      assert.equal(p.MetricName, FLEET_METRICS.tunnelsDown);
      assert.deepEqual(p.Dimensions, [{ Name: DIMENSIONS.stage, Value: packaged.stage }]);
      assert.equal(p.Statistic, 'Sum');
      assert.equal(String(p.Period), STACK_PARAM_DEFAULTS.alarmPeriodSeconds);
      assert.equal(p.ComparisonOperator, 'GreaterThanThreshold');
      assert.equal(Number(p.Threshold), 0);
      const m = Number(p.DatapointsToAlarm);
      const n = Number(p.EvaluationPeriods);
      assert.ok(m >= 1 && m < n, `M of N with M < N (got ${m} of ${n})`);
      assert.equal(p.TreatMissingData, 'notBreaching');
      // Routed by the notifier's rule (stack/notify.ts), never straight to the topic.
      assert.equal(p.AlarmActions, undefined);
      assert.equal(p.OKActions, undefined);
      const rule = JSON.stringify(resource(packaged.template, ALARM_RULE_ID).Properties.EventPattern);
      assert.ok(rule.includes(`:alarm:${p.AlarmName}"`), `the notifier's rule routes ${p.AlarmName}`);
    }
    const body = JSON.stringify(dashboardBody(main.template));
    assert.ok(body.includes(`"${FLEET_METRICS.tunnelsDown}"`), 'the dashboard shows TunnelsDown');
  });

  it('alarms on the worst host by latency and by loss with a Metrics Insights query grouped by InstanceId', () => {
    for (const [id, metric, threshold] of [
      ['WorstHostLatencyAlarm', HOST_METRICS.latencyMs, 75],
      ['WorstHostLossAlarm', HOST_METRICS.lossPct, 5],
    ] as const) {
      const alarm = resource(main.template, id);
      assert.equal(alarm.Condition, 'HasHostMetrics');
      const queries = alarm.Properties.Metrics as { Expression: string; ReturnData: boolean }[];
      assert.equal(queries.length, 1);
      const expression = queries[0]?.Expression ?? '';
      assert.match(expression, new RegExp(`^SELECT MAX\\(${metric}\\) FROM ${METRIC_NAMESPACE} `));
      assert.match(expression, new RegExp(`WHERE ${DIMENSIONS.stage} = '${main.stage}'`));
      assert.match(
        expression,
        new RegExp(`GROUP BY ${DIMENSIONS.instanceId} ORDER BY MAX\\(\\) DESC LIMIT \\d+$`),
      );
      assert.equal(Number(alarm.Properties.Threshold), threshold);
    }
    assert.deepEqual(main.template.Conditions?.HasHostMetrics, {
      'Fn::Not': [{ 'Fn::Equals': ['host', 'fleet'] }],
    });
    assert.deepEqual(other.template.Conditions?.HasHostMetrics, {
      'Fn::Not': [{ 'Fn::Equals': ['fleet', 'fleet'] }],
    });
  });

  it('tells "nothing enrolled" (OK) and "no round ran" (no data) from "hosts went blind" (ALARM)', () => {
    const alarm = resource(main.template, 'MonitoringBlindAlarm').Properties;
    // Missing points are not breaching: a fresh stack is INSUFFICIENT_DATA, not ALARM.
    // No data (no round ran) is notified: the notifier's policy for this alarm (functions/notify/alarm-kinds.ts).
    assert.equal(alarm.TreatMissingData, 'missing');
    assert.equal(alarm.ComparisonOperator, 'GreaterThanThreshold');
    assert.equal(Number(alarm.Threshold), 0);
    const metrics = alarm.Metrics as {
      Id: string;
      Expression?: string;
      ReturnData: boolean;
      MetricStat?: { Metric: { Namespace: string; MetricName: string; Dimensions: unknown }; Stat: string };
    }[];
    const idOf = new Map(metrics.flatMap((m) => (m.MetricStat ? [[m.MetricStat.Metric.MetricName, m]] : [])));
    for (const [name, stat] of [
      [FLEET_METRICS.hostsEnrolled, 'Maximum'],
      [FLEET_METRICS.hostsChecked, 'Sum'],
      [FLEET_METRICS.hostsFailed, 'Sum'],
      [FLEET_METRICS.hostsBlind, 'Sum'],
      [FLEET_METRICS.hostsMisconfigured, 'Sum'],
      [FLEET_METRICS.hostsInMaintenance, 'Sum'],
    ] as const) {
      const m = idOf.get(name);
      assert.ok(m, `the alarm reads ${name}`);
      assert.equal(m.MetricStat?.Metric.Namespace, METRIC_NAMESPACE);
      assert.deepEqual(m.MetricStat?.Metric.Dimensions, [{ Name: DIMENSIONS.stage, Value: main.stage }]);
      assert.equal(m.MetricStat?.Stat, stat, name);
      assert.equal(m.ReturnData, false);
    }
    const returned = metrics.filter((m) => m.ReturnData);
    assert.equal(returned.length, 1);
    const expression = returned[0]?.Expression ?? '';
    // One period as the alarm sees it: metric name -> value, absent = no data point.
    const period = (values: Partial<Record<string, number>>) =>
      evaluate(expression, Object.fromEntries([...idOf].map(([name, m]) => [m.Id, values[name]])));
    const breaches = (value: number | undefined) => value !== undefined && value > Number(alarm.Threshold);
    const cases: [string, Partial<Record<string, number>>, 'OK' | 'ALARM' | 'no data'][] = [
      ['no round ran (fresh stack, schedule stopped)', {}, 'no data'],
      ['nothing enrolled yet', { HostsEnrolled: 0, HostsBlind: 0, HostsMisconfigured: 0 }, 'OK'],
      ['all 10 enrolled hosts checked', { HostsEnrolled: 10, HostsChecked: 10, HostsBlind: 0 }, 'OK'],
      ['2 of 10 failed', { HostsEnrolled: 10, HostsChecked: 8, HostsFailed: 2 }, 'ALARM'],
      ['1 of 10 unreachable', { HostsEnrolled: 10, HostsChecked: 9, HostsBlind: 1 }, 'ALARM'],
      [
        'enrolled, sent, but nothing collected',
        { HostsEnrolled: 10, HostsBlind: 0, HostsMisconfigured: 0 },
        'ALARM',
      ],
      ['all enrolled hosts misconfigured', { HostsEnrolled: 3, HostsBlind: 0, HostsMisconfigured: 3 }, 'OK'],
      // Hosts in a maintenance window count in HostsInMaintenance and in none of the outcome metrics.
      [
        'the only host, in maintenance, unreachable (rebooting)',
        { HostsEnrolled: 1, HostsBlind: 0, HostsMisconfigured: 0, HostsInMaintenance: 1 },
        'OK',
      ],
      [
        'all 4 hosts in maintenance, none collected (failed or timed out while worked on)',
        { HostsEnrolled: 4, HostsBlind: 0, HostsMisconfigured: 0, HostsInMaintenance: 4 },
        'OK',
      ],
      [
        '1 of 4 in maintenance and unreachable, the other 3 checked',
        { HostsEnrolled: 4, HostsChecked: 3, HostsBlind: 0, HostsInMaintenance: 1 },
        'OK',
      ],
      [
        '2 of 4 in maintenance, nothing collected of the other 2',
        { HostsEnrolled: 4, HostsBlind: 0, HostsMisconfigured: 0, HostsInMaintenance: 2 },
        'ALARM',
      ],
      [
        'results from the previous round only (collection spilled over)',
        { HostsEnrolled: 10, HostsChecked: 10 },
        'OK',
      ],
    ];
    for (const [state, values, expected] of cases) {
      const value = period(values);
      const seen = value === undefined ? 'no data' : breaches(value) ? 'ALARM' : 'OK';
      assert.equal(seen, expected, `${state}: expression gives ${value}`);
    }
    assert.equal(
      period({ HostsEnrolled: 10, HostsBlind: 1, HostsMisconfigured: 1 }),
      9,
      'counts the hosts not checked',
    );
    assert.equal(
      period({ HostsEnrolled: 10, HostsBlind: 1, HostsMisconfigured: 1, HostsInMaintenance: 3 }),
      6,
      'counts the hosts not checked, those in a window left out',
    );
  });

  it('adds no path-change or anomaly alarm by default', () => {
    for (const packaged of [main, other]) {
      const ids = Object.keys(packaged.template.Resources);
      assert.deepEqual(
        ids.filter((id) => /PathChanges|Anomaly/.test(id)),
        [],
      );
      assert.equal(ofType(packaged.template, 'AWS::CloudWatch::AnomalyDetector').length, 0);
    }
  });

  it('with pathChangeAlarm=true, alarms once when any host reports a path change', () => {
    const alarm = resource(adopted.template, 'PathChangesAlarm').Properties;
    assert.equal(alarm.MetricName, FLEET_METRICS.pathChanges);
    assert.equal(alarm.Namespace, METRIC_NAMESPACE);
    assert.deepEqual(alarm.Dimensions, [{ Name: DIMENSIONS.stage, Value: adopted.stage }]);
    assert.deepEqual(
      [alarm.Statistic, alarm.Threshold, alarm.ComparisonOperator, alarm.TreatMissingData],
      ['Sum', 0, 'GreaterThanThreshold', 'notBreaching'],
    );
    assert.equal(Number(alarm.Period), Number(STACK_PARAM_DEFAULTS.alarmPeriodSeconds));
    // Routed by the notifier's rule (stack/notify.ts), never straight to the topic.
    assert.equal(alarm.AlarmActions, undefined);
    assert.equal(alarm.OKActions, undefined);
  });

  it('with latencyAnomalyAlarms, alarms on the band of AWS anomaly detection models of the fleet and of a host', () => {
    const t = adopted.template;
    const stage = { Name: DIMENSIONS.stage, Value: adopted.stage };
    const host = WATCHED_INSTANCE.slice(2);
    const pairs: [string, string, unknown[]][] = [
      ['FleetLatencyAnomaly', FLEET_METRICS.worstLatencyMs, [stage]],
      [
        `HostLatencyAnomaly${host}`,
        HOST_METRICS.latencyMs,
        [stage, { Name: DIMENSIONS.instanceId, Value: WATCHED_INSTANCE }],
      ],
    ];
    assert.equal(ofType(t, 'AWS::CloudWatch::AnomalyDetector').length, 2);
    for (const [id, metricName, dimensions] of pairs) {
      const detector = resource(t, `${id}Detector`);
      assert.equal(detector.Type, 'AWS::CloudWatch::AnomalyDetector');
      const watched = { Namespace: METRIC_NAMESPACE, MetricName: metricName, Dimensions: dimensions };
      assert.deepEqual(detector.Properties.SingleMetricAnomalyDetector, { ...watched, Stat: 'Average' });
      const alarm = resource(t, `${id}Alarm`);
      assert.deepEqual(alarm.DependsOn, [`${id}Detector`]);
      const metrics = alarm.Properties.Metrics as {
        Id: string;
        Expression?: string;
        MetricStat?: { Metric: unknown; Stat: string; Period: number };
      }[];
      // The alarm reads the very metric and statistic the model is trained on.
      const latency = metrics.find((m) => m.MetricStat !== undefined);
      assert.deepEqual(latency?.MetricStat?.Metric, watched);
      assert.equal(latency?.MetricStat?.Stat, 'Average');
      assert.equal(Number(latency?.MetricStat?.Period), Number(STACK_PARAM_DEFAULTS.alarmPeriodSeconds));
      const band = metrics.find((m) => m.Id === alarm.Properties.ThresholdMetricId);
      assert.equal(band?.Expression, `ANOMALY_DETECTION_BAND(${latency?.Id}, 3)`);
      assert.equal(alarm.Properties.ComparisonOperator, 'GreaterThanUpperThreshold');
      assert.deepEqual([alarm.Properties.EvaluationPeriods, alarm.Properties.DatapointsToAlarm], [3, 2]);
      // Routed by the notifier's anomaly rule (stack/notify.ts), never straight to the topic.
      assert.equal(alarm.Properties.AlarmActions, undefined);
      assert.equal(alarm.Properties.OKActions, undefined);
      assert.equal(
        alarm.Properties.AlarmName,
        `cloudconnexa-monitor-${adopted.stage}_latency-anomaly-${id.startsWith('Fleet') ? 'fleet' : WATCHED_INSTANCE}`,
      );
      assert.equal(alarm.Properties.Threshold, undefined, 'the band is the threshold');
    }
  });

  it('alarms when the dispatch function fails or times out', () => {
    const alarm = resource(main.template, 'DispatchFailingAlarm').Properties;
    assert.equal(alarm.Namespace, 'AWS/Lambda');
    assert.equal(alarm.MetricName, 'Errors');
    assert.deepEqual(alarm.Dimensions, [{ Name: 'FunctionName', Value: { Ref: 'DispatchLambdaFunction' } }]);
    assert.equal(alarm.Statistic, 'Sum');
    assert.equal(alarm.ComparisonOperator, 'GreaterThanThreshold');
    assert.equal(Number(alarm.Threshold), 0);
    assert.equal(alarm.TreatMissingData, 'notBreaching', 'no invocation is not a failure');
  });

  it('alarms when the dead-letter queue holds a message', () => {
    const alarm = resource(main.template, 'DeadLetterQueueAlarm').Properties;
    assert.equal(alarm.Namespace, 'AWS/SQS');
    assert.equal(alarm.MetricName, 'ApproximateNumberOfMessagesVisible');
    assert.deepEqual(alarm.Dimensions, [
      { Name: 'QueueName', Value: getAtt('CollectDeadLetterQueue', 'QueueName') },
    ]);
    assert.equal(alarm.ComparisonOperator, 'GreaterThanThreshold');
    assert.equal(Number(alarm.Threshold), 0);
  });

  it('uses only the metric names and dimensions the collector emits', () => {
    const used = new Set<string>();
    const alarms = [main, adopted].flatMap((p) => ofType(p.template, 'AWS::CloudWatch::Alarm'));
    for (const [, alarm] of alarms) {
      const text = JSON.stringify(alarm.Properties);
      const own = /"Namespace":"CloudConnexa","MetricName":"([^"]+)","Dimensions":\[\{"Name":"([^"]+)",/g;
      for (const match of text.matchAll(own)) {
        used.add(match[1] ?? '');
        assert.equal(match[2], DIMENSIONS.stage);
      }
      // Only the per-host metrics carry InstanceId (after Stage).
      for (const match of text.matchAll(/"MetricName":"(\w+)","Dimensions":\[[^\]]*"InstanceId"/g)) {
        assert.ok((Object.values(HOST_METRICS) as string[]).includes(match[1] ?? ''), match[1]);
      }
      for (const match of text.matchAll(/MAX\((\w+)\) FROM CloudConnexa/g)) used.add(match[1] ?? '');
    }
    const body = JSON.stringify(dashboardBody(main.template));
    for (const match of body.matchAll(/"CloudConnexa","(\w+)"/g)) used.add(match[1] ?? '');
    for (const match of body.matchAll(/MAX\((\w+)\) FROM CloudConnexa/g)) used.add(match[1] ?? '');
    assert.ok(used.size >= 6, `found the metric references (${[...used].join(', ')})`);
    for (const name of used)
      assert.ok(KNOWN_METRICS.has(name), `metric ${name} is not in common/metric-names.ts`);
  });

  it('builds a dashboard with fleet latency and loss, worst hosts, blind spots and recent anomalies', () => {
    const { widgets } = dashboardBody(main.template);
    const body = JSON.stringify(widgets);
    for (const name of [
      FLEET_METRICS.hostsEnrolled,
      FLEET_METRICS.worstLatencyMs,
      FLEET_METRICS.worstLossPct,
      FLEET_METRICS.hostsBlind,
      FLEET_METRICS.hostsFailed,
    ]) {
      assert.ok(body.includes(`"${name}"`), `dashboard shows ${name}`);
    }
    assert.ok(body.includes('GROUP BY InstanceId ORDER BY MAX() DESC'), 'dashboard ranks the worst hosts');
    assert.ok(body.includes(`MAX(${HOST_METRICS.jitterMs}) FROM CloudConnexa`), 'and the most jittery ones');
    const logs = widgets.filter((w) => w.type === 'log');
    assert.equal(logs.length, 2);
    assert.match(
      String(logs[0]?.properties.query),
      /^SOURCE 'CloudConnexa-Monitor-Logs' \|.*LATENCY_FLAG = '1'/,
    );
    // Path changes: the metric per round and the collector's path-change records.
    assert.ok(body.includes(`"${FLEET_METRICS.pathChanges}"`), 'dashboard shows PathChanges');
    assert.match(
      String(logs[1]?.properties.query),
      /^SOURCE 'CloudConnexa-Monitor-Logs' \| filter record = 'path-change' \| fields .*previousPath, path/,
    );
    const sub = resource(main.template, 'Dashboard').Properties.DashboardBody as {
      'Fn::Sub': [string, object];
    };
    assert.equal(Reflect.get(sub['Fn::Sub'][1], 'LogGroupName'), LOG_GROUP);
  });

  it('shows per-resource latency and loss against their thresholds, as the host report draws them', () => {
    const { widgets } = dashboardBody(main.template);
    for (const [metric, threshold] of [
      [RESOURCE_METRICS.latencyMs, STACK_PARAM_DEFAULTS.latencyThresholdMs],
      [RESOURCE_METRICS.lossPct, STACK_PARAM_DEFAULTS.lossThresholdPct],
    ] as const) {
      const widget = widgets.find((w) =>
        JSON.stringify(w.properties.metrics ?? []).includes(`MAX(${metric}) FROM`),
      );
      assert.ok(widget !== undefined, `a widget of ${metric}`);
      assert.match(
        JSON.stringify(widget.properties.metrics),
        /GROUP BY InstanceId, Resource ORDER BY MAX\(\) DESC LIMIT 10/,
      );
      assert.deepEqual(widget.properties.annotations, {
        horizontal: [{ label: 'threshold', value: Number(threshold) }],
      });
    }
  });

  it('grants no wildcard action in any Allow statement', () => {
    const all = statements(main.template);
    assert.ok(all.length > 5);
    for (const { owner, statement } of all) {
      if (statement.Effect !== 'Allow') continue;
      for (const action of actions(statement)) {
        assert.ok(!action.includes('*'), `${owner} allows wildcard action ${action}`);
      }
    }
    // The only wildcard actions at all: serverless's deployment bucket policy denying non-TLS access.
    const wildcardDenies = all.filter(
      (s) => s.statement.Effect === 'Deny' && actions(s.statement).some((a) => a.includes('*')),
    );
    for (const { owner } of wildcardDenies) assert.equal(owner, 'ServerlessDeploymentBucketPolicy');
  });

  it("allows Resource '*' only for actions that support no resource-level permissions", () => {
    const resourceLess = new Set([
      'ec2:DescribeInstances',
      'ssm:DescribeInstanceInformation',
      'ssm:ListCommandInvocations',
      'ssm:GetCommandInvocation',
    ]);
    for (const { owner, statement } of statements(main.template)) {
      if (statement.Effect !== 'Allow' || !resources(statement).includes('*')) continue;
      for (const action of actions(statement)) {
        assert.ok(resourceLess.has(action), `${owner} allows ${action} on '*'`);
      }
    }
  });

  it('allows SendCommand only with this document and only on instances carrying the enrollment tag', () => {
    const send = roleStatements(main.template, 'DispatchRole').filter((s) =>
      actions(s).includes('ssm:SendCommand'),
    );
    assert.equal(send.length, 2);
    for (const s of send) assert.deepEqual(actions(s), ['ssm:SendCommand'], 'SendCommand stands alone');
    const onDocument = send.find((s) => JSON.stringify(s.Resource).includes(':document/'));
    const onInstances = send.find((s) => JSON.stringify(s.Resource).includes(':instance/*'));
    assert.deepEqual(onDocument?.Resource, {
      // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation Fn::Sub syntax, not a JS template
      'Fn::Sub': 'arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:document/${MonitorDocument}',
    });
    assert.equal(onDocument?.Condition, undefined);
    assert.deepEqual(onInstances?.Condition, {
      StringEquals: { 'ssm:resourceTag/CloudConnexaMonitor': 'enabled' },
    });
    const collectSends = roleStatements(main.template, 'CollectRole').filter((s) =>
      actions(s).includes('ssm:SendCommand'),
    );
    assert.equal(collectSends.length, 0, 'the collector cannot send commands');
  });

  it("scopes logs to this stack's log groups and the queue to the functions that use it", () => {
    const arn = (name: string) => ({
      'Fn::Sub': `arn:\${AWS::Partition}:logs:\${AWS::Region}:\${AWS::AccountId}:log-group:${name}:*`,
    });
    for (const packaged of [main, adopted]) {
      const monitor = JSON.stringify(arn(LOG_GROUP));
      for (const [role, ownGroup] of [
        ['DispatchRole', 'DispatchLogGroup'],
        ['CollectRole', 'CollectLogGroup'],
      ] as const) {
        const own = JSON.stringify(getAtt(ownGroup, 'Arn'));
        const granted = roleStatements(packaged.template, role);
        const logTargets = granted
          .filter((s) => actions(s).some((a) => a.startsWith('logs:')))
          .flatMap((s) => resources(s).map((r) => JSON.stringify(r)));
        assert.deepEqual([...new Set(logTargets)].sort(), [own, monitor].sort(), `${packaged.stage} ${role}`);
        for (const s of granted.filter((x) => actions(x).some((a) => a.startsWith('sqs:')))) {
          assert.deepEqual(s.Resource, getAtt('CollectQueue', 'Arn'), `${role} uses only the collect queue`);
        }
      }
      const reads = (role: string): string[] =>
        roleStatements(packaged.template, role)
          .filter((s) => actions(s).includes('logs:GetLogEvents'))
          .map((s) => JSON.stringify(s.Resource));
      assert.deepEqual(reads('CollectRole'), [monitor], 'the collector checks for records already written');
      assert.deepEqual(reads('DispatchRole'), []);
    }
    const dispatchSqs = roleStatements(main.template, 'DispatchRole').flatMap((s) =>
      actions(s).filter((a) => a.startsWith('sqs:')),
    );
    assert.deepEqual(dispatchSqs, ['sqs:SendMessage'], 'the dispatcher only enqueues jobs');
  });

  it('lets the dispatcher read Parameter Store lists only under the stage path, and tells it the stage list', () => {
    for (const [packaged, path, stageList] of [
      [main, STACK_PARAM_DEFAULTS.resourcesParameterPath, ''],
      [adopted, '/cc-test/', STAGE_LIST_PARAMETER],
    ] as const) {
      const reads = roleStatements(packaged.template, 'DispatchRole').filter((s) =>
        actions(s).includes('ssm:GetParameters'),
      );
      assert.equal(reads.length, 1);
      assert.deepEqual(actions(reads[0] as Statement), ['ssm:GetParameters']);
      assert.deepEqual(reads[0]?.Resource, {
        'Fn::Sub': `arn:\${AWS::Partition}:ssm:\${AWS::Region}:\${AWS::AccountId}:parameter${path}*`,
      });
      const env = (
        resource(packaged.template, 'DispatchLambdaFunction').Properties.Environment as {
          Variables: Record<string, unknown>;
        }
      ).Variables;
      assert.equal(env.RESOURCES_PARAMETER_PATH, path);
      assert.equal(env.DEFAULT_RESOURCES_PARAMETER, stageList);
      const collectReads = roleStatements(packaged.template, 'CollectRole').filter((s) =>
        actions(s).some((a) => a.startsWith('ssm:GetParameter')),
      );
      assert.equal(collectReads.length, 0, 'the collector reads no parameters');
    }
  });

  it('declares every document parameter with its allowedPattern, default and ENV_VAR interpolation', () => {
    const document = documentOf(main.template);
    assert.equal(document.schemaVersion, '2.2');
    assert.equal(resource(main.template, 'MonitorDocument').Properties.DocumentType, 'Command');
    assert.deepEqual(Object.keys(document.parameters).sort(), SSM_PARAMETERS.map((p) => p.name).sort());
    for (const spec of SSM_PARAMETERS) {
      const parameter = document.parameters[spec.name];
      // Resources' length is the room the agent leaves (checked below), at most the static pattern's.
      const pattern =
        spec.name === 'Resources'
          ? resourcesPattern(documentResourcesMaxChars(document))
          : spec.allowedPattern;
      assert.equal(parameter.allowedPattern, pattern, spec.name);
      assert.equal(parameter.interpolationType, 'ENV_VAR', spec.name);
      assert.match(
        parameter.default,
        new RegExp(spec.allowedPattern),
        `${spec.name} default fits its pattern`,
      );
    }
    for (const [name, setting] of [
      ['Count', 'count'],
      ['IntervalSec', 'intervalSec'],
      ['LatencyThresholdMs', 'latencyThresholdMs'],
      ['LossThresholdPct', 'lossThresholdPct'],
      ['Hops', 'hops'],
      ['TcpPort', 'tcpPort'],
    ] as const) {
      const parameter = document.parameters[name];
      assert.equal(parameter.allowedPattern, numberPattern(NUMBER_KINDS[setting], LIMITS[setting].max), name);
      assert.equal(
        parameter.default,
        formatNumber(DEFAULTS[setting]),
        `${name} default is DEFAULTS.${setting}`,
      );
    }
    assert.equal(document.parameters.LossRule.default, DEFAULTS.lossRule);
    assert.equal(document.parameters.BaselineFlag.default, formatSwitch(DEFAULTS.baselineFlag));
    assert.equal(document.parameters.BaselineFlag.allowedPattern, '^(on|off)$');
    assert.equal(document.parameters.LogDir.default, DEFAULTS.logDir);
    // Resources gets the room the agent leaves (ssm/document.ts), and dispatch is told that figure.
    const room = documentResourcesMaxChars(document);
    assert.ok(room >= RESOURCES_MIN_CHARS && room <= RESOURCES_MAX_CHARS, `room for resources: ${room}`);
    const env = (
      resource(main.template, 'DispatchLambdaFunction').Properties.Environment as {
        Variables: Record<string, unknown>;
      }
    ).Variables;
    assert.equal(env.RESOURCES_MAX_CHARS, String(room));
  });

  it('gives the functions and the document the defaults of common/, written nowhere else', () => {
    const env = (
      resource(main.template, 'DispatchLambdaFunction').Properties.Environment as {
        Variables: Record<string, unknown>;
      }
    ).Variables;
    const expected: Record<string, string> = {
      DEFAULT_RESOURCES: STACK_PARAM_DEFAULTS.resources,
      DEFAULT_COUNT: formatNumber(DEFAULTS.count),
      DEFAULT_INTERVAL_SEC: formatNumber(DEFAULTS.intervalSec),
      DEFAULT_LATENCY_THRESHOLD_MS: formatNumber(DEFAULTS.latencyThresholdMs),
      DEFAULT_LOSS_THRESHOLD_PCT: formatNumber(DEFAULTS.lossThresholdPct),
      DEFAULT_HOPS: formatNumber(DEFAULTS.hops),
      DEFAULT_LOSS_RULE: DEFAULTS.lossRule,
      DEFAULT_TCP_PORT: formatNumber(DEFAULTS.tcpPort),
      DEFAULT_BASELINE_FLAG: formatSwitch(DEFAULTS.baselineFlag),
      DEFAULT_JITTER_THRESHOLD_MS: formatNumber(DEFAULTS.jitterThresholdMs),
      LOG_DIR: DEFAULTS.logDir,
      TAG_KEY: STACK_PARAM_DEFAULTS.tagKey,
      TAG_VALUE: STACK_PARAM_DEFAULTS.tagValue,
      METRIC_GRANULARITY: STACK_PARAM_DEFAULTS.metricGranularity,
      ALLOW_INSTALL: STACK_PARAM_DEFAULTS.allowInstall,
      COMMAND_TIMEOUT_SECONDS: STACK_PARAM_DEFAULTS.commandTimeoutSeconds,
      EXECUTION_TIMEOUT_SECONDS: STACK_PARAM_DEFAULTS.executionTimeoutSeconds,
    };
    for (const [name, value] of Object.entries(expected)) assert.equal(env[name], value, name);
    // Stage params set the document's defaults as dispatch would send them (the jitter threshold too).
    const qa = documentOf(other.template);
    assert.equal(qa.parameters.JitterThresholdMs.default, '5.5');
    assert.equal(qa.parameters.Count.default, '25');
    const document = documentOf(main.template);
    assert.equal(document.parameters.Resources.default, STACK_PARAM_DEFAULTS.resources);
    assert.equal(
      Number(document.mainSteps[0].inputs.timeoutSeconds),
      Number(STACK_PARAM_DEFAULTS.executionTimeoutSeconds),
    );
    const rule = ofType(main.template, 'AWS::Events::Rule').find(
      ([, r]) => r.Properties.ScheduleExpression,
    )?.[1].Properties;
    assert.equal(rule?.ScheduleExpression, STACK_PARAM_DEFAULTS.schedule);
    const serverlessYml = readFileSync(join(ROOT, 'serverless.yml'), 'utf8');
    for (const [name, value] of Object.entries(STACK_PARAM_DEFAULTS)) {
      assert.doesNotMatch(
        serverlessYml,
        new RegExp(`^\\s+${name}:\\s`, 'm'),
        `serverless.yml restates the default of ${name} (${value}); it belongs in common/stack-params.ts`,
      );
    }
  });

  it('runs one Linux shell step, named for GetCommandInvocation, whose script pastes no parameter', () => {
    const document = documentOf(main.template);
    assert.equal(document.mainSteps.length, 1);
    const step = document.mainSteps[0];
    assert.equal(step.name, RUN_STEP_NAME);
    assert.equal(step.action, 'aws:runShellScript');
    assert.deepEqual(step.precondition, { StringEquals: ['platformType', 'Linux'] });
    assert.equal(Number(step.inputs.timeoutSeconds), 240);
    const script = documentScript(document);
    assert.doesNotMatch(script, /\{\{/, 'no {{ }} placeholder in the script');
    assert.doesNotMatch(script, /@@[A-Z_]+@@/, 'every generator token is filled in');
    for (const spec of SSM_PARAMETERS)
      assert.ok(script.includes(`SSM_${spec.name}`), `script reads SSM_${spec.name}`);
  });

  it("carries the generator's script through packaging character for character, the base90 text and the shell's parameter expansions included", () => {
    // Prepare: the script as ssm/document.ts writes it for the same bundle. osls resolves
    // variables in what serverless.yml says, and the file resolver's value must come out
    // untouched: the script's own ${PATH:+...} and the base90 text's $ } ` % & among them.
    const agentPath = agentEnv[AGENT_BUNDLE_ENV] ?? '';
    const expected = buildDocument({ agentPath, executionTimeoutSeconds: 240 }).mainSteps[0].inputs
      .runCommand;
    // Act
    const packaged = documentOf(main.template).mainSteps[0].inputs.runCommand;
    // Assess
    assert.deepEqual(packaged, expected);
    const script = packaged.join('\n');
    assert.match(script, /\$\{PATH:\+\$PATH:\}/);
    const text = /^if ! printf '%s' '([^']*)' \|/m.exec(script)?.[1] ?? '';
    for (const char of ['$', '}', '`', '%', '&', '(', '[', ':'])
      assert.ok(text.includes(char), `the agent text holds ${char}`);
  });

  it('keeps the document plus the longest allowed parameter values under 64 KB', (t) => {
    const size = worstCaseSize(documentOf(main.template));
    t.diagnostic(`worst-case document size: ${size} bytes of ${DOCUMENT_SIZE_LIMIT}`);
    assert.ok(size < DOCUMENT_SIZE_LIMIT, `document + max parameters is ${size} bytes`);
  });

  it('fails packaging with a clear message when the agent bundle is missing', async () => {
    const missing = join(scratch, 'no-such-agent.js');
    const result = await runPackage(`bad-${runId}`, [], { [AGENT_BUNDLE_ENV]: missing });
    assert.notEqual(result.code, 0);
    const output = result.stdout + result.stderr;
    assert.ok(output.includes(missing), 'the message names the missing file');
    assert.match(output, /the file is missing/);
  });
});
