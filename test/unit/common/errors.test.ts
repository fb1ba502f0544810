/**
 * Errors carry the error they wrap as `cause`, as Node.js 16.9+ does it (an
 * own property, not enumerable), also on Node.js 12.22 where the agent runs;
 * the cause never reaches a result document or a log record.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { buildSync } from 'esbuild';
import { readConfigFile } from '../../../agent/cli/read-config-file.ts';
import { PathWalkError } from '../../../agent/files/dir-handle.ts';
import { acquireRoundLock } from '../../../agent/files/lock.ts';
import { prepareLogDir } from '../../../agent/files/log-dir.ts';
import { queryManagementState } from '../../../agent/gateway/management-client.ts';
import { parseMtrJson } from '../../../agent/mtr/parse-mtr-json.ts';
import {
  EnvironmentError,
  InvalidInputError,
  MonitorError,
  ProcessError,
  toErrorInfo,
} from '../../../common/errors.ts';
import { NODE12 } from '../../helpers/run-agent.ts';

const scratch = mkdtempSync(join(tmpdir(), 'cc-errors-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** The error `work` throws (or rejects with). */
async function caught(work: () => unknown): Promise<unknown> {
  try {
    await work();
  } catch (error) {
    return error;
  }
  return assert.fail('expected an error');
}

function assertCarries(error: unknown, cause: (c: unknown) => boolean, what: string): void {
  assert.ok(error instanceof MonitorError, `${what}: ${String(error)}`);
  assert.ok(cause(error.cause), `${what}: cause ${String(error.cause)}`);
  assert.equal(Object.getOwnPropertyDescriptor(error, 'cause')?.enumerable, false, what);
}

describe('MonitorError and its subclasses carry cause', () => {
  it('as an own, not enumerable property: JSON, spreads and keys never show it', () => {
    const cause = Object.assign(new Error('open /x: EACCES'), { code: 'EACCES' });
    const errors = [
      new MonitorError('E_INTERNAL', 'wrapped', { cause }),
      new InvalidInputError('--count', 'x', 'a number', { cause }),
      new EnvironmentError('E_LOG_DIR', 'log dir', '/x', { cause }),
      new ProcessError(
        'E_MTR_FAILED',
        'mtr',
        { command: ['mtr'], exitCode: 1, signal: null, stderr: '' },
        { cause },
      ),
    ];
    for (const error of errors) {
      assert.equal(error.cause, cause, error.name);
      assert.deepEqual(Object.getOwnPropertyDescriptor(error, 'cause'), {
        value: cause,
        writable: true,
        enumerable: false,
        configurable: true,
      });
      assert.ok(!Object.keys(error).includes('cause'));
      assert.ok(!('cause' in { ...error }));
      assert.doesNotMatch(JSON.stringify(error), /cause|EACCES/);
      assert.ok(!('cause' in error.toInfo()), 'the result document never holds the cause object');
      assert.deepEqual(toErrorInfo(error), error.toInfo());
    }
  });

  it('has no cause when none was given, and keeps an explicit undefined one', () => {
    assert.equal(Object.hasOwn(new MonitorError('E_INTERNAL', 'x'), 'cause'), false);
    assert.equal(Object.hasOwn(new MonitorError('E_INTERNAL', 'x', { cause: undefined }), 'cause'), true);
  });

  it('does so on Node.js 12.22 too, which ignores the options of Error', {
    skip: !existsSync(NODE12) && 'the Node 12.22 binary is missing',
  }, () => {
    // Bundled as the agent is (esbuild, target node12.22), then run by the Node 12 binary.
    const entry = join(scratch, 'node12-entry.ts');
    writeFileSync(
      entry,
      `import { MonitorError } from ${JSON.stringify(join(__dirname, '../../../common/errors.ts'))};
const cause = new Error('inner');
const error = new MonitorError('E_INTERNAL', 'outer', { cause });
const d = Object.getOwnPropertyDescriptor(error, 'cause');
process.stdout.write(JSON.stringify({ same: error.cause === cause, enumerable: d && d.enumerable, json: JSON.stringify(error) }));
`,
    );
    const outfile = join(scratch, 'node12-entry.js');
    buildSync({
      entryPoints: [entry],
      outfile,
      bundle: true,
      platform: 'node',
      target: 'node12.22',
      format: 'cjs',
      logLevel: 'silent',
    });
    const run = spawnSync(NODE12, [outfile], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(JSON.parse(run.stdout), {
      same: true,
      enumerable: false,
      json: '{"code":"E_INTERNAL","name":"MonitorError"}',
    });
  });
});

describe('every wrapped error passes its cause', () => {
  it('a --config file that is not JSON: the SyntaxError', async () => {
    const file = join(scratch, 'bad.json');
    writeFileSync(file, '{"resources": ');
    assertCarries(await caught(() => readConfigFile(file)), (c) => c instanceof SyntaxError, '--config');
  });

  it('a log dir that cannot be created: the walk error', async () => {
    const file = join(scratch, 'a-file');
    writeFileSync(file, '');
    const error = await caught(() => prepareLogDir(join(file, 'logs')));
    assertCarries(error, (c) => c instanceof PathWalkError && c.code === 'ENOTDIR', 'log dir');
  });

  it('a round lock directory that cannot be opened: the errno error', async () => {
    const logs = join(scratch, 'logs');
    const logDir = prepareLogDir(logs);
    try {
      const file = join(scratch, 'not-a-dir');
      writeFileSync(file, '');
      const error = await caught(() => acquireRoundLock(logDir, { rootLockDir: join(file, 'run') }));
      assertCarries(error, (c) => c instanceof Error, 'root lock dir');
    } finally {
      logDir.close();
    }
  });

  it('mtr output that is not JSON: the parser error', async () => {
    assertCarries(
      await caught(() => parseMtrJson('{\n  "report": nonsense\n}\n')),
      (c) => c instanceof SyntaxError,
      'mtr JSON',
    );
  });

  it('a management interface that refuses the connection: the socket error', async () => {
    // A port nothing listens on: bound, then closed.
    const net = await import('node:net');
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const error = await caught(() => queryManagementState(`127.0.0.1:${port}`, 5_000));
    assertCarries(
      error,
      (c) => (c as NodeJS.ErrnoException | undefined)?.code === 'ECONNREFUSED',
      'management',
    );
  });
});
