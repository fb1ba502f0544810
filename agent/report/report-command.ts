/**
 * `report --html <file>`: reads the round history from the log directory (as
 * every file there is read: held directory handle, as its acting user, no
 * links; history-store.ts), drawing the series while it reads
 * (series-from-store.ts: memory bounded by what the page charts, not by the
 * store, which a non-root user may have crafted), and writes the page (render-report.ts) to the
 * operator's file atomically: a temporary file beside it created with
 * O_EXCL | O_NOFOLLOW, fsync, rename(2). A symbolic link, directory or special
 * file at the given name is refused, never followed or replaced. A file it
 * replaces keeps its permission bits, and its owner and group when the agent
 * runs as root (a page made private with chmod 600 stays private); a new one
 * gets 0644 less the umask.
 *
 * A history with no rounds for the options (none yet, none since --since)
 * still gives a page, which says so, and exit 0: a page published on a
 * schedule then never goes stale. An unknown --resource is bad input (exit 2),
 * naming the resources the history has.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { errnoOf } from '../../common/errno.ts';
import { EnvironmentError, InvalidInputError } from '../../common/errors.ts';
import { escapeControlCharacters } from '../../common/printable.ts';
import { describeType, openDirectory, PathWalkError } from '../files/dir-handle.ts';
import { openLogDirForReading } from '../files/log-dir.ts';
import { writeFileAtomic } from '../files/write-atomic.ts';
import { HISTORY_FILE, openStoredHistory, type StoredHistory } from '../history/history-store.ts';
import { renderReport } from './render-report.ts';
import type { ReportOptions } from './report-options.ts';
import { resourcesLeftOutNote } from './report-series.ts';
import { type StoredSeries, seriesFromStore } from './series-from-store.ts';

export interface ReportEnv {
  hostname: string;
  now: Date;
}

export interface ReportDone {
  file: string;
  bytes: number;
  rounds: number;
  resources: number;
  /** Said on stderr: skipped lines, no data, resources left out. */
  notes: string[];
}

/** Writes the report. Throws E_INVALID_INPUT (exit 2), E_LOG_DIR or E_REPORT_FILE (exit 3). */
export function writeReport(options: ReportOptions, env: ReportEnv): ReportDone {
  const logDir = openLogDirForReading(options.logDir);
  let stored: StoredHistory;
  let drawn: StoredSeries;
  try {
    stored = openStoredHistory(logDir);
    try {
      drawn = seriesFromStore(stored, options);
    } finally {
      stored.close();
    }
  } finally {
    logDir.close();
  }
  if (!drawn.resourceFound) {
    throw new InvalidInputError(
      '--resource',
      options.resource ?? '',
      resourcesAllowed(drawn.known, drawn.knownCount),
    );
  }
  const notes: string[] = [];
  const historyFile = path.join(logDir.path, HISTORY_FILE);
  if (drawn.skipped > 0)
    notes.push(`${drawn.skipped} damaged line(s) or entries of ${historyFile} were skipped.`);
  if (stored.truncated)
    notes.push('The history is larger than the report reads; its oldest rounds are left out.');
  notes.push(...stored.notes);
  if (drawn.rounds === 0) {
    notes.push(
      drawn.newestAt === null
        ? `No rounds in ${historyFile} yet.`
        : `No rounds since ${options.since?.toISOString()}; the newest was at ${drawn.newestAt}.`,
    );
  }
  const { series } = drawn;
  const page = renderReport(
    {
      rounds: [],
      hostname: env.hostname,
      generatedAt: env.now,
      logDir: logDir.path,
      since: options.since,
      resource: options.resource,
      notes,
    },
    series,
  );
  writeOutput(options.html, page);
  // On the page already (renderReport); said on stderr too.
  const leftOut = series === null ? null : resourcesLeftOutNote(series);
  if (leftOut !== null) notes.push(leftOut);
  return {
    file: path.resolve(options.html),
    bytes: Buffer.byteLength(page),
    rounds: drawn.rounds,
    resources: drawn.resources,
    notes: notes.map(escapeControlCharacters),
  };
}

function resourcesAllowed(listed: readonly string[], count: number): string {
  if (count === 0) return 'a resource in the history, which has no rounds yet';
  const shown = listed.map((t) => JSON.stringify(escapeControlCharacters(t)));
  const more = count > listed.length ? ` and ${count - listed.length} more` : '';
  return `one of the resources in the history: ${shown.join(', ')}${more}`;
}

/** The page to `file`, atomically, never through a link at its name. */
function writeOutput(file: string, page: string): void {
  const absolute = path.resolve(file);
  const shown = `--html ${JSON.stringify(file)}`;
  const name = path.basename(absolute);
  if (name === '') throw new InvalidInputError('--html', file, 'a file name, e.g. report.html');
  let dir: ReturnType<typeof openDirectory>;
  try {
    dir = openDirectory(path.dirname(absolute));
  } catch (error) {
    const detail = error instanceof PathWalkError ? error.message : String(error);
    throw new EnvironmentError(
      'E_REPORT_FILE',
      `${shown}: its directory cannot be used (${detail})`,
      absolute,
    );
  }
  try {
    let seen: fs.Stats | null = null;
    try {
      seen = fs.lstatSync(dir.entry(name));
    } catch (error) {
      const code = errnoOf(error);
      if (code !== 'ENOENT') {
        throw new EnvironmentError(
          'E_REPORT_FILE',
          `${shown} cannot be looked at (${code ?? String(error)})`,
          absolute,
        );
      }
    }
    if (seen !== null && !seen.isFile()) {
      throw new InvalidInputError(
        '--html',
        file,
        `a regular file or a new name (it is ${describeType(seen)}, which the report neither follows nor replaces)`,
      );
    }
    writeFileAtomic(
      {
        entry: (n) => dir.entry(n),
        sync: () => dir.sync(),
        run: (what, work) => {
          try {
            return work();
          } catch (error) {
            const code = errnoOf(error) ?? 'error';
            throw new EnvironmentError(
              'E_REPORT_FILE',
              `${shown}: ${what} failed (${code}: ${dir.explain(error)}); choose a place the agent may write`,
              absolute,
            );
          }
        },
      },
      name,
      page,
      // The operator's file: replacing it keeps its mode, and its owner when root writes it.
      { keepOwner: true },
    );
  } finally {
    dir.close();
  }
}
