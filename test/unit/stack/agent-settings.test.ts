/**
 * Stage params that carry an agent setting are judged by the agent's grammar:
 * the same text as a stage param and as the agent's flag is accepted or
 * refused alike, and a refusal says the same but for the name (`param count`
 * for `--count`). What packaging does with them end to end is in
 * test/template/template.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jsonMemberTexts } from '../../../agent/cli/json-member-texts.ts';
import { parseArgv, type ValueFlag } from '../../../agent/cli/parse-argv.ts';
import { readConfigObject, resolveOptions } from '../../../agent/cli/resolve-options.ts';
import { InvalidInputError } from '../../../common/errors.ts';
import { STACK_PARAM_DEFAULTS } from '../../../common/stack-params.ts';
import { loadConfig } from '../../../functions/config.ts';
import {
  AGENT_SETTING_PARAMS,
  type AgentSettingParam,
  parseAgentSettingParams,
} from '../../../stack/agent-settings.ts';

const DEFAULTS = Object.fromEntries(
  Object.keys(AGENT_SETTING_PARAMS).map((p) => [p, STACK_PARAM_DEFAULTS[p as AgentSettingParam]]),
) as Record<AgentSettingParam, string>;

/** The agent flag of each param, and texts around the grammar's edges (spaces first). */
const CASES: Record<AgentSettingParam, { flag: ValueFlag; texts: string[] }> = {
  resources: { flag: 'resources', texts: [' 10.0.0.1', '10.0.0.1, db.internal', '10.0.0.1;reboot', ''] },
  count: { flag: 'count', texts: [' 25', '25 ', '25', '025', '1e2', '25.0', '+5'] },
  intervalSec: { flag: 'interval', texts: [' 1', '0.5', '.5', '1e0'] },
  latencyThresholdMs: { flag: 'latency-threshold', texts: [' 75', '75', '75.25', '-1'] },
  lossThresholdPct: { flag: 'loss-threshold', texts: ['5 ', '5', '100.5'] },
  hops: { flag: 'hops', texts: [' 3', '3', '31'] },
  lossRule: { flag: 'loss-rule', texts: [' any-hop', 'any-hop', 'Persistent'] },
  tcpPort: { flag: 'tcp-port', texts: [' 443', '443', '65536'] },
  baselineFlag: { flag: 'baseline-flag', texts: [' on', 'on', 'true'] },
  jitterThresholdMs: { flag: 'jitter-threshold', texts: [' 5', '5', '0'] },
  logDir: { flag: 'log-dir', texts: ['/var/log/cc', ' ', ''] },
};

type Verdict = { ok: true } | { ok: false; message: string };

function verdict(work: () => unknown): Verdict {
  try {
    work();
    return { ok: true };
  } catch (error) {
    assert.ok(error instanceof InvalidInputError, String(error));
    return { ok: false, message: error.message };
  }
}

describe('stage params carrying agent settings', () => {
  for (const [param, { flag, texts }] of Object.entries(CASES) as [
    AgentSettingParam,
    (typeof CASES)[AgentSettingParam],
  ][]) {
    it(`param ${param} is judged as --${flag} is, as written`, () => {
      for (const text of texts) {
        // Act
        const asParam = verdict(() => parseAgentSettingParams({ ...DEFAULTS, [param]: text }));
        const asFlag = verdict(() => {
          const base = flag === 'resources' ? [] : ['--resources', '10.0.0.1'];
          resolveOptions('check', parseArgv(['check', ...base, `--${flag}`, text]), {});
        });
        // Assess
        assert.equal(asParam.ok, asFlag.ok, `${param}=${JSON.stringify(text)}`);
        if (!asParam.ok && !asFlag.ok) {
          assert.equal(asParam.message, asFlag.message.replace(`--${flag} `, `param ${param} `));
        }
      }
    });
  }

  it('refuses " 25" for count with the message of --count " 25"', () => {
    assert.throws(() => parseAgentSettingParams({ ...DEFAULTS, count: ' 25' }), {
      name: 'InvalidInputError',
      message:
        'param count " 25" is not allowed: an integer from 1 to 500, in digits (no sign, exponent, point or spaces)',
    });
  });

  it('gives the document defaults as dispatch sends them, the jitter threshold among them', () => {
    const defaults = parseAgentSettingParams({
      ...DEFAULTS,
      resources: '10.0.0.1, DB.internal',
      count: '025',
      jitterThresholdMs: '5.50',
    });
    assert.equal(defaults.Resources, '10.0.0.1,DB.internal');
    assert.equal(defaults.Count, '25');
    assert.equal(defaults.JitterThresholdMs, '5.5');
    assert.equal(defaults.LossRule, STACK_PARAM_DEFAULTS.lossRule);
  });

  it('refuses a log dir the document pattern refuses, naming the param', () => {
    assert.throws(() => parseAgentSettingParams({ ...DEFAULTS, logDir: '/var/log/cc monitor' }), {
      name: 'InvalidInputError',
      message:
        /^param logDir "\/var\/log\/cc monitor" is not allowed: a value matching the SSM document pattern/,
    });
  });
});

/** The Lambda environment variable each param becomes (serverless.yml provider.environment). */
const ENV_NAMES: Record<AgentSettingParam, string> = {
  resources: 'DEFAULT_RESOURCES',
  count: 'DEFAULT_COUNT',
  intervalSec: 'DEFAULT_INTERVAL_SEC',
  latencyThresholdMs: 'DEFAULT_LATENCY_THRESHOLD_MS',
  lossThresholdPct: 'DEFAULT_LOSS_THRESHOLD_PCT',
  hops: 'DEFAULT_HOPS',
  lossRule: 'DEFAULT_LOSS_RULE',
  tcpPort: 'DEFAULT_TCP_PORT',
  baselineFlag: 'DEFAULT_BASELINE_FLAG',
  jitterThresholdMs: 'DEFAULT_JITTER_THRESHOLD_MS',
  logDir: 'LOG_DIR',
};

const FUNCTION_ENV: Record<string, string> = {
  STAGE: 'prod',
  LOG_GROUP_NAME: 'CloudConnexa-Monitor-Logs',
  DOCUMENT_NAME: 'cc-monitor-prod-check',
  COLLECT_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/collect',
  CLAIMS_TABLE_NAME: 'cloudconnexa-monitor-prod-ClaimsTable-1ABC2DEF3GH4',
  METRIC_GRANULARITY: 'host',
  ALLOW_INSTALL: 'false',
  COMMAND_TIMEOUT_SECONDS: '120',
  EXECUTION_TIMEOUT_SECONDS: '600',
  ...Object.fromEntries(Object.entries(ENV_NAMES).map(([p, env]) => [env, DEFAULTS[p as AgentSettingParam]])),
};

/** Every spelling of a number the field writes, and the edges of the grammar (fixed, exhaustive over this list). */
const NUMBER_TEXTS = [
  '25',
  '025',
  '0025',
  '0',
  '00',
  '1',
  '1e2',
  '1E2',
  '2.5e1',
  '0x19',
  '0X19',
  '0o31',
  '0b11001',
  '+5',
  '-5',
  '-0',
  '5.',
  '.5',
  '5.0',
  '5.50',
  '5.125',
  '5.1255',
  '1_0',
  '٢٥',
  '２５',
  '25\u00a0',
  '\t25',
  '25\n',
  ' 25',
  '25 ',
  '',
  ' ',
  'Infinity',
  '-Infinity',
  'NaN',
  '1'.repeat(400),
  '9'.repeat(20),
  '0.'.padEnd(300, '0'),
  '60000',
  '60000.001',
  '65535',
  '65536',
  '500',
  '501',
  '30',
  '31',
  '100',
  '100.0',
  '100.001',
];
const TEXTS: Record<AgentSettingParam, string[]> = {
  resources: [
    '10.0.0.1',
    ' 10.0.0.1',
    '10.0.0.1, db.internal',
    '10.0.0.1,,db',
    '10.0.0.1;reboot',
    '',
    ' ',
    'a'.repeat(600),
    '٢٥',
    'https://wiki.internal/x',
  ],
  count: NUMBER_TEXTS,
  intervalSec: NUMBER_TEXTS,
  latencyThresholdMs: NUMBER_TEXTS,
  lossThresholdPct: NUMBER_TEXTS,
  hops: NUMBER_TEXTS,
  lossRule: ['persistent', 'any-hop', ' any-hop', 'any-hop ', 'ANY-HOP', 'Persistent', '', 'any_hop'],
  tcpPort: NUMBER_TEXTS,
  baselineFlag: ['on', 'off', ' on', 'on ', 'On', 'ON', 'true', 'false', '1', '0', 'yes', ''],
  jitterThresholdMs: NUMBER_TEXTS,
  logDir: [
    '/var/log/cc',
    '/var/log/cc/',
    ' /var/log/cc',
    '/var/log/cc ',
    'var/log',
    '',
    '/',
    '/var/log/c\u0000c',
    `/${'a'.repeat(5000)}`,
  ],
};

describe('stage params, flags, config keys and the functions agree on every spelling', () => {
  for (const [param, texts] of Object.entries(TEXTS) as [AgentSettingParam, string[]][]) {
    it(`param ${param}: packaging accepts exactly what --${CASES[param].flag} and the config key accept, and nothing the functions refuse`, () => {
      const flag = CASES[param].flag;
      let cases = 0;
      for (const text of texts) {
        // Act
        const asParam = verdict(() => parseAgentSettingParams({ ...DEFAULTS, [param]: text }));
        const base = flag === 'resources' ? [] : ['--resources', '10.0.0.1'];
        const asFlag = verdict(() =>
          resolveOptions('check', parseArgv(['check', ...base, `--${flag}`, text]), {}),
        );
        const json = `{${flag === 'resources' ? '' : '"resources": "10.0.0.1", '}${JSON.stringify(flag)}: ${JSON.stringify(text)}}`;
        const asConfig = verdict(() =>
          resolveOptions(
            'check',
            parseArgv(['check']),
            readConfigObject(JSON.parse(json), 'f', jsonMemberTexts(json)),
          ),
        );
        const asEnv = verdict(() => loadConfig({ ...FUNCTION_ENV, [ENV_NAMES[param]]: text }));
        // Assess: one grammar; the document's pattern (log dir) may only narrow it.
        const shown = `${param}=${JSON.stringify(text)}`;
        assert.equal(asFlag.ok, asConfig.ok, `flag and config key: ${shown}`);
        if (param === 'logDir') {
          if (asParam.ok) assert.ok(asFlag.ok, `packaging accepted what the flag refuses: ${shown}`);
        } else assert.equal(asParam.ok, asFlag.ok, `param and flag: ${shown}`);
        if (asParam.ok) assert.ok(asEnv.ok, `packaging accepted what the functions refuse: ${shown}`);
        // An empty variable is "not set" to the functions (a default or a missing setting); else the same verdict.
        if (text !== '' && param !== 'logDir')
          assert.equal(asEnv.ok, asParam.ok, `functions and param: ${shown}`);
        cases++;
      }
      assert.equal(cases, texts.length);
    });
  }

  it('a number written as a JSON number in the config file is judged as its text, as the flag is', () => {
    for (const text of NUMBER_TEXTS.filter(
      (t) => t !== '' && /^-?(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?$/.test(t),
    )) {
      for (const flag of [
        'count',
        'interval',
        'latency-threshold',
        'loss-threshold',
        'jitter-threshold',
        'hops',
        'tcp-port',
      ] as const) {
        const json = `{"resources": "10.0.0.1", "${flag}": ${text}}`;
        const asConfig = verdict(() =>
          resolveOptions(
            'check',
            parseArgv(['check']),
            readConfigObject(JSON.parse(json), 'f', jsonMemberTexts(json)),
          ),
        );
        const asFlag = verdict(() =>
          resolveOptions('check', parseArgv(['check', '--resources', '10.0.0.1', `--${flag}`, text]), {}),
        );
        assert.equal(asConfig.ok, asFlag.ok, `${flag} ${text}`);
      }
    }
  });
});
