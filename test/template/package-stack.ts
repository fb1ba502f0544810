/**
 * `serverless package` of the stack in a scratch copy (offline, no AWS
 * credentials): the one helper every template test packages with. Each run
 * gets its own copy: osls stages every package in <service>/.serverless, so
 * concurrent runs in one directory would clobber each other.
 *
 * Nothing is left behind. serverless-esbuild zips each function through a
 * directory `<function>-<pid>-<ms>-<hex>` in os.tmpdir() that it does not
 * remove (its scoped remove is not recursive and fails silently, about
 * 0.8 MB a function and run), and osls keeps its own temporary directories
 * there too. So the child's TMPDIR (which os.tmpdir() reads) is a directory
 * inside the scratch copy, removed with it by cleanup(), and every run checks
 * that the child left nothing of its own in the real os.tmpdir().
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { AGENT_BUNDLE_ENV, DEFAULT_AGENT_PATH } from '../../ssm/document.ts';

const ROOT = resolve(__dirname, '..', '..');
const OSLS = join(ROOT, 'node_modules', 'osls', 'bin', 'serverless.js');
/** Sources serverless package reads; everything else (tests, docs) stays out of the copy. */
const SERVICE_ENTRIES = [
  'serverless.yml',
  'package.json',
  'tsconfig.json',
  'ssm',
  'stack',
  'common',
  'functions',
  'agent',
];

export interface Resource {
  Type: string;
  Condition?: string;
  DependsOn?: string[];
  Properties: Record<string, unknown>;
}
export interface Template {
  Resources: Record<string, Resource>;
  Conditions?: Record<string, unknown>;
  Outputs?: Record<string, { Value: unknown }>;
  Parameters?: Record<string, unknown>;
}
export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout, then stderr. */
  output: string;
  /** Wall time of the run, ms (for the report line; never asserted against a figure). */
  ms: number;
}

export interface Packager {
  /** The scratch directory: copies, packages, the child's TMPDIR. Removed by cleanup(). */
  readonly scratch: string;
  /** `env` is added to the child's environment (after the credential-free defaults). */
  run(stage: string, params: string[], env?: Record<string, string>): Promise<RunResult>;
  /** Packages and returns the template; fails the test with the output when packaging fails. */
  template(stage: string, params: string[], env?: Record<string, string>): Promise<Template>;
  /** The template a successful run() of `stage` wrote. */
  templateOf(stage: string): Template;
  cleanup(): void;
}

/**
 * The names serverless-esbuild gives its zip staging directories,
 * `<function>-<pid>-<ms>-<hex>`, for the child `pid`: exactly this run's,
 * never another process's (osls's own temporary directories carry no pid, so
 * a concurrent run elsewhere could not be told from this one).
 */
export function childTempNames(pid: number): RegExp {
  return new RegExp(`^[A-Za-z0-9_-]+-${pid}-\\d+-[0-9a-f]{8}$`);
}

/**
 * Entries of `dir` matching `names` changed at or after `since` (epoch ms):
 * what a child that ran from `since` on left there. Older entries (another
 * run's, the same pid long ago) are not this run's.
 */
export function leftBehind(dir: string, names: RegExp, since: number): string[] {
  return readdirSync(dir).filter((name) => {
    if (!names.test(name)) return false;
    try {
      return statSync(join(dir, name)).mtimeMs >= since - 1_000;
    } catch {
      return false;
    }
  });
}

export function createPackager(name: string): Packager {
  const scratch = mkdtempSync(join(tmpdir(), `ccm-${name}-`));
  const agent = (): string => {
    if (existsSync(DEFAULT_AGENT_PATH)) return DEFAULT_AGENT_PATH;
    const path = join(scratch, 'agent.js');
    writeFileSync(path, `'use strict';\n${'// placeholder\n'.repeat(100)}`);
    return path;
  };
  const run = (stage: string, params: string[], extra: Record<string, string> = {}): Promise<RunResult> => {
    const dir = join(scratch, `service-${stage}`);
    mkdirSync(dir);
    for (const entry of SERVICE_ENTRIES) {
      if (existsSync(join(ROOT, entry))) cpSync(join(ROOT, entry), join(dir, entry), { recursive: true });
    }
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
    const childTmp = join(scratch, `tmp-${stage}`);
    mkdirSync(childTmp);
    const env: NodeJS.ProcessEnv = { ...process.env, [AGENT_BUNDLE_ENV]: agent() };
    for (const key of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE'])
      delete env[key];
    // Packaging needs no credentials: no files, no instance metadata.
    env.AWS_CONFIG_FILE = join(scratch, 'no-aws-config');
    env.AWS_SHARED_CREDENTIALS_FILE = join(scratch, 'no-aws-credentials');
    env.AWS_EC2_METADATA_DISABLED = 'true';
    Object.assign(env, extra);
    // os.tmpdir() reads TMPDIR first (then TMP, TEMP): everything temporary stays in the scratch copy.
    Object.assign(env, { TMPDIR: childTmp, TMP: childTmp, TEMP: childTmp });
    const args = [OSLS, 'package', '--stage', stage, '--package', join(scratch, `out-${stage}`)];
    for (const p of params) args.push(`--param=${p}`);
    const started = Date.now();
    const startedAt = performance.now();
    return new Promise((done, fail) => {
      const child = spawn(process.execPath, args, { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
      });
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      child.on('error', fail);
      child.on('close', (code) => {
        const ms = Math.round(performance.now() - startedAt);
        try {
          if (child.pid !== undefined) {
            const leaked = leftBehind(tmpdir(), childTempNames(child.pid), started);
            assert.deepEqual(
              leaked,
              [],
              `serverless package --stage ${stage} (pid ${child.pid}) left these in ${tmpdir()} despite TMPDIR=${childTmp}`,
            );
          }
        } catch (error) {
          fail(error);
          return;
        }
        done({ code, stdout, stderr, output: `${stdout}${stderr}`, ms });
      });
    });
  };
  const templateOf = (stage: string): Template => {
    const file = join(scratch, `out-${stage}`, 'cloudformation-template-update-stack.json');
    return JSON.parse(readFileSync(file, 'utf8')) as Template;
  };
  return {
    scratch,
    run,
    templateOf,
    async template(stage, params, env) {
      const result = await run(stage, params, env);
      assert.equal(result.code, 0, `serverless package --stage ${stage} failed:\n${result.output}`);
      return templateOf(stage);
    },
    cleanup() {
      rmSync(scratch, { recursive: true, force: true });
    },
  };
}

/** One dashboard widget: its place on the 24-column grid and its properties. */
export interface Widget {
  type: string;
  x: number;
  y: number;
  width: number;
  height: number;
  properties: Record<string, unknown>;
}

/** Renders the dashboard's Fn::Sub body with sample values so it can be parsed as JSON. */
export function dashboardWidgets(template: Template): Widget[] {
  const dashboard = template.Resources.Dashboard;
  assert.ok(dashboard, 'the template has a dashboard');
  const sub = dashboard.Properties.DashboardBody as { 'Fn::Sub': [string, object] };
  const [text, variables] = sub['Fn::Sub'];
  const rendered = text.replace(/\$\{([A-Za-z:]+)\}/g, (_match, name: string) => {
    if (name === 'AWS::Region') return 'us-east-1';
    const value = Reflect.get(variables, name);
    return typeof value === 'string' || typeof value === 'number' ? String(value) : `sample-${name}`;
  });
  return (JSON.parse(rendered) as { widgets: Widget[] }).widgets;
}
