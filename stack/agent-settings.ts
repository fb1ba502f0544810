import {
  formatNumber,
  formatSwitch,
  parseBaselineFlag,
  parseCount,
  parseHops,
  parseIntervalSec,
  parseJitterThresholdMs,
  parseLatencyThresholdMs,
  parseLossRule,
  parseLossThresholdPct,
  parsePath,
  parseResourceList,
  parseTcpPort,
} from '../common/settings.ts';
import { checkAllowedPattern, type SsmParameterName } from '../common/ssm-parameters.ts';
import type { StackParamName } from '../common/stack-params.ts';

type Parse = (value: string, field: string) => string;

/**
 * Stage param -> the document parameter it sets the default of, and the
 * setting's parser, giving the value as dispatch sends it (toSsmParameters).
 */
export const AGENT_SETTING_PARAMS = {
  resources: {
    document: 'Resources',
    parse: (v, f) =>
      parseResourceList(v, f)
        .map((r) => r.target)
        .join(','),
  },
  count: { document: 'Count', parse: (v, f) => formatNumber(parseCount(v, f)) },
  intervalSec: { document: 'IntervalSec', parse: (v, f) => formatNumber(parseIntervalSec(v, f)) },
  latencyThresholdMs: {
    document: 'LatencyThresholdMs',
    parse: (v, f) => formatNumber(parseLatencyThresholdMs(v, f)),
  },
  lossThresholdPct: {
    document: 'LossThresholdPct',
    parse: (v, f) => formatNumber(parseLossThresholdPct(v, f)),
  },
  hops: { document: 'Hops', parse: (v, f) => formatNumber(parseHops(v, f)) },
  lossRule: { document: 'LossRule', parse: (v, f) => parseLossRule(v, f) },
  tcpPort: { document: 'TcpPort', parse: (v, f) => formatNumber(parseTcpPort(v, f)) },
  baselineFlag: { document: 'BaselineFlag', parse: (v, f) => formatSwitch(parseBaselineFlag(v, f)) },
  jitterThresholdMs: {
    document: 'JitterThresholdMs',
    parse: (v, f) => formatNumber(parseJitterThresholdMs(v, f)),
  },
  logDir: { document: 'LogDir', parse: (v, f) => parsePath(v, f) },
} as const satisfies Partial<Record<StackParamName, { document: SsmParameterName; parse: Parse }>>;

export type AgentSettingParam = keyof typeof AGENT_SETTING_PARAMS;

/**
 * The document parameters' defaults from the stage params (strings, as
 * serverless resolves them). Throws InvalidInputError naming the param
 * (`param count`), the value as given and what is allowed: the setting's
 * grammar first, then the document's allowedPattern (the log dir's is
 * narrower than a path).
 */
export function parseAgentSettingParams(
  params: Readonly<Record<AgentSettingParam, string>>,
): Record<(typeof AGENT_SETTING_PARAMS)[AgentSettingParam]['document'], string> {
  const defaults = {} as Record<SsmParameterName, string>;
  for (const [param, { document, parse }] of Object.entries(AGENT_SETTING_PARAMS) as [
    AgentSettingParam,
    { document: SsmParameterName; parse: Parse },
  ][]) {
    const field = `param ${param}`;
    const value = parse(params[param], field);
    checkAllowedPattern(document, value, field, params[param]);
    defaults[document] = value;
  }
  return defaults;
}
