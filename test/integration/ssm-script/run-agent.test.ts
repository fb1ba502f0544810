/**
 * Runs the SSM document's shell script for real, the way the SSM Agent would:
 * the script text from the generated document, the parameters as SSM_*
 * environment variables, under both bash and the system sh (dash on Debian).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseResultDocument, RESULT_SCHEMA, type ResultDocument } from '../../../common/result-schema.ts';
import { SSM_PARAMETERS } from '../../../common/ssm-parameters.ts';
import {
  AGENT_BUNDLE_ENV,
  buildDocument,
  DEFAULT_AGENT_PATH,
  documentScript,
  encodeAgent,
} from '../../../ssm/document.ts';
import { NODE12 } from '../../helpers/run-agent.ts';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

const scratch = mkdtempSync(join(tmpdir(), 'ccm-ssm-script-'));

/** Prints a fixed result document that echoes its arguments; STANDIN_MODE varies the exit. */
const STAND_IN = `'use strict';
const mode = process.env.STANDIN_MODE || 'ok';
if (mode === 'crash') { process.stderr.write('stand-in agent crashed\\n'); process.exit(1); }
const doc = { schema: '${RESULT_SCHEMA}', agentVersion: 'stand-in', hostname: 'stand-in-host',
  outcome: mode === 'invalid' ? 'invalid-input' : 'completed', error: null, mtrId: '20260101000000',
  startedAt: '2026-01-01T00:00:00.000Z', finishedAt: '2026-01-01T00:00:01.000Z', timings: { totalMs: 1, probesMs: 1, gatewayDiscoveryMs: 0 }, settings: null,
  summary: { resources: 0, flagged: 0, latencyFlag: false, lossFlag: false, worstLatencyMs: null, worstLossPct: null },
  resources: [], gateway: null, seed: null, files: [], warnings: process.argv.slice(2), truncated: null };
process.stdout.write(JSON.stringify(doc) + '\\n');
process.exit(mode === 'invalid' ? 2 : 0);
`;

/** Must never run: a tampered payload that leaves a marker if it does. */
const EVIL = `require('fs').writeFileSync(process.env.EVIL_MARKER, 'ran'); console.log('{}');`;

/** Both shells are required: a missing one skips its tests visibly (and fails CI) instead of dropping them. */
const SHELLS = ['/bin/bash', '/bin/sh'];

function findTool(name: string): string {
  for (const dir of (process.env.PATH ?? '').split(delimiter).concat(['/usr/sbin', '/sbin'])) {
    const candidate = join(dir, name);
    if (dir !== '' && existsSync(candidate)) return candidate;
  }
  throw new Error(`test needs ${name} in PATH`);
}

/** A PATH directory holding only the named tools, to simulate a host without node or mtr. */
function toolDir(label: string, names: string[]): string {
  const dir = join(scratch, `bin-${label}`);
  mkdirSync(dir);
  for (const name of names) symlinkSync(findTool(name), join(dir, name));
  return dir;
}

const BASE_TOOLS = ['date', 'tr', 'sed', 'hostname', 'uname', 'cut', 'sha256sum', 'mkdir', 'chmod'];
const DECODE_TOOLS = ['mv', 'rm'];

function ssmEnv(overrides: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const spec of SSM_PARAMETERS) env[`SSM_${spec.name}`] = spec.default;
  env.SSM_LogDir = join(scratch, 'Connexa-Logs');
  return { ...env, ...overrides };
}

function writeScript(name: string, agentSource: string): { script: string; agent: string } {
  const agent = join(scratch, `${name}.js`);
  writeFileSync(agent, agentSource);
  const document = buildDocument({ agentPath: agent, executionTimeoutSeconds: 60 });
  const script = join(scratch, `${name}.sh`);
  writeFileSync(script, documentScript(document));
  return { script, agent };
}

function runScript(shell: string, script: string, env: Record<string, string>): Promise<Run> {
  return new Promise((done, fail) => {
    const child = spawn(shell, [script], {
      cwd: scratch,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: scratch, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', fail);
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

function freshCache(label: string): string {
  return mkdtempSync(join(scratch, `cache-${label}-`));
}

function errorOf(doc: ResultDocument): { code: string; message: string } {
  assert.ok(doc.error, 'the result document carries an error');
  return doc.error as { code: string; message: string };
}

let standIn: { script: string; agent: string };

describe('SSM document script', () => {
  before(() => {
    standIn = writeScript('stand-in', STAND_IN);
  });

  after(() => {
    rmSync(scratch, { recursive: true, force: true });
  });

  for (const shell of SHELLS) {
    describe(`under ${shell}`, { skip: existsSync(shell) ? false : `${shell} is missing` }, () => {
      it('extracts the agent, runs check --json with every parameter from SSM_* and prints its document', async () => {
        const cache = freshCache('run');
        const resources = '127.0.0.1,http://127.0.0.1:8080/a?b=c,[::1]';
        const run = await runScript(shell, standIn.script, {
          ...ssmEnv({ SSM_Resources: resources, SSM_Count: '7', SSM_JitterThresholdMs: '30' }),
          CCM_CACHE_DIR: cache,
        });
        assert.equal(run.code, 0, run.stderr);
        const doc = parseResultDocument(run.stdout);
        assert.equal(doc.outcome, 'completed');
        assert.deepEqual(doc.warnings, [
          'check',
          '--json',
          '--resources',
          resources,
          '--count',
          '7',
          '--interval',
          '1',
          '--latency-threshold',
          '75',
          '--loss-threshold',
          '5',
          '--hops',
          '3',
          '--loss-rule',
          'persistent',
          '--tcp-port',
          '443',
          '--jitter-threshold',
          '30',
          '--baseline-flag',
          'off',
          '--log-dir',
          join(scratch, 'Connexa-Logs'),
        ]);
        const { sha256 } = encodeAgent(readFileSync(standIn.agent));
        assert.equal(readFileSync(join(cache, `agent-${sha256}.js`), 'utf8'), STAND_IN);
      });

      it('hands shell syntax in SSM_* values to the agent as plain text, never running it', async () => {
        // The API's allowedPattern would refuse these; the script must be safe even without it.
        const cache = freshCache('inject');
        const marker = join(cache, 'injected');
        const evil = `127.0.0.1;touch ${marker}`;
        const alsoEvil = `$(touch ${marker})`;
        const run = await runScript(shell, standIn.script, {
          ...ssmEnv({ SSM_Resources: evil, SSM_LogDir: alsoEvil, SSM_LossRule: '`touch x`' }),
          CCM_CACHE_DIR: cache,
        });
        assert.equal(run.code, 0, run.stderr);
        const args = parseResultDocument(run.stdout).warnings;
        assert.equal(args[args.indexOf('--resources') + 1], evil);
        assert.equal(args[args.indexOf('--log-dir') + 1], alsoEvil);
        assert.equal(args[args.indexOf('--loss-rule') + 1], '`touch x`');
        assert.equal(existsSync(marker), false, 'no value was executed by the shell');
      });

      it('reuses the cached agent on the second run instead of writing it again', async () => {
        const cache = freshCache('reuse');
        const env = { ...ssmEnv(), CCM_CACHE_DIR: cache };
        const first = await runScript(shell, standIn.script, env);
        assert.equal(first.code, 0, first.stderr);
        const { sha256 } = encodeAgent(readFileSync(standIn.agent));
        const cached = join(cache, `agent-${sha256}.js`);
        const before = statSync(cached);
        const second = await runScript(shell, standIn.script, env);
        assert.equal(second.code, 0, second.stderr);
        const afterRun = statSync(cached);
        assert.equal(afterRun.ino, before.ino, 'same file, not rewritten');
        assert.equal(afterRun.mtimeMs, before.mtimeMs);
        assert.match(second.stderr, /using cached agent/);
        assert.equal(parseResultDocument(second.stdout).outcome, 'completed');
      });

      it('removes what a killed decode left (an hour-old temporary file), never one a concurrent round is writing', async () => {
        // Prepare: a temporary file of a decode killed long ago, and one of a decode running now.
        const cache = freshCache('leftover');
        const killed = join(cache, '.agent-0123.4242.tmp');
        const inFlight = join(cache, '.agent-0123.4343.tmp');
        writeFileSync(killed, 'partial');
        writeFileSync(inFlight, 'partial');
        const hourAgo = new Date(Date.now() - 61 * 60_000);
        utimesSync(killed, hourAgo, hourAgo);
        // Act
        const run = await runScript(shell, standIn.script, { ...ssmEnv(), CCM_CACHE_DIR: cache });
        // Assess
        assert.equal(run.code, 0, run.stderr);
        assert.equal(existsSync(killed), false, 'the killed decode’s file is gone');
        assert.equal(existsSync(inFlight), true, 'a decode in flight keeps its file');
      });

      it('replaces a cached agent whose hash no longer matches', async () => {
        const cache = freshCache('stale');
        const { sha256 } = encodeAgent(readFileSync(standIn.agent));
        writeFileSync(join(cache, `agent-${sha256}.js`), EVIL);
        const marker = join(cache, 'evil-ran');
        const run = await runScript(shell, standIn.script, {
          ...ssmEnv(),
          CCM_CACHE_DIR: cache,
          EVIL_MARKER: marker,
        });
        assert.equal(run.code, 0, run.stderr);
        assert.equal(parseResultDocument(run.stdout).agentVersion, 'stand-in');
        assert.equal(existsSync(marker), false, 'the modified cached file was not run');
        assert.equal(readFileSync(join(cache, `agent-${sha256}.js`), 'utf8'), STAND_IN);
      });

      it('refuses a payload whose SHA-256 does not match the declared one', async () => {
        const cache = freshCache('tampered');
        const good = encodeAgent(readFileSync(standIn.agent));
        const evil = encodeAgent(Buffer.from(EVIL));
        const text = readFileSync(standIn.script, 'utf8');
        assert.ok(text.includes(good.packedBase90));
        const tampered = join(scratch, `tampered-${shell.replace(/\W/g, '')}.sh`);
        // A replacer function: the text may hold $& or $`, patterns in a replacement string.
        writeFileSync(
          tampered,
          text.replace(good.packedBase90, () => evil.packedBase90),
        );
        const marker = join(cache, 'evil-ran');
        const run = await runScript(shell, tampered, {
          ...ssmEnv(),
          CCM_CACHE_DIR: cache,
          EVIL_MARKER: marker,
        });
        assert.equal(run.code, 0, 'a result document was printed');
        const doc = parseResultDocument(run.stdout);
        assert.equal(doc.outcome, 'internal-error');
        const error = errorOf(doc);
        assert.equal(error.code, 'E_AGENT_INTEGRITY');
        assert.match(
          error.message,
          new RegExp(`has SHA-256 ${evil.sha256} but the document declares ${good.sha256}`),
        );
        assert.match(run.stderr, /refusing to run it/);
        assert.equal(existsSync(marker), false, 'the tampered agent did not run');
        assert.equal(existsSync(join(cache, `agent-${good.sha256}.js`)), false, 'nothing cached');
      });

      it('refuses a payload that does not decode', async () => {
        const cache = freshCache('corrupt');
        const good = encodeAgent(readFileSync(standIn.agent));
        const text = readFileSync(standIn.script, 'utf8');
        const corrupt = join(scratch, `corrupt-${shell.replace(/\W/g, '')}.sh`);
        // `{` is no base90 digit (ssm/base90.ts): the decoder itself refuses the text.
        writeFileSync(
          corrupt,
          text.replace(good.packedBase90, () => `{{{{${good.packedBase90.slice(40)}`),
        );
        const run = await runScript(shell, corrupt, { ...ssmEnv(), CCM_CACHE_DIR: cache });
        const doc = parseResultDocument(run.stdout);
        assert.equal(errorOf(doc).code, 'E_AGENT_INTEGRITY');
        assert.match(errorOf(doc).message, /could not be decoded \(base90\/Brotli\)/);
        assert.equal(existsSync(join(cache, `agent-${good.sha256}.js`)), false, 'nothing cached');
      });

      it('prints an environment document naming SSM Agent 3.3.2746.0 when SSM_Resources is unset', async () => {
        const env = ssmEnv();
        delete env.SSM_Resources;
        const run = await runScript(shell, standIn.script, {
          ...env,
          CCM_CACHE_DIR: freshCache('old-agent'),
        });
        assert.equal(run.code, 0);
        const doc = parseResultDocument(run.stdout);
        assert.equal(doc.schema, RESULT_SCHEMA);
        assert.equal(doc.outcome, 'environment');
        const error = errorOf(doc);
        assert.equal(error.code, 'E_SSM_AGENT_VERSION');
        assert.match(error.message, /SSM_Resources/);
        assert.match(error.message, /3\.3\.2746\.0/);
      });

      it('prints an environment document when node is missing and installing is not allowed', async () => {
        const bin = toolDir(`no-node-${shell.replace(/\W/g, '')}`, [...BASE_TOOLS, ...DECODE_TOOLS, 'mtr']);
        const run = await runScript(shell, standIn.script, {
          ...ssmEnv({ SSM_AllowInstall: 'false' }),
          PATH: bin,
          CCM_SEARCH_PATH: '',
          CCM_CACHE_DIR: freshCache('no-node'),
        });
        assert.equal(run.code, 0);
        const doc = parseResultDocument(run.stdout);
        assert.equal(doc.outcome, 'environment');
        const error = errorOf(doc);
        assert.equal(error.code, 'E_NODE_MISSING');
        assert.match(error.message, /Node\.js 12\.22 or later is required/);
        assert.match(error.message, /AllowInstall=false/);
      });

      it('reports a node older than 12.22 by its version', async () => {
        const bin = toolDir(`old-node-${shell.replace(/\W/g, '')}`, [...BASE_TOOLS, ...DECODE_TOOLS, 'mtr']);
        writeFileSync(join(bin, 'node'), '#!/bin/sh\necho v10.19.0\n', { mode: 0o755 });
        const run = await runScript(shell, standIn.script, {
          ...ssmEnv(),
          PATH: bin,
          CCM_SEARCH_PATH: '',
          CCM_CACHE_DIR: freshCache('old-node'),
        });
        const doc = parseResultDocument(run.stdout);
        assert.equal(errorOf(doc).code, 'E_NODE_MISSING');
        assert.match(errorOf(doc).message, /v10\.19\.0/);
      });

      it('prints an environment document when mtr is missing and installing is not allowed', async () => {
        const bin = toolDir(`no-mtr-${shell.replace(/\W/g, '')}`, [...BASE_TOOLS, ...DECODE_TOOLS, 'node']);
        const run = await runScript(shell, standIn.script, {
          ...ssmEnv({ SSM_AllowInstall: 'false' }),
          PATH: bin,
          CCM_SEARCH_PATH: '',
          CCM_CACHE_DIR: freshCache('no-mtr'),
        });
        assert.equal(run.code, 0);
        const doc = parseResultDocument(run.stdout);
        assert.equal(doc.outcome, 'environment');
        assert.equal(errorOf(doc).code, 'E_MTR_MISSING');
        assert.match(errorOf(doc).message, /mtr-tiny/);
      });

      for (const [manager, expected] of [
        ['apt-get', 'install -y -q --no-install-recommends mtr-tiny'],
        ['dnf', 'install -y -q mtr'],
      ] as const) {
        it(`installs a missing mtr with ${manager} when AllowInstall is true, keeping stdout for the document`, async () => {
          const label = `install-${manager}-${shell.replace(/\W/g, '')}`;
          const bin = toolDir(label, [...BASE_TOOLS, ...DECODE_TOOLS, 'node']);
          const calls = join(scratch, `${label}.calls`);
          // A stand-in package manager: records its arguments and "installs" mtr by linking the real one.
          writeFileSync(
            join(bin, manager),
            `#!/bin/sh\necho "$*" >> '${calls}'\necho 'Setting up mtr (stand-in)'\n` +
              `case "$*" in *mtr*) ${findTool('ln')} -s '${findTool('mtr')}' '${join(bin, 'mtr')}' ;; esac\n`,
            { mode: 0o755 },
          );
          const run = await runScript(shell, standIn.script, {
            ...ssmEnv({ SSM_AllowInstall: 'true' }),
            PATH: bin,
            CCM_SEARCH_PATH: '',
            CCM_CACHE_DIR: freshCache(label),
          });
          assert.equal(run.code, 0, run.stderr);
          assert.equal(readFileSync(calls, 'utf8').trim(), expected);
          assert.equal(parseResultDocument(run.stdout).outcome, 'completed');
          assert.ok(run.stdout.startsWith('{'), 'package manager output went to stderr');
          assert.match(run.stderr, /Setting up mtr/);
        });
      }

      it("passes on the agent's own document when it exits non-zero, exiting 0 so SSM reports it", async () => {
        const run = await runScript(shell, standIn.script, {
          ...ssmEnv(),
          STANDIN_MODE: 'invalid',
          CCM_CACHE_DIR: freshCache('invalid'),
        });
        assert.equal(run.code, 0);
        assert.equal(parseResultDocument(run.stdout).outcome, 'invalid-input');
        assert.match(run.stderr, /agent exited 2/);
      });

      it('prints an internal-error document when the agent dies without one', async () => {
        const run = await runScript(shell, standIn.script, {
          ...ssmEnv(),
          STANDIN_MODE: 'crash',
          CCM_CACHE_DIR: freshCache('crash'),
        });
        const doc = parseResultDocument(run.stdout);
        assert.equal(doc.outcome, 'internal-error');
        assert.equal(errorOf(doc).code, 'E_PROCESS');
        assert.match(errorOf(doc).message, /exited 1 without printing a result document/);
        assert.match(run.stderr, /stand-in agent crashed/);
      });
    });
  }

  it('runs the real agent bundle against 127.0.0.1 and prints a completed result document', async (t) => {
    // CCM_AGENT_BUNDLE names another build of the agent, as it does for packaging.
    const agentPath = process.env[AGENT_BUNDLE_ENV] || DEFAULT_AGENT_PATH;
    if (!existsSync(agentPath)) {
      t.skip('dist/agent.js is not built (npm run build)');
      return;
    }
    const document = buildDocument({ agentPath, executionTimeoutSeconds: 120 });
    const script = join(scratch, 'real.sh');
    writeFileSync(script, documentScript(document));
    const logDir = join(scratch, 'real-logs');
    const run = await runScript('/bin/sh', script, {
      ...ssmEnv({ SSM_Resources: '127.0.0.1', SSM_Count: '3', SSM_IntervalSec: '0.2', SSM_LogDir: logDir }),
      CCM_CACHE_DIR: freshCache('real'),
    });
    assert.equal(run.code, 0, run.stderr);
    const doc = parseResultDocument(run.stdout);
    assert.equal(doc.outcome, 'completed', JSON.stringify(doc.error));
    assert.deepEqual(
      doc.resources.map((r) => r.target),
      ['127.0.0.1'],
    );
  });

  it('unpacks and runs the real bundle with Node.js 12.22, the oldest node the document accepts', async () => {
    assert.ok(existsSync(NODE12), `Node 12 binary not installed at ${NODE12} (npm test installs it)`);
    const agentPath = process.env[AGENT_BUNDLE_ENV] || DEFAULT_AGENT_PATH;
    assert.ok(existsSync(agentPath), 'dist/agent.js must be built first (npm run build)');
    const document = buildDocument({ agentPath, executionTimeoutSeconds: 120 });
    const script = join(scratch, 'real-node12.sh');
    writeFileSync(script, documentScript(document));
    const bin = join(scratch, 'bin-node12');
    mkdirSync(bin);
    symlinkSync(NODE12, join(bin, 'node'));
    const run = await runScript('/bin/sh', script, {
      ...ssmEnv({
        SSM_Resources: '127.0.0.1',
        SSM_Count: '2',
        SSM_IntervalSec: '0.2',
        SSM_LogDir: join(scratch, 'real-node12-logs'),
      }),
      PATH: `${bin}${delimiter}${process.env.PATH ?? '/usr/bin:/bin'}`,
      CCM_CACHE_DIR: freshCache('real-node12'),
    });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /v12\.22/, 'the document ran the agent with Node 12');
    const doc = parseResultDocument(run.stdout);
    assert.equal(doc.outcome, 'completed', JSON.stringify(doc.error));
  });
});
