/**
 * Builds the SSM command document (schema 2.2) that runs the monitor agent on a
 * host. The agent bundle travels inside the document (Brotli + base90, see
 * ssm/base90.ts) with its SHA-256, which the host checks before running it. serverless.yml reaches this
 * module through ssm/document.cjs at package time.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { brotliCompressSync, constants as zlibConstants } from 'node:zlib';
import { InvalidInputError } from '../common/errors.ts';
import { RESULT_SCHEMA } from '../common/result-schema.ts';
import {
  RESOURCES_MAX_CHARS,
  RESOURCES_MIN_CHARS,
  resourcesMaxCharsOf,
  resourcesPattern,
  SSM_PARAMETERS,
  type SsmParameterName,
  ssmEnvName,
} from '../common/ssm-parameters.ts';
import { BASE90_ALPHABET, encodeBase90 } from './base90.ts';

/** Name of the document's only step: GetCommandInvocation's PluginName. */
export const RUN_STEP_NAME = 'runMonitorAgent';

/**
 * Command documents are limited to 64 KB, and "this quota also includes the
 * content specified for input parameters at runtime" (SSM CreateDocument API
 * reference, Content).
 */
export const DOCUMENT_SIZE_LIMIT = 65_536;

/** Environment variable naming an agent bundle to embed instead of dist/agent-fleet.js (tests). */
export const AGENT_BUNDLE_ENV = 'CCM_AGENT_BUNDLE';

const ROOT = resolve(__dirname, '..');
/** The agent without what no fleet host runs: install/uninstall, report, watch (scripts/build-agent.mjs). */
export const DEFAULT_AGENT_PATH = join(ROOT, 'dist', 'agent-fleet.js');
const SCRIPT_PATH = join(ROOT, 'ssm', 'run-agent.sh');

export interface AgentPayload {
  sha256: string;
  /** The bundle compressed with Brotli (quality 11), as base90 text (ssm/base90.ts): see encodeAgent. */
  packedBase90: string;
  /** Size of the uncompressed bundle. */
  bytes: number;
}

export interface DocumentParameter {
  type: 'String';
  description: string;
  default: string;
  allowedPattern: string;
  interpolationType: 'ENV_VAR';
}

export interface CommandDocument {
  schemaVersion: '2.2';
  description: string;
  parameters: Record<SsmParameterName, DocumentParameter>;
  mainSteps: [
    {
      action: 'aws:runShellScript';
      name: typeof RUN_STEP_NAME;
      precondition: { StringEquals: ['platformType', 'Linux'] };
      inputs: { timeoutSeconds: number; runCommand: string[] };
    },
  ];
}

export interface DocumentOptions {
  /** The built agent bundle; see resolveAgentPath. */
  agentPath: string;
  /** Bounds one run on a host (the step's timeoutSeconds). */
  executionTimeoutSeconds: number;
  /** Parameter defaults (stage params); SSM_PARAMETERS defaults otherwise. */
  defaults?: Partial<Record<SsmParameterName, string>>;
  /** Shown in result documents the script prints itself. */
  agentVersion?: string;
}

/** The agent bundle to embed: $CCM_AGENT_BUNDLE, else dist/agent-fleet.js, which must have been built. */
export function resolveAgentPath(
  env: Record<string, string | undefined> = process.env,
  builtPath = DEFAULT_AGENT_PATH,
): string {
  const override = env[AGENT_BUNDLE_ENV];
  const path = override !== undefined && override !== '' ? resolve(override) : builtPath;
  if (!existsSync(path)) {
    const allowed =
      path === builtPath
        ? 'the file is missing: run `npm run build` first (the SSM document embeds the built agent)'
        : `the file is missing: ${AGENT_BUNDLE_ENV} must name an existing agent bundle`;
    throw new InvalidInputError('agent bundle', path, allowed);
  }
  return path;
}

/**
 * Brotli at its best quality: about 13 % smaller than gzip -9 on the bundle,
 * which matters because the bundle shares the document's 64 KB with the
 * resource lists. The host decodes it with the Node.js it runs the agent with
 * (zlib has Brotli since Node.js 11.7), so it needs no gzip; the base90 text
 * around it is decoded by the same node (CCM_UNPACK in ssm/run-agent.sh).
 */
export function packAgent(bundle: Buffer): Buffer {
  return brotliCompressSync(bundle, {
    params: {
      [zlibConstants.BROTLI_PARAM_QUALITY]: zlibConstants.BROTLI_MAX_QUALITY,
      [zlibConstants.BROTLI_PARAM_MODE]: zlibConstants.BROTLI_MODE_TEXT,
      [zlibConstants.BROTLI_PARAM_SIZE_HINT]: bundle.length,
    },
  });
}

export function encodeAgent(bundle: Buffer): AgentPayload {
  return {
    sha256: createHash('sha256').update(bundle).digest('hex'),
    packedBase90: encodeBase90(packAgent(bundle)),
    bytes: bundle.length,
  };
}

/** The shell script with its tokens filled in (comments kept; see scriptLines). */
export function buildScript(payload: AgentPayload, agentVersion: string): string {
  const template = readFileSync(SCRIPT_PATH, 'utf8');
  const checks = SSM_PARAMETERS.map((p) => {
    const env = ssmEnvName(p.name);
    return `[ -n "\${${env}+x}" ] || ccm_missing="$ccm_missing ${env}"`;
  });
  const args = SSM_PARAMETERS.flatMap((p) =>
    p.flag === null ? [] : [`set -- "$@" ${p.flag} "$${ssmEnvName(p.name)}"`],
  );
  const tokens: Record<string, string> = {
    '@@AGENT_SHA256@@': payload.sha256,
    '@@AGENT_VERSION@@': shellSafe('agent version', agentVersion),
    '@@RESULT_SCHEMA@@': RESULT_SCHEMA,
    '@@BASE90_ALPHABET@@': BASE90_ALPHABET,
    '@@AGENT_PACKED_BASE90@@': payload.packedBase90,
    '@@REQUIRED_ENV_CHECKS@@': checks.join('\n'),
    '@@AGENT_ARGUMENTS@@': args.join('\n'),
  };
  let script = template;
  for (const [token, value] of Object.entries(tokens)) {
    if (!script.includes(token)) throw new Error(`ssm/run-agent.sh lost its ${token} token`);
    script = script.split(token).join(value);
  }
  return script;
}

/**
 * Script lines for runCommand: comment-only and blank lines dropped and the
 * indentation taken off, since every byte counts against 64 KB (about 260 of
 * them are indentation). Safe for ssm/run-agent.sh, where no quoted string or
 * here-document spans lines: a line's leading blanks are only layout to sh.
 */
export function scriptLines(script: string): string[] {
  const lines = script
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  return ['#!/bin/sh', ...lines];
}

export function buildDocument(options: DocumentOptions): CommandDocument {
  const timeout = options.executionTimeoutSeconds;
  if (!Number.isInteger(timeout) || timeout < 1 || timeout > 172_800) {
    throw new InvalidInputError('executionTimeoutSeconds', timeout, 'an integer from 1 to 172800');
  }
  const payload = encodeAgent(readFileSync(options.agentPath));
  const script = buildScript(payload, options.agentVersion ?? packageVersion());
  const parameters = {} as Record<SsmParameterName, DocumentParameter>;
  for (const spec of SSM_PARAMETERS) {
    const value = options.defaults?.[spec.name] ?? spec.default;
    if (!new RegExp(spec.allowedPattern).test(value)) {
      throw new InvalidInputError(`default of document parameter ${spec.name}`, value, spec.allowedPattern);
    }
    parameters[spec.name] = {
      type: 'String',
      description: spec.description,
      default: value,
      allowedPattern: spec.allowedPattern,
      interpolationType: 'ENV_VAR',
    };
  }
  const document: CommandDocument = {
    schemaVersion: '2.2',
    description: `CloudConnexa Resource Monitor: runs the bundled agent (sha256 ${payload.sha256}, ${payload.bytes} bytes) and prints its result document. Needs SSM Agent 3.3.2746.0 or later.`,
    parameters,
    mainSteps: [
      {
        action: 'aws:runShellScript',
        name: RUN_STEP_NAME,
        precondition: { StringEquals: ['platformType', 'Linux'] },
        inputs: { timeoutSeconds: timeout, runCommand: scriptLines(script) },
      },
    ],
  };
  // The limit is the document plus its run-time parameters: Resources gets the
  // room the agent leaves, up to RESOURCES_MAX_CHARS, so that no SendCommand is
  // refused for size at run time. Too little room is refused here instead.
  const overflow = worstCaseSize(document) - DOCUMENT_SIZE_LIMIT;
  if (overflow > 0) {
    // The pattern's own digits shrink with the figure: a few bytes of slack.
    const room = RESOURCES_MAX_CHARS - overflow - 8;
    if (room < RESOURCES_MIN_CHARS) {
      throw new InvalidInputError(
        'SSM document',
        `${DOCUMENT_SIZE_LIMIT + overflow - RESOURCES_MAX_CHARS + RESOURCES_MIN_CHARS} bytes with a ${RESOURCES_MIN_CHARS}-character list`,
        `at most ${DOCUMENT_SIZE_LIMIT} bytes including run-time parameters, leaving room for at least ${RESOURCES_MIN_CHARS} characters of resources: the agent bundle (${payload.bytes} bytes) has outgrown the command document`,
      );
    }
    parameters.Resources.allowedPattern = resourcesPattern(room);
    const size = worstCaseSize(document);
    if (size > DOCUMENT_SIZE_LIMIT) throw new Error(`document sizing is wrong: ${size} bytes`);
    // The default was checked against the full pattern above; it must fit the narrowed one
    // too, or SSM would refuse the document at deploy time instead of here.
    const fallback = parameters.Resources.default;
    if (fallback.length > room) {
      throw new InvalidInputError(
        'default of document parameter Resources',
        `${fallback.length} characters`,
        `at most ${room} characters, the room the agent bundle (${payload.bytes} bytes) leaves in the SSM document; use a resourcesParameter for longer lists`,
      );
    }
  }
  return document;
}

/** The longest resource list the document's Resources parameter admits (what dispatch must not exceed). */
export function documentResourcesMaxChars(document: CommandDocument): number {
  return resourcesMaxCharsOf(document.parameters.Resources.allowedPattern);
}

/** The step's shell text as the SSM Agent writes it to disk. */
export function documentScript(document: CommandDocument): string {
  return `${document.mainSteps[0].inputs.runCommand.join('\n')}\n`;
}

/**
 * Bytes the 64 KB limit sees in the worst case: the document as JSON plus a
 * SendCommand Parameters object holding every parameter at its longest value.
 */
export function worstCaseSize(document: CommandDocument): number {
  const longest: Record<string, string[]> = {};
  for (const spec of SSM_PARAMETERS) {
    const length = spec.name === 'Resources' ? documentResourcesMaxChars(document) : spec.maxLength;
    longest[spec.name] = ['x'.repeat(length)];
  }
  return Buffer.byteLength(JSON.stringify(document)) + Buffer.byteLength(JSON.stringify(longest));
}

function packageVersion(): string {
  const manifest: unknown = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  const version = typeof manifest === 'object' && manifest !== null ? Reflect.get(manifest, 'version') : null;
  return typeof version === 'string' ? version : 'unknown';
}

function shellSafe(field: string, value: string): string {
  if (!/^[A-Za-z0-9._+-]{1,64}$/.test(value)) {
    throw new InvalidInputError(field, value, 'letters, digits and . _ + - (it is placed in shell text)');
  }
  return value;
}
