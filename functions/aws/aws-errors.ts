/**
 * Reading AWS SDK v3 errors: their name (the service's error code), and a
 * plain-data description for logs and records, so a failure the collector
 * survives still says what AWS answered (an AccessDeniedException on every
 * call is visible at the first one, not at the round's deadline).
 */
import { clipText } from '../../common/clip-text.ts';

export function awsErrorName(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'name' in error && typeof error.name === 'string'
    ? error.name
    : undefined;
}

/** The error's name for records (`errorName`): the AWS error code, the JavaScript error name, else `Error`. */
export function errorNameOf(error: unknown): string {
  return awsErrorName(error) ?? 'Error';
}

/** What a log line or a record says about a failed AWS call. */
export interface AwsErrorSummary {
  /** The AWS error code (SDK error name), or the JavaScript error name. */
  name: string;
  message: string;
  httpStatusCode?: number;
  requestId?: string;
  /** SDK attempts made before giving up (the client's retry strategy). */
  attempts?: number;
}

export function describeAwsError(error: unknown): AwsErrorSummary {
  const name = errorNameOf(error);
  const message = error instanceof Error ? error.message : String(error);
  const summary: AwsErrorSummary = { name, message };
  const metadata =
    typeof error === 'object' && error !== null && '$metadata' in error
      ? (error.$metadata as { httpStatusCode?: unknown; requestId?: unknown; attempts?: unknown } | undefined)
      : undefined;
  if (typeof metadata?.httpStatusCode === 'number') summary.httpStatusCode = metadata.httpStatusCode;
  if (typeof metadata?.requestId === 'string') summary.requestId = metadata.requestId;
  if (typeof metadata?.attempts === 'number') summary.attempts = metadata.attempts;
  return summary;
}

/** `Name: message`, for one-line reasons in records and job bodies. */
export function oneLine(error: unknown, max = 300): string {
  const { name, message } = describeAwsError(error);
  const text = message.startsWith(name) ? message : `${name}: ${message}`;
  return clipText(text, max);
}

/**
 * Errors that every further call of the same kind will get too: no permission,
 * bad or expired credentials, a log group that does not exist. Retrying them
 * host after host only multiplies the calls; they stop a job's writes at once.
 */
const AFFECTS_EVERY_CALL = new Set([
  'AccessDeniedException',
  'AccessDenied',
  'UnauthorizedOperation',
  'UnrecognizedClientException',
  'InvalidClientTokenId',
  'ExpiredTokenException',
  'ExpiredToken',
  'InvalidSignatureException',
]);

export function affectsEveryCall(error: unknown): boolean {
  return AFFECTS_EVERY_CALL.has(awsErrorName(error) ?? '');
}

/**
 * Whether a failed call may still have taken effect: a timeout, a lost
 * connection or a 5xx can hide a request the service processed. A 4xx
 * (throttled, denied, invalid) was refused before anything happened.
 */
export function mayHaveTakenEffect(error: unknown): boolean {
  // SDK service errors say which side failed; a client fault was refused.
  const fault = typeof error === 'object' && error !== null && '$fault' in error ? error.$fault : undefined;
  if (fault === 'client') return false;
  const { httpStatusCode } = describeAwsError(error);
  return httpStatusCode === undefined || httpStatusCode >= 500;
}
