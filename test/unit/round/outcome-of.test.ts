/**
 * The outcome of a round ended by an error, for every error code: only a fault
 * of the agent is an internal error; the host's tools, files and input are not.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { outcomeOf } from '../../../agent/round/outcome-of.ts';
import {
  EnvironmentError,
  ERROR_CODES,
  InvalidInputError,
  LockedError,
  MonitorError,
  ProcessError,
} from '../../../common/errors.ts';
import { EXIT_CODES, OUTCOMES } from '../../../common/result-contract.ts';

const evidence = { command: ['mtr', '--version'], exitCode: 1, signal: null, stderr: 'boom' };

describe('outcomeOf', () => {
  it('gives every error code one of the outcomes', () => {
    for (const code of ERROR_CODES) {
      assert.ok(OUTCOMES.includes(outcomeOf(new MonitorError(code, 'x'))), code);
    }
  });

  it('calls every mtr failure that ends a round the environment (exit 3), like mtr missing', () => {
    for (const code of [
      'E_MTR_MISSING',
      'E_MTR_PERMISSION',
      'E_MTR_FAILED',
      'E_MTR_TIMEOUT',
      'E_MTR_OUTPUT',
    ] as const) {
      const outcome = outcomeOf(new ProcessError(code, 'mtr --version failed', evidence));
      assert.deepEqual([outcome, EXIT_CODES[outcome]], ['environment', 3], code);
    }
  });

  it('keeps internal-error for faults of the agent alone', () => {
    const internal = ERROR_CODES.filter(
      (code) => outcomeOf(new MonitorError(code, 'x')) === 'internal-error',
    );
    assert.deepEqual(internal, [
      'E_RESULT_DOCUMENT',
      'E_AGENT_INTEGRITY',
      'E_LOG_WRITE',
      'E_COLLECT_GAVE_UP',
      'E_INSTANCE_REFUSED',
      'E_INTERNAL',
    ]);
    assert.equal(outcomeOf(new TypeError('x')), 'internal-error');
    assert.equal(outcomeOf('a string'), 'internal-error');
  });

  it('reads input, the log dir and the lock as before', () => {
    assert.equal(outcomeOf(new InvalidInputError('--count', 0, 'at least 1')), 'invalid-input');
    assert.equal(outcomeOf(new MonitorError('E_CONFIG_FILE', 'x')), 'invalid-input');
    assert.equal(outcomeOf(new EnvironmentError('E_LOG_DIR', 'x')), 'environment');
    assert.equal(outcomeOf(new LockedError('/run/x.lock', 42)), 'busy');
  });
});
