/**
 * AWS service limits the code depends on, one definition each. Source:
 * the SSM API reference (GetCommandInvocation, SendCommand), summarised in the
 * project's reference notes on AWS limits.
 */

/** GetCommandInvocation returns only the first 24,000 characters of an invocation's stdout. */
export const SSM_STDOUT_MAX_CHARS = 24_000;
/** GetCommandInvocation returns only the first 8,000 characters of an invocation's stderr. */
export const SSM_STDERR_MAX_CHARS = 8_000;
/** SendCommand accepts 1 to 50 InstanceIds per call. */
export const SEND_COMMAND_MAX_INSTANCE_IDS = 50;
