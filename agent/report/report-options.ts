/**
 * The `report` command's options: `--html <file>` (required), `--since <ISO
 * time or duration>`, `--resource <target>`, and `--log-dir` from a flag or
 * the config file as check and watch take it. Pure (the clock is passed in).
 */
import { isCalendarDate } from '../../common/calendar-date.ts';
import { InvalidInputError } from '../../common/errors.ts';
import { RESULT_LIMITS } from '../../common/result-contract.ts';
import { DEFAULTS, parsePath } from '../../common/settings.ts';
import { type ParsedArgv, parseArgv, REPORT_FLAGS, VALUE_FLAGS } from '../cli/parse-argv.ts';
import { type ConfigObject, resolveOptions } from '../cli/resolve-options.ts';

export interface ReportOptions {
  html: string;
  since: Date | null;
  resource: string | null;
  logDir: string;
}

const UNITS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const DURATION = /^(\d{1,6})(m|h|d|w)$/;
/** A date, or a date and time with seconds optional and a zone (Z or ±hh:mm). */
const ISO_TIME = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/;
const SINCE_ALLOWED =
  'an ISO 8601 time with its zone (2026-11-30T08:00Z, 2026-11-30T09:00+01:00), a date (2026-11-30, UTC) or a duration back from now: <n>m, <n>h, <n>d or <n>w (30m, 24h, 7d)';

/** `--since`: the earliest round start to show; judged as written, spaces not trimmed (as every flag). */
export function parseSince(value: unknown, now: Date, field = '--since'): Date {
  const text = typeof value === 'string' ? value : '';
  const duration = DURATION.exec(text);
  if (duration !== null) {
    return new Date(now.getTime() - Number(duration[1]) * (UNITS[duration[2] as string] as number));
  }
  const at = ISO_TIME.test(text) && isCalendarDate(text) ? Date.parse(text) : Number.NaN;
  if (!Number.isFinite(at)) throw new InvalidInputError(field, value, SINCE_ALLOWED);
  return new Date(at);
}

/**
 * The options of `report`; check's and watch's measurement flags are refused
 * (they mean nothing here). The config file is judged whole, as for check
 * (readConfigObject), and as the round it drives (`check --config FILE`,
 * what install's service runs; without resources in the file, the smallest
 * round, one resource), so a file the round refuses is refused here too,
 * with the same error.
 */
export function resolveReportOptions(argv: ParsedArgv, config: ConfigObject, now: Date): ReportOptions {
  for (const flag of VALUE_FLAGS) {
    const value = argv.values[flag];
    if (flag !== 'log-dir' && value !== undefined) {
      throw new InvalidInputError(
        `--${flag}`,
        value,
        `only with check or watch; report takes ${REPORT_FLAGS.map((f) => `--${f}`).join(', ')}, --log-dir and --config`,
      );
    }
  }
  const [installFlag] = Object.entries(argv.install);
  if (installFlag !== undefined) {
    throw new InvalidInputError(`--${installFlag[0]}`, installFlag[1], 'only with install or uninstall');
  }
  if (argv.switches['no-enable']) throw new InvalidInputError('option', '--no-enable', 'only with install');
  if (argv.switches.json) {
    throw new InvalidInputError(
      '--json',
      undefined,
      'only with check or watch: report writes an HTML file (--html)',
    );
  }
  const { html, since, resource } = argv.report;
  if (html === undefined)
    throw new InvalidInputError(
      '--html',
      undefined,
      'the file to write the report to, e.g. --html report.html',
    );
  // Without resources in the file, as the smallest round any `check --resources X --config FILE`
  // runs (one resource): what that refuses (a round longer than the bound), every check refuses.
  resolveOptions(
    'check',
    parseArgv(config.resources === undefined ? ['check', '--resources', '127.0.0.1'] : ['check']),
    config,
  );
  const logDir = argv.values['log-dir'] ?? config['log-dir'];
  return {
    html: parsePath(html, '--html'),
    since: since === undefined ? null : parseSince(since, now),
    resource: resource === undefined ? null : parseResourceName(resource),
    logDir:
      logDir === undefined
        ? DEFAULTS.logDir
        : parsePath(logDir, argv.values['log-dir'] === undefined ? 'config log-dir' : '--log-dir'),
  };
}

/** As written (a resource with spaces around it is none the history has: writeReport names those it has). */
function parseResourceName(value: string): string {
  if (value.trim() === '' || value.length > RESULT_LIMITS.maxTargetChars) {
    throw new InvalidInputError('--resource', value, 'a resource as the rounds list it (one of --resources)');
  }
  return value;
}
