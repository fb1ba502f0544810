/**
 * One grammar for numbers: the validator every setting goes through
 * (flags, config files, tags, stage parameters, Lambda environment) and the
 * SSM document's allowedPattern generated from it accept the same texts; the
 * pattern leaves only the range to the validator.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidInputError } from '../../../common/errors.ts';
import {
  formatNumber,
  LIMITS,
  NUMBER_FRACTION_DIGITS,
  NUMBER_KINDS,
  parseBoundedNumber,
  parseCount,
  parseHops,
  parseIntervalSec,
  parseJitterThresholdMs,
  parseLatencyThresholdMs,
  parseLossThresholdPct,
  parseTcpPort,
} from '../../../common/settings.ts';
import { SSM_PARAMETERS, type SsmParameterName } from '../../../common/ssm-parameters.ts';
import { loadConfig } from '../../../functions/config.ts';
import { resolveHostSettings } from '../../../functions/dispatch/host-settings.ts';
import { DEFAULTS as HOST_DEFAULTS } from '../functions/fixtures.ts';

type Setting = keyof typeof NUMBER_KINDS & keyof typeof LIMITS;

/** Each numeric document parameter, the setting behind it, and its validator. */
const NUMERIC: [SsmParameterName, Setting, (value: unknown) => number][] = [
  ['Count', 'count', (v) => parseCount(v)],
  ['IntervalSec', 'intervalSec', (v) => parseIntervalSec(v)],
  ['LatencyThresholdMs', 'latencyThresholdMs', (v) => parseLatencyThresholdMs(v)],
  ['LossThresholdPct', 'lossThresholdPct', (v) => parseLossThresholdPct(v)],
  ['Hops', 'hops', (v) => parseHops(v)],
  ['TcpPort', 'tcpPort', (v) => parseTcpPort(v)],
  ['JitterThresholdMs', 'jitterThresholdMs', (v) => parseJitterThresholdMs(v)],
];

function pattern(name: SsmParameterName): RegExp {
  const spec = SSM_PARAMETERS.find((p) => p.name === name);
  assert.ok(spec);
  return new RegExp(spec.allowedPattern);
}

function accepts(parse: (value: unknown) => number, value: string): boolean {
  try {
    parse(value);
    return true;
  } catch (error) {
    assert.ok(error instanceof InvalidInputError, String(error));
    return false;
  }
}

/** Every string of length 0..4 over an alphabet that mixes digits with the characters parsers disagree on. */
function* texts(): Generator<string> {
  const alphabet = ['0', '1', '5', '9', '.', '+', '-', 'e', ' ', 'x'];
  let layer = [''];
  yield '';
  for (let length = 1; length <= 4; length++) {
    const next: string[] = [];
    for (const prefix of layer) for (const c of alphabet) next.push(prefix + c);
    yield* next;
    layer = next;
  }
}

/** Seeded so a failure reproduces: longer numeric texts around the limits. */
function* randomNumericTexts(count: number): Generator<string> {
  let seed = 0x2545f491;
  const random = () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) / 2 ** 32;
  };
  const digits = (n: number) => Array.from({ length: n }, () => String(Math.floor(random() * 10))).join('');
  for (let i = 0; i < count; i++) {
    const whole = digits(1 + Math.floor(random() * 6));
    const fraction = random() < 0.5 ? '' : `.${digits(Math.floor(random() * 5))}`;
    yield whole + fraction;
  }
}

describe('the one number grammar', () => {
  it('refuses +5 and the other texts only one parser used to take, everywhere, naming the value', () => {
    for (const text of ['+5', '5.', '.5', ' 5', '5 ', '1e1', '0x10', '-1', 'Infinity', 'NaN', '', '1,5']) {
      for (const [name, , parse] of NUMERIC) {
        assert.throws(() => parse(text), new RegExp(`"${text.replace(/[.+]/g, '\\$&')}" is not allowed`));
        assert.equal(pattern(name).test(text), false, `${name} pattern takes ${JSON.stringify(text)}`);
      }
    }
  });

  it('accepts exactly the texts the SSM allowedPattern accepts, the pattern leaving only the range out', () => {
    let agreed = 0;
    for (const [name, setting, parse] of NUMERIC) {
      const { min, max } = LIMITS[setting];
      for (const text of [...texts(), ...randomNumericTexts(3000)]) {
        const byParser = accepts(parse, text);
        const byPattern = pattern(name).test(text);
        if (byParser)
          assert.ok(byPattern, `${name}: the validator takes ${JSON.stringify(text)}, SSM would refuse it`);
        if (byPattern && !byParser) {
          const n = Number(text);
          const outOfRange =
            n < min || n > max || (NUMBER_KINDS[setting] === 'integer' && !Number.isInteger(n));
          assert.ok(
            outOfRange,
            `${name}: SSM takes ${JSON.stringify(text)}, which is in range, but the validator refuses it`,
          );
        }
        if (byParser) agreed++;
      }
    }
    assert.ok(agreed > 1000, `${agreed} accepted texts compared`);
  });

  it('writes every value it accepts in a form that parses back to the same value and that SSM takes', () => {
    for (const [name, setting, parse] of NUMERIC) {
      for (const text of randomNumericTexts(2000)) {
        if (!accepts(parse, text)) continue;
        const value = parse(text);
        const written = formatNumber(value);
        assert.ok(pattern(name).test(written), `${name}: ${written}`);
        assert.equal(parse(written), value);
      }
      assert.equal(parse(formatNumber(LIMITS[setting].max)), LIMITS[setting].max);
    }
  });

  it(`takes JSON numbers only when the grammar could have written them (at most ${NUMBER_FRACTION_DIGITS} decimals)`, () => {
    assert.equal(parseIntervalSec(0.25), 0.25);
    assert.equal(parseIntervalSec(0.125), 0.125);
    assert.throws(() => parseIntervalSec(0.1234), /at most 3 decimals/);
    assert.throws(() => parseCount(Number.POSITIVE_INFINITY), /an integer from 1 to 500/);
    assert.throws(() => parseCount(2.5), /an integer from 1 to 500/);
  });

  it("is the grammar of tags, of the stage parameters and of the functions' own integers too", () => {
    assert.throws(
      () => resolveHostSettings(HOST_DEFAULTS, { 'CloudConnexaMonitor:Count': '+5' }, 'CloudConnexaMonitor'),
      /CloudConnexaMonitor:Count "\+5" is not allowed/,
    );
    const env = {
      STAGE: 'prod',
      LOG_GROUP_NAME: 'CloudConnexa-Monitor-Logs',
      DOCUMENT_NAME: 'doc',
      COLLECT_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/collect',
      CLAIMS_TABLE_NAME: 'cc-monitor-prod-claims',
      METRIC_GRANULARITY: 'host',
      DEFAULT_RESOURCES: '10.0.0.1',
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
    assert.equal(loadConfig(env).commandTimeoutSeconds, 120);
    assert.throws(() => loadConfig({ ...env, DEFAULT_COUNT: '+5' }), /DEFAULT_COUNT "\+5" is not allowed/);
    assert.throws(
      () => loadConfig({ ...env, COMMAND_TIMEOUT_SECONDS: '+120' }),
      /COMMAND_TIMEOUT_SECONDS "\+120" is not allowed: an integer from 30/,
    );
    assert.throws(
      () => parseBoundedNumber('x', '1.5', 'integer', { min: 0, max: 9 }),
      /an integer from 0 to 9/,
    );
  });
});
