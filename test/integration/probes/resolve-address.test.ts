import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { parseGetentAhosts, resolveAddress } from '../../../agent/probes/resolve-address.ts';
import { runProcess } from '../../../agent/process/run-process.ts';
import type { RunProcess } from '../../../agent/process/types.ts';
import { InvalidInputError, MonitorError } from '../../../common/errors.ts';
import { assertEndedByDeadline } from '../../helpers/deadline.ts';

const tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'resolve-address-test-'));
after(() => fs.rmSync(tempDir, { recursive: true, force: true }));

/** A runner that starts `body` (an sh script standing in for getent) instead, and records what it was asked. */
function standInGetent(body: string): { run: RunProcess; calls: string[][] } {
  const file = path.join(fs.mkdtempSync(path.join(tempDir, 'getent-')), 'getent');
  fs.writeFileSync(file, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  const calls: string[][] = [];
  return {
    calls,
    run: (command, args, options) => {
      calls.push([command, ...args]);
      return runProcess(file, args, options);
    },
  };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  assert.fail('expected the promise to reject');
}

describe('resolveAddress', () => {
  it('returns an IPv4 literal unchanged with family 4', async () => {
    assert.deepEqual(await resolveAddress('10.77.3.2'), { address: '10.77.3.2', family: 4 });
  });

  it('returns an IPv6 literal unchanged with family 6', async () => {
    assert.deepEqual(await resolveAddress('fd00::1'), { address: 'fd00::1', family: 6 });
  });

  it('accepts a bracketed IPv6 literal and drops the brackets', async () => {
    assert.deepEqual(await resolveAddress('[::1]'), { address: '::1', family: 6 });
  });

  it('resolves localhost through the system resolver to a loopback address', async () => {
    const resolved = await resolveAddress('localhost');
    assert.ok(
      (resolved.family === 4 && resolved.address.startsWith('127.')) ||
        (resolved.family === 6 && resolved.address === '::1'),
      JSON.stringify(resolved),
    );
  });

  it('fails with E_RESOLVE naming the host for a name under .invalid', async () => {
    // .invalid never exists (RFC 6761); the configured resolver may answer NXDOMAIN, fail, or stay silent.
    const error = await rejection(resolveAddress('no-such-resource.invalid', 3_000));
    assert.ok(error instanceof MonitorError);
    assert.equal(error.code, 'E_RESOLVE');
    assert.match(error.message, /^could not resolve "no-such-resource\.invalid": \S+/);
  });

  it('rejects an empty host as invalid input', async () => {
    const error = await rejection(resolveAddress('  '));
    assert.ok(error instanceof InvalidInputError);
    assert.equal(error.field, 'host');
  });
});

describe('resolveAddress runs getaddrinfo in a getent child it can stop', () => {
  it('asks `getent ahosts -- <name>` and returns the first address, IPv6 included', async () => {
    const getent = standInGetent(
      [
        'cat <<EOF',
        'fd00::5          STREAM db.corp.internal',
        'fd00::5          DGRAM  ',
        '10.20.0.5        STREAM ',
        'EOF',
      ].join('\n'),
    );
    assert.deepEqual(await resolveAddress('db.corp.internal', 2_000, getent.run), {
      address: 'fd00::5',
      family: 6,
    });
    assert.deepEqual(getent.calls, [['getent', 'ahosts', '--', 'db.corp.internal']]);
  });

  it('stops a lookup that hangs at the timeout with E_RESOLVE', async () => {
    const timeoutMs = 300;
    const getent = standInGetent('exec sleep 60');
    const started = Date.now();
    const error = await rejection(resolveAddress('db.corp.internal', timeoutMs, getent.run));
    const elapsedMs = Date.now() - started;
    assert.ok(error instanceof MonitorError);
    assert.equal(error.code, 'E_RESOLVE');
    assert.match(error.message, /^could not resolve "db\.corp\.internal": no answer within 300 ms$/);
    assertEndedByDeadline(elapsedMs, {
      deadlineMs: timeoutMs,
      alternativeMs: 60_000,
      alternative: "the stand-in getent's own end (sleep 60)",
    });
  });

  it('says the resolver has no address when getent finds none (exit 2)', async () => {
    const error = await rejection(resolveAddress('db.corp.internal', 2_000, standInGetent('exit 2').run));
    assert.ok(error instanceof MonitorError);
    assert.match(error.message, /"db\.corp\.internal": the system resolver has no address for it/);
  });

  it('carries getent stderr when it fails otherwise, and refuses output without an address', async () => {
    const failed = await rejection(
      resolveAddress(
        'db.corp.internal',
        2_000,
        standInGetent('echo "getent: broken nsswitch" >&2; exit 1').run,
      ),
    );
    assert.ok(failed instanceof MonitorError);
    assert.match(failed.message, /getent ahosts exited with 1: getent: broken nsswitch/);
    const garbage = await rejection(
      resolveAddress('db.corp.internal', 2_000, standInGetent('echo "not an address"').run),
    );
    assert.ok(garbage instanceof MonitorError);
    assert.match(garbage.message, /getent ahosts printed no address: "not an address"/);
  });

  it('falls back to the in-process lookup on a host without getent', async () => {
    const missing: RunProcess = (_file, args, options) =>
      runProcess(path.join(tempDir, 'no-such-dir', 'getent'), args, options);
    const resolved = await resolveAddress('localhost', 2_000, missing);
    assert.ok(resolved.address === '::1' || resolved.address.startsWith('127.'), JSON.stringify(resolved));
  });

  for (const bad of ['-x', '--help', 'a b', 'db\u0007corp']) {
    it(`refuses ${JSON.stringify(bad)} as a host before running anything`, async () => {
      const getent = standInGetent('exit 0');
      const error = await rejection(resolveAddress(bad, 2_000, getent.run));
      assert.ok(error instanceof InvalidInputError);
      assert.deepEqual(getent.calls, []);
    });
  }
});

describe('parseGetentAhosts', () => {
  it('takes the first line with an address and a socket type, skipping anything else', () => {
    assert.deepEqual(parseGetentAhosts('\ngarbage\n127.0.0.1       STREAM localhost\n::1 STREAM\n'), {
      address: '127.0.0.1',
      family: 4,
    });
    assert.equal(parseGetentAhosts('host.example STREAM\n'), null);
    assert.equal(parseGetentAhosts(''), null);
  });
});
