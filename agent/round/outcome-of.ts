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
import { MonitorError } from '../../common/errors.ts';
import type { Outcome } from '../../common/result-schema.ts';

/** What only a fault of the agent (or the collector's side, never a round) can cause. */
const INTERNAL = [
  // The agent's own document failing its schema.
  'E_RESULT_DOCUMENT',
  // The SSM document's script and the collector's codes.
  'E_AGENT_INTEGRITY',
  'E_LOG_WRITE',
  'E_COLLECT_GAVE_UP',
  'E_INSTANCE_REFUSED',
  'E_INTERNAL',
] as const;
/** The user's input, the --config file included: fixing it is the user's move. */
const INVALID_INPUT = ['E_INVALID_INPUT', 'E_CONFIG_FILE'] as const;
/** This host: its tools (mtr missing, broken, not permitted), its files, its network. */
const ENVIRONMENT = [
  'E_MTR_MISSING',
  'E_MTR_PERMISSION',
  'E_MTR_FAILED',
  'E_MTR_TIMEOUT',
  'E_MTR_OUTPUT',
  'E_RESOLVE',
  'E_LOG_DIR',
  'E_PROCESS',
  'E_PROCESS_TIMEOUT',
  'E_GATEWAY',
  'E_PROBE',
  'E_NODE_MISSING',
  'E_SSM_AGENT_VERSION',
  // install/uninstall: this host's systemd (missing, refusing, not root).
  'E_INSTALL',
  // The monitor host's first-boot set-up (reported by the SSM document's script).
  'E_MONITOR_HOST_SETUP',
  // report --html: the output file the operator named cannot be written.
  'E_REPORT_FILE',
] as const;
type Decided =
  | (typeof INTERNAL)[number]
  | (typeof INVALID_INPUT)[number]
  | (typeof ENVIRONMENT)[number]
  | 'E_LOCKED';
/** Fails to compile when an error code is in none of the lists above. */
const everyCodeDecided: [Exclude<ErrorCode, Decided>] extends [never] ? true : never = true;
void everyCodeDecided;

/** The outcome of a round that `error` ended; anything but a MonitorError is a fault of the agent. */
export function outcomeOf(error: unknown): Outcome {
  if (!(error instanceof MonitorError)) return 'internal-error';
  const code: string = error.code;
  if (code === 'E_LOCKED') return 'busy';
  if ((INVALID_INPUT as readonly string[]).includes(code)) return 'invalid-input';
  if ((ENVIRONMENT as readonly string[]).includes(code)) return 'environment';
  return 'internal-error';
}
