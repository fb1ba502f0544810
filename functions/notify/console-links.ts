/**
 * Deep links into the CloudWatch console.
 *
 * The console's single-page routes live after `#`, and its log views encode
 * their path parts twice: a log group or stream name is URI-encoded, encoded
 * again, and every `%` of the result written `$` (`/` becomes `$252F`); the
 * query after a log stream (`?start=...&end=...`) is URI-encoded once with `%`
 * written `$` (`$3Fstart$3D...$26end$3D...`). Metric and dashboard routes
 * take names URI-encoded once. (Format as the console writes it in its own
 * address bar; widely documented by users, not by AWS.)
 *
 * Console hosts per partition: aws `https://<region>.console.aws.amazon.com`,
 * aws-cn `https://<region>.console.amazonaws.cn`, aws-us-gov
 * `https://console.amazonaws-us-gov.com`.
 *
 * Only names the stack controls (log groups, dashboard, alarm names) and
 * instance ids that passed INSTANCE_STREAM go into a link: never host text.
 */

export interface ConsoleTarget {
  partition: string;
  region: string;
}

const REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;

/** `https://...console.../cloudwatch/home?region=<region>`, the root every link builds on. */
export function cloudWatchHome({ partition, region }: ConsoleTarget): string {
  if (!REGION.test(region)) throw new Error(`not an AWS region: ${JSON.stringify(region)}`);
  const host =
    partition === 'aws-cn'
      ? `https://${region}.console.amazonaws.cn`
      : partition === 'aws-us-gov'
        ? 'https://console.amazonaws-us-gov.com'
        : `https://${region}.console.aws.amazon.com`;
  return `${host}/cloudwatch/home?region=${region}`;
}

/** A path part of the console's log routes: URI-encoded twice, `%` written `$`. */
export function consolePathPart(name: string): string {
  return encodeURIComponent(encodeURIComponent(name)).replace(/%/g, '$');
}

/** A query of the console's log routes (`?a=1&b=2`): URI-encoded once, `%` written `$`. */
function consoleQuery(params: Record<string, string>): string {
  const query = Object.entries(params)
    .map(([k, v]) => `${k}=${encodeURIComponent(v)}`)
    .join('&');
  return encodeURIComponent(`?${query}`).replace(/%/g, '$');
}

/** One log stream, optionally limited to a time range (epoch ms). */
export function logStreamLink(
  target: ConsoleTarget,
  logGroup: string,
  stream: string,
  range?: { start: number; end: number },
): string {
  const base = `${cloudWatchHome(target)}#logsV2:log-groups/log-group/${consolePathPart(logGroup)}/log-events/${consolePathPart(stream)}`;
  if (range === undefined) return base;
  return `${base}${consoleQuery({ start: String(Math.floor(range.start)), end: String(Math.ceil(range.end)) })}`;
}

export function logGroupLink(target: ConsoleTarget, logGroup: string): string {
  return `${cloudWatchHome(target)}#logsV2:log-groups/log-group/${consolePathPart(logGroup)}`;
}

export function dashboardLink(target: ConsoleTarget, dashboard: string): string {
  return `${cloudWatchHome(target)}#dashboards/dashboard/${encodeURIComponent(dashboard)}`;
}

export function alarmLink(target: ConsoleTarget, alarmName: string): string {
  return `${cloudWatchHome(target)}#alarmsV2:alarm/${encodeURIComponent(alarmName)}`;
}
