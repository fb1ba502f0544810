import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveAddress } from '../../../agent/probes/resolve-address.ts';
import { InvalidInputError, MonitorError } from '../../../common/errors.ts';

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
