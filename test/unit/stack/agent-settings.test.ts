/**
 * Stage params that carry an agent setting are judged by the agent's grammar:
 * the same text as a stage param and as the agent's flag is accepted or
 * refused alike, and a refusal says the same but for the name (`param count`
 * for `--count`). What packaging does with them end to end is in
 * test/template/template.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseArgv, type ValueFlag } from '../../../agent/cli/parse-argv.ts';
import { resolveOptions } from '../../../agent/cli/resolve-options.ts';
import { InvalidInputError } from '../../../common/errors.ts';
import { STACK_PARAM_DEFAULTS } from '../../../common/stack-params.ts';
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
