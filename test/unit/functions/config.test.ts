import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { STACK_PARAM_DEFAULTS } from '../../../common/stack-params.ts';
import { loadConfig } from '../../../functions/config.ts';

const ENV = {
  STAGE: 'prod',
  LOG_GROUP_NAME: 'CloudConnexa-Monitor-Logs',
  DOCUMENT_NAME: 'cc-monitor-prod-check',
  COLLECT_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/collect',
  CLAIMS_TABLE_NAME: 'cloudconnexa-monitor-prod-ClaimsTable-1ABC2DEF3GH4',
  METRIC_GRANULARITY: 'host',
  DEFAULT_RESOURCES: '10.0.0.1, db.internal',
  DEFAULT_COUNT: '25',
  DEFAULT_INTERVAL_SEC: '1',
  DEFAULT_LATENCY_THRESHOLD_MS: '75',
  DEFAULT_LOSS_THRESHOLD_PCT: '5',
  DEFAULT_HOPS: '3',
  DEFAULT_LOSS_RULE: 'persistent',
  DEFAULT_TCP_PORT: '443',
  DEFAULT_JITTER_THRESHOLD_MS: '0',
  LOG_DIR: '/home/ubuntu/Connexa-Logs',
  ALLOW_INSTALL: 'false',
  COMMAND_TIMEOUT_SECONDS: '120',
  EXECUTION_TIMEOUT_SECONDS: '600',
};

describe('loadConfig', () => {
  it('reads a complete environment with the tag defaults', () => {
    const config = loadConfig(ENV);
    assert.equal(config.tagKey, STACK_PARAM_DEFAULTS.tagKey);
    assert.equal(config.tagValue, STACK_PARAM_DEFAULTS.tagValue);
    assert.equal(config.defaults.resources, '10.0.0.1,db.internal');
    assert.equal(config.metricsNamespace, 'CloudConnexa');
    assert.equal(config.allowInstall, false);
    assert.equal(config.defaultResourcesParameter, null);
    assert.equal(config.resourcesParameterPath, STACK_PARAM_DEFAULTS.resourcesParameterPath);
    assert.equal(config.claimsTableName, ENV.CLAIMS_TABLE_NAME);
    assert.equal(config.defaults.baselineFlag, false, 'DEFAULT_BASELINE_FLAG unset: the default, off');
    assert.equal(loadConfig({ ...ENV, DEFAULT_BASELINE_FLAG: 'on' }).defaults.baselineFlag, true);
  });

  it('reads the stage default list parameter under its path', () => {
    const config = loadConfig({
      ...ENV,
      RESOURCES_PARAMETER_PATH: '/team-a/monitor/',
      DEFAULT_RESOURCES_PARAMETER: '/team-a/monitor/default-list',
    });
    assert.equal(config.defaultResourcesParameter, '/team-a/monitor/default-list');
    assert.equal(config.resourcesParameterPath, '/team-a/monitor/');
  });

  const broken: [string, string | undefined, RegExp][] = [
    [
      'STAGE',
      undefined,
      /^STAGE \(missing\) is not allowed: environment variable STAGE must be set \(see serverless\.yml\)$/,
    ],
    [
      'METRIC_GRANULARITY',
      'everything',
      /METRIC_GRANULARITY "everything" is not allowed: one of fleet, host, resource/,
    ],
    ['DEFAULT_COUNT', '0', /^DEFAULT_COUNT "0" is not allowed: an integer from 1 to /],
    // As written, as the flag, the config file, a tag and packaging take them: never trimmed.
    ['DEFAULT_COUNT', ' 25', /^DEFAULT_COUNT " 25" is not allowed: an integer from 1 to 500, in digits/],
    [
      'DEFAULT_JITTER_THRESHOLD_MS',
      '5 ',
      /^DEFAULT_JITTER_THRESHOLD_MS "5 " is not allowed: a number from 0/,
    ],
    [
      'DEFAULT_LOSS_RULE',
      ' any-hop',
      /^DEFAULT_LOSS_RULE " any-hop" is not allowed: one of persistent, any-hop$/,
    ],
    ['DEFAULT_BASELINE_FLAG', 'on ', /^DEFAULT_BASELINE_FLAG "on " is not allowed: one of on, off$/],
    [
      'MAINTENANCE_UNTIL',
      ' 2026-12-01T18:00:00Z',
      /^MAINTENANCE_UNTIL " 2026-12-01T18:00:00Z" is not allowed: an ISO-8601 time/,
    ],
    ['ALLOW_INSTALL', 'yes', /^ALLOW_INSTALL "yes" is not allowed: true or false$/],
    ['DEFAULT_BASELINE_FLAG', 'true', /^DEFAULT_BASELINE_FLAG "true" is not allowed: one of on, off$/],
    ['COMMAND_TIMEOUT_SECONDS', '10', /COMMAND_TIMEOUT_SECONDS "10" is not allowed: an integer from 30/],
    [
      'DEFAULT_RESOURCES',
      '; rm -rf /',
      /^DEFAULT_RESOURCES "; rm -rf \/" is not allowed: an IPv4 or IPv6 address, a DNS host name, or an http\(s\):\/\/ URL$/,
    ],
    [
      'DEFAULT_RESOURCES_PARAMETER',
      '/elsewhere/list',
      /DEFAULT_RESOURCES_PARAMETER "\/elsewhere\/list" is not allowed: a parameter under \/cloudconnexa\//,
    ],
    ['RESOURCES_PARAMETER_PATH', '/', /RESOURCES_PARAMETER_PATH "\/" is not allowed: a Parameter Store path/],
    [
      'RESOURCES_PARAMETER_PATH',
      '/aws/x/',
      /^RESOURCES_PARAMETER_PATH "\/aws\/x\/" is not allowed: a Parameter Store path such as \/cloudconnexa\/: starts and ends with \/, levels of letters, digits and _ \. -, not beginning with aws or ssm$/,
    ],
    [
      'CLAIMS_TABLE_NAME',
      undefined,
      /^CLAIMS_TABLE_NAME \(missing\) is not allowed: environment variable CLAIMS_TABLE_NAME must be set/,
    ],
    [
      'CLAIMS_TABLE_NAME',
      'claims table',
      /^CLAIMS_TABLE_NAME "claims table" is not allowed: a DynamoDB table name: 3-255 letters, digits, _ - and \.$/,
    ],
    ['RESOURCES_MAX_CHARS', '100', /RESOURCES_MAX_CHARS "100" is not allowed: an integer from 2048 to 8192/],
  ];
  for (const [name, value, message] of broken) {
    it(`fails with an error naming ${name} when it is ${value ?? 'missing'}`, () => {
      assert.throws(() => loadConfig({ ...ENV, [name]: value }), { name: 'InvalidInputError', message });
    });
  }
});
