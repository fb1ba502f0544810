/**
 * What an error that ended a round before it could complete means for the
 * round: its outcome, and so the agent's exit code (EXIT_CODES). Every error
 * code is decided here (the compiler checks none is missed), so a new code
 * cannot fall into `internal-error` unnoticed.
 *
 * A round ends early only for failures of the whole host or of its input; a
 * single path's failure (mtr failing for one resource, a name that does not
 * resolve) leaves that resource unmeasured instead. So an mtr error that
 * reaches this point is this host's mtr (`mtr --version` failing, hanging or
 * printing nonsense: present but broken or not permitted) and is `environment`,
 * like mtr missing. `internal-error` is kept for what only a fault of the agent
 * itself can cause.
 */
import type { ErrorCode } from '../../common/errors.ts';
import { LockedError, MonitorError } from '../../common/errors.ts';
import type { Outcome } from '../../common/result-schema.ts';

const OUTCOME_OF_CODE: Readonly<Record<ErrorCode, Outcome>> = {
  E_INVALID_INPUT: 'invalid-input',
  // The file the user named with --config: fixing it is the user's move, as with a bad flag.
  E_CONFIG_FILE: 'invalid-input',
  E_MTR_MISSING: 'environment',
  E_MTR_PERMISSION: 'environment',
  E_MTR_FAILED: 'environment',
  E_MTR_TIMEOUT: 'environment',
  E_MTR_OUTPUT: 'environment',
  E_RESOLVE: 'environment',
  E_LOG_DIR: 'environment',
  E_LOCKED: 'busy',
  E_PROCESS: 'environment',
  E_PROCESS_TIMEOUT: 'environment',
  E_GATEWAY: 'environment',
  E_PROBE: 'environment',
  // The agent's own document failing its schema is the agent's fault.
  E_RESULT_DOCUMENT: 'internal-error',
  E_NODE_MISSING: 'environment',
  E_SSM_AGENT_VERSION: 'environment',
  // The SSM document's script and the collector's codes: never an agent's round.
  E_AGENT_INTEGRITY: 'internal-error',
  E_LOG_WRITE: 'internal-error',
  E_COLLECT_GAVE_UP: 'internal-error',
  E_INSTANCE_REFUSED: 'internal-error',
  E_INTERNAL: 'internal-error',
};

/** The outcome of a round that `error` ended; anything but a MonitorError is a fault of the agent. */
export function outcomeOf(error: unknown): Outcome {
  if (error instanceof LockedError) return 'busy';
  if (!(error instanceof MonitorError)) return 'internal-error';
  return OUTCOME_OF_CODE[error.code] ?? 'internal-error';
}
