/**
 * Resource lists kept in SSM Parameter Store, for lists longer than a tag
 * holds (an EC2 tag value is at most 256 characters, about 15 IPv4
 * addresses) or the Lambda environment allows (4 KB in all).
 *
 * A host names its list with the tag `<tagKey>:ResourcesParameter=<name>`;
 * the stage default can name one with the `resourcesParameter` param. Every
 * name must lie under the stage's `resourcesParameterPath`, the only prefix the
 * dispatcher's role may read. Parameters are String or StringList (up to 4 KB
 * standard, 8 KB advanced), items separated by commas or newlines, validated
 * exactly like the `Resources` tag (parseResourceList: grammar, at most
 * LIMITS.maxResources, no duplicates) plus the SSM document's room for them
 * (at most RESOURCES_MAX_CHARS; the stack passes the exact figure). A name that is malformed, outside the path, missing,
 * of another type, or holds an invalid list makes the host misconfigured with
 * an error naming the parameter; a read that AWS refuses or throttles past the
 * SDK's retries is a dispatch failure for the hosts that needed it.
 *
 * Each round reads each distinct name once: GetParameters takes at most 10
 * names per call (SSM API reference, GetParameters: "Array Members: Minimum
 * number of 1 item. Maximum number of 10 items"), and returns the names it does
 * not know in InvalidParameters instead of failing.
 */

import { chunk, mapLimit } from '../../common/concurrency.ts';
import { type ErrorInfo, InvalidInputError, toErrorInfo } from '../../common/errors.ts';
import { parseResourceList } from '../../common/settings.ts';
import { RESOURCES_MAX_CHARS } from '../../common/ssm-parameters.ts';
import { errorNameOf } from '../aws/aws-errors.ts';

/** GetParameters accepts 1 to 10 names per call. */
export const GET_PARAMETERS_MAX_NAMES = 10;

/** Parameter Store names: at most 1011 characters including the path (SSM PutParameter API reference). */
const MAX_NAME_LENGTH = 1011;
const PATH_SEGMENT = '[A-Za-z0-9_.\\-]+';
const NAME = new RegExp(`^(/${PATH_SEGMENT})+$`);
const PATH = new RegExp(`^(/${PATH_SEGMENT})+/$`);
/** Names and paths that begin with aws or ssm (any case) are reserved by AWS. */
const RESERVED = /^\/?(aws|ssm)/i;

/** One parameter as GetParameters returns it. */
export interface StoredParameter {
  name: string;
  type: string;
  value: string;
}

/** The Parameter Store port: one GetParameters call (1-10 names). */
export interface ParameterReader {
  getParameters(names: string[]): Promise<{ found: StoredParameter[]; missing: string[] }>;
}

/** A list read and validated, or why not. */
export type ResourceListResult =
  | { kind: 'ok'; resources: string }
  | { kind: 'invalid'; error: InvalidInputError }
  | { kind: 'unreadable'; error: ErrorInfo; errorName: string };

/**
 * Checks the stage's path prefix: absolute, at least one level, ending in `/`,
 * letters, digits and `_ . -` per level, not reserved. Throws InvalidInputError.
 */
export function parseParameterPath(value: unknown, field: string): string {
  if (typeof value !== 'string' || !PATH.test(value) || RESERVED.test(value)) {
    throw new InvalidInputError(
      field,
      value,
      'a Parameter Store path such as /cloudconnexa/: starts and ends with /, levels of letters, digits and _ . -, not beginning with aws or ssm',
    );
  }
  return value;
}

/** A full Parameter Store name (`/level/.../name`): at most 1011 characters, letters, digits and `_ . -` per level, not reserved. */
export function isParameterName(value: unknown): value is string {
  return (
    typeof value === 'string' && value.length <= MAX_NAME_LENGTH && NAME.test(value) && !RESERVED.test(value)
  );
}

/** Checks a parameter name and that it lies under `path`. Throws InvalidInputError naming `field`. */
export function parseParameterName(value: unknown, field: string, path: string): string {
  if (!isParameterName(value)) {
    throw new InvalidInputError(
      field,
      value,
      `a Parameter Store parameter name under ${path} (e.g. ${path}resources/db-hosts): levels of letters, digits and _ . -`,
    );
  }
  if (!value.startsWith(path)) {
    throw new InvalidInputError(
      field,
      value,
      `a parameter under ${path}, the only path the dispatcher may read (stage param resourcesParameterPath)`,
    );
  }
  return value;
}

/**
 * Turns a parameter's value into the normalised comma-separated list: items
 * separated by commas, newlines or both (one per line is easiest to edit);
 * blank lines and a comma ending a line are ignored. Throws InvalidInputError
 * naming `field`.
 */
export function parseParameterList(
  parameter: StoredParameter,
  field: string,
  maxChars = RESOURCES_MAX_CHARS,
): string {
  if (parameter.type !== 'String' && parameter.type !== 'StringList') {
    throw new InvalidInputError(
      field,
      parameter.name,
      `a String or StringList parameter (this one is ${parameter.type}; resource lists are not secrets, and SecureString would need KMS access)`,
    );
  }
  const items = parameter.value
    .split(/\r?\n/)
    .map((line) => line.trim().replace(/,$/, ''))
    .filter((line) => line !== '')
    .join(',');
  const list = parseResourceList(items, `${field} (parameter ${parameter.name})`)
    .map((r) => r.target)
    .join(',');
  checkListLength(list, `${field} (parameter ${parameter.name})`, maxChars);
  return list;
}

/**
 * Refuses a normalised list longer than the SSM document admits (`maxChars`,
 * computed at package time beside the agent). Throws InvalidInputError.
 */
export function checkListLength(list: string, field: string, maxChars: number): void {
  if (list.length > maxChars) {
    throw new InvalidInputError(
      field,
      `${list.length} characters`,
      `a list of at most ${maxChars} characters in all: it travels in the SSM command, whose 64 KB limit includes the agent and its parameters`,
    );
  }
}

/**
 * Reads and validates every named list once: distinct names, 10 per
 * GetParameters call, `concurrency` calls in flight. `fieldOf` names where a
 * name came from in error messages (the tag, or the stage param). Never
 * throws: each name gets its own result.
 */
export async function readResourceLists(
  reader: ParameterReader,
  names: Iterable<string>,
  fieldOf: (name: string) => string,
  limits: { maxChars?: number; concurrency?: number } = {},
): Promise<Map<string, ResourceListResult>> {
  const maxChars = limits.maxChars ?? RESOURCES_MAX_CHARS;
  const results = new Map<string, ResourceListResult>();
  const distinct = [...new Set(names)];
  await mapLimit(chunk(distinct, GET_PARAMETERS_MAX_NAMES), limits.concurrency ?? 4, async (batch) => {
    let answer: { found: StoredParameter[]; missing: string[] };
    try {
      answer = await reader.getParameters(batch);
    } catch (error) {
      for (const name of batch) {
        results.set(name, { kind: 'unreadable', error: toErrorInfo(error), errorName: errorNameOf(error) });
      }
      return;
    }
    const byName = new Map(answer.found.map((p) => [p.name, p]));
    for (const name of batch) {
      const parameter = byName.get(name);
      if (parameter === undefined) {
        results.set(name, {
          kind: 'invalid',
          error: new InvalidInputError(
            fieldOf(name),
            name,
            'the name of an existing Parameter Store parameter in this account and region (GetParameters reports it missing)',
          ),
        });
        continue;
      }
      try {
        results.set(name, { kind: 'ok', resources: parseParameterList(parameter, fieldOf(name), maxChars) });
      } catch (error) {
        if (!(error instanceof InvalidInputError)) throw error;
        results.set(name, { kind: 'invalid', error });
      }
    }
  });
  return results;
}
