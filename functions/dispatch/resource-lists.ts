/**
 * Where each host's resource list comes from, decided once per round:
 *
 * - tag `<tagKey>:ResourcesParameter=<name>`: the Parameter Store list `<name>`;
 * - tag `<tagKey>:Resources`: the tag's own list (applied by host-settings.ts);
 * - neither: the stage default, i.e. the `resourcesParameter` param's list when
 *   set, else the `resources` param.
 *
 * Both tags on one host are refused (which one wins would be a guess). All
 * parameters the round needs are read together, each name once
 * (resource-parameters.ts), before any host is resolved.
 */
import { type ErrorInfo, InvalidInputError } from '../../common/errors.ts';
import { RESOURCES_MAX_CHARS } from '../../common/ssm-parameters.ts';
import { STACK_PARAM_DEFAULTS } from '../../common/stack-params.ts';
import type { HostSettings } from '../config.ts';
import type { EnrolledInstance } from '../enrollment/discover-instances.ts';
import {
  type ParameterReader,
  parseParameterName,
  type ResourceListResult,
  readResourceLists,
} from './resource-parameters.ts';

/** Tag suffix naming a host's resource-list parameter. */
export const RESOURCES_PARAMETER_TAG = 'ResourcesParameter';
const RESOURCES_TAG = 'Resources';

/** The stage param that names the default list's parameter, as errors show it. */
export const STAGE_PARAMETER_FIELD = 'resourcesParameter (stage param)';

/** A host's base list (a `Resources` tag still overrides it), or why it has none. */
export type HostResourceLists =
  | { kind: 'ok'; resources: string }
  | { kind: 'invalid'; error: InvalidInputError }
  | { kind: 'unreadable'; error: ErrorInfo; errorName: string };

export interface ResourceListOptions {
  tagKey: string;
  defaults: HostSettings;
  defaultResourcesParameter?: string | null | undefined;
  resourcesParameterPath?: string | undefined;
  resourcesMaxChars?: number | undefined;
}

function fromResult(result: ResourceListResult | undefined, name: string, field: string): HostResourceLists {
  if (result === undefined) {
    return {
      kind: 'invalid',
      error: new InvalidInputError(field, name, 'a parameter this run can read (no Parameter Store here)'),
    };
  }
  return result;
}

/**
 * Reads every parameter the hosts and the stage default name, then returns
 * the lookup for each host. Never throws for a host's input: a bad name or
 * list is that host's `invalid`, a failed read its `unreadable`.
 */
export async function prepareResourceLists(
  reader: ParameterReader | undefined,
  hosts: readonly EnrolledInstance[],
  options: ResourceListOptions,
): Promise<(host: EnrolledInstance) => HostResourceLists> {
  const path = options.resourcesParameterPath ?? STACK_PARAM_DEFAULTS.resourcesParameterPath;
  const tagField = `${options.tagKey}:${RESOURCES_PARAMETER_TAG}`;
  const resourcesField = `${options.tagKey}:${RESOURCES_TAG}`;
  const stageName = options.defaultResourcesParameter ?? null;

  const perHost = new Map<string, HostResourceLists | { kind: 'parameter'; name: string }>();
  const byTag = new Set<string>();
  for (const host of hosts) {
    const named = host.tags[tagField];
    if (named === undefined) continue;
    if (host.tags[resourcesField] !== undefined) {
      perHost.set(host.instanceId, {
        kind: 'invalid',
        error: new InvalidInputError(
          `${resourcesField} and ${tagField}`,
          'both set',
          `one of them: ${resourcesField} for a short list, ${tagField} naming a Parameter Store list`,
        ),
      });
      continue;
    }
    try {
      // As written, as every tag: a name with a space around it is refused, not trimmed.
      const name = parseParameterName(named, tagField, path);
      byTag.add(name);
      perHost.set(host.instanceId, { kind: 'parameter', name });
    } catch (error) {
      if (!(error instanceof InvalidInputError)) throw error;
      perHost.set(host.instanceId, { kind: 'invalid', error });
    }
  }

  const needsStageList =
    stageName !== null &&
    hosts.some((h) => !perHost.has(h.instanceId) && h.tags[resourcesField] === undefined);
  const names = [...byTag, ...(needsStageList && stageName !== null ? [stageName] : [])];
  const fieldOf = (name: string) => (byTag.has(name) ? tagField : STAGE_PARAMETER_FIELD);
  const lists =
    reader === undefined || names.length === 0
      ? new Map<string, ResourceListResult>()
      : await readResourceLists(reader, names, fieldOf, {
          maxChars: options.resourcesMaxChars ?? RESOURCES_MAX_CHARS,
        });

  return (host) => {
    const own = perHost.get(host.instanceId);
    if (own?.kind === 'parameter') return fromResult(lists.get(own.name), own.name, tagField);
    if (own !== undefined) return own;
    // A Resources tag replaces whatever the stage default is, so a broken stage list does not touch it.
    if (stageName === null || host.tags[resourcesField] !== undefined) {
      return { kind: 'ok', resources: options.defaults.resources };
    }
    return fromResult(lists.get(stageName), stageName, STAGE_PARAMETER_FIELD);
  };
}
