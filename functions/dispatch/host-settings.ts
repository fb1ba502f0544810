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
  parseResourceList,
  parseTcpPort,
} from '../../common/settings.ts';
import {
  checkAllowedPattern,
  RESOURCES_MAX_CHARS,
  SSM_PARAMETERS,
  type SsmParameterName,
} from '../../common/ssm-parameters.ts';
import type { HostSettings } from '../config.ts';
import { checkListLength } from './resource-parameters.ts';

export type SsmParameters = Record<SsmParameterName, [string]>;

const OVERRIDES: { suffix: string; apply: (s: HostSettings, value: string, field: string) => void }[] = [
  {
    suffix: 'Resources',
    apply: (s, v, f) => {
      s.resources = parseResourceList(v, f)
        .map((r) => r.target)
        .join(',');
    },
  },
  { suffix: 'Count', apply: (s, v, f) => (s.count = parseCount(v, f)) },
  { suffix: 'IntervalSec', apply: (s, v, f) => (s.intervalSec = parseIntervalSec(v, f)) },
  {
    suffix: 'LatencyThresholdMs',
    apply: (s, v, f) => (s.latencyThresholdMs = parseLatencyThresholdMs(v, f)),
  },
  { suffix: 'LossThresholdPct', apply: (s, v, f) => (s.lossThresholdPct = parseLossThresholdPct(v, f)) },
  { suffix: 'Hops', apply: (s, v, f) => (s.hops = parseHops(v, f)) },
  { suffix: 'LossRule', apply: (s, v, f) => (s.lossRule = parseLossRule(v, f)) },
  { suffix: 'TcpPort', apply: (s, v, f) => (s.tcpPort = parseTcpPort(v, f)) },
  { suffix: 'BaselineFlag', apply: (s, v, f) => (s.baselineFlag = parseBaselineFlag(v, f)) },
  { suffix: 'JitterThresholdMs', apply: (s, v, f) => (s.jitterThresholdMs = parseJitterThresholdMs(v, f)) },
];

/** Tag keys that override a setting, e.g. `CloudConnexaMonitor:Count`. */
export function overrideTagKeys(tagKey: string): string[] {
  return OVERRIDES.map((o) => `${tagKey}:${o.suffix}`);
}

/** Throws InvalidInputError naming the tag key when a tag value is not allowed. */
export function resolveHostSettings(
  defaults: HostSettings,
  tags: Record<string, string>,
  tagKey: string,
): HostSettings {
  const settings: HostSettings = { ...defaults };
  for (const override of OVERRIDES) {
    const field = `${tagKey}:${override.suffix}`;
    const value = tags[field];
    if (value !== undefined) override.apply(settings, value, field);
  }
  return settings;
}

/**
 * The SendCommand Parameters for these settings, each checked against the
 * document's allowedPattern. Throws InvalidInputError naming the tag (or
 * default) the value came from.
 */
export function toSsmParameters(
  settings: HostSettings,
  host: { logDir: string; allowInstall: boolean; resourcesMaxChars?: number | undefined },
  tagKey: string,
): SsmParameters {
  const values: Record<SsmParameterName, string> = {
    Resources: settings.resources,
    Count: formatNumber(settings.count),
    IntervalSec: formatNumber(settings.intervalSec),
    LatencyThresholdMs: formatNumber(settings.latencyThresholdMs),
    LossThresholdPct: formatNumber(settings.lossThresholdPct),
    Hops: formatNumber(settings.hops),
    LossRule: settings.lossRule,
    TcpPort: formatNumber(settings.tcpPort),
    BaselineFlag: formatSwitch(settings.baselineFlag === true),
    JitterThresholdMs: formatNumber(settings.jitterThresholdMs),
    LogDir: host.logDir,
    AllowInstall: host.allowInstall ? 'true' : 'false',
  };
  // The deployed document may admit less than the static pattern (room beside the
  // agent). Tags hold 256 characters and parameter lists are checked when read, so
  // only the stage's `resources` param can get here.
  checkListLength(values.Resources, 'resources (stage param)', host.resourcesMaxChars ?? RESOURCES_MAX_CHARS);
  const parameters = {} as SsmParameters;
  for (const spec of SSM_PARAMETERS) {
    const value = values[spec.name];
    checkAllowedPattern(
      spec.name,
      value,
      spec.name === 'LogDir' || spec.name === 'AllowInstall' ? spec.name : `${tagKey}:${spec.name}`,
    );
    parameters[spec.name] = [value];
  }
  return parameters;
}

/** Hosts with equal keys can share one SendCommand. */
export function settingsKey(parameters: SsmParameters): string {
  return JSON.stringify(SSM_PARAMETERS.map((spec) => parameters[spec.name][0]));
}
