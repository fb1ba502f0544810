/**
 * The Lambda's EMF metrics, written to a local file instead of stdout: the
 * same createEmfMetrics, so the lines are exactly the ones the Lambda prints.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { createEmfMetrics, type MetricsOptions, type RoundMetrics } from '../metrics/emit-metrics.ts';

export interface FileMetrics extends RoundMetrics {
  readonly path: string;
  /** EMF lines this instance wrote, in order. */
  lines(): string[];
}

export function createFileEmfMetrics(options: MetricsOptions, path: string): FileMetrics {
  const written: string[] = [];
  const write = (line: string): void => {
    mkdirSync(dirname(path), { recursive: true });
    appendFileSync(path, `${line}\n`);
    written.push(line);
  };
  return { ...createEmfMetrics({ ...options, write }), path, lines: () => [...written] };
}
