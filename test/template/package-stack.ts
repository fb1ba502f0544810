/**
 * `serverless package` of the stack in a scratch copy (offline, no AWS
 * credentials), for template tests that package stages of their own. Each run
 * gets its own copy: osls stages every package in <service>/.serverless, so
 * concurrent runs in one directory would clobber each other.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
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
  Properties: Record<string, unknown>;
}
export interface Template {
  Resources: Record<string, Resource>;
  Outputs?: Record<string, { Value: unknown }>;
  Parameters?: Record<string, unknown>;
}
export interface RunResult {
  code: number | null;
  output: string;
}

export interface Packager {
  run(stage: string, params: string[]): Promise<RunResult>;
  /** Packages and returns the template; fails the test with the output when packaging fails. */
  template(stage: string, params: string[]): Promise<Template>;
  cleanup(): void;
}

export function createPackager(name: string): Packager {
  const scratch = mkdtempSync(join(tmpdir(), `ccm-${name}-`));
  const agent = (): string => {
    if (existsSync(DEFAULT_AGENT_PATH)) return DEFAULT_AGENT_PATH;
    const path = join(scratch, 'agent.js');
    writeFileSync(path, `'use strict';\n${'// placeholder\n'.repeat(100)}`);
    return path;
  };
  const run = (stage: string, params: string[]): Promise<RunResult> => {
    const dir = join(scratch, `service-${stage}`);
    mkdirSync(dir);
    for (const entry of SERVICE_ENTRIES) {
      if (existsSync(join(ROOT, entry))) cpSync(join(ROOT, entry), join(dir, entry), { recursive: true });
    }
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
    const env: NodeJS.ProcessEnv = { ...process.env, [AGENT_BUNDLE_ENV]: agent() };
    for (const key of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE'])
      delete env[key];
    // Packaging needs no credentials: no files, no instance metadata.
    env.AWS_CONFIG_FILE = join(scratch, 'no-aws-config');
    env.AWS_SHARED_CREDENTIALS_FILE = join(scratch, 'no-aws-credentials');
    env.AWS_EC2_METADATA_DISABLED = 'true';
    const args = [OSLS, 'package', '--stage', stage, '--package', join(scratch, `out-${stage}`)];
    for (const p of params) args.push(`--param=${p}`);
    return new Promise((done, fail) => {
      const child = spawn(process.execPath, args, { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString();
      });
      child.stderr.on('data', (chunk: Buffer) => {
        output += chunk.toString();
      });
      child.on('error', fail);
      child.on('close', (code) => done({ code, output }));
    });
  };
  return {
    run,
    async template(stage, params) {
      const result = await run(stage, params);
      assert.equal(result.code, 0, `serverless package --stage ${stage} failed:\n${result.output}`);
      const file = join(scratch, `out-${stage}`, 'cloudformation-template-update-stack.json');
      return JSON.parse(readFileSync(file, 'utf8')) as Template;
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
