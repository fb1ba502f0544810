/**
 * Reading records back from CloudWatch Logs with FilterLogEvents.
 *
 * Why FilterLogEvents and not Logs Insights: a notification needs a few
 * hundred records of one round at most, found by a filter pattern
 * (`{ ($.record = "result") && ($.summary.flagged > 0) }`), and FilterLogEvents
 * returns whole events in one or a few synchronous calls with no charge per
 * byte scanned, where an Insights query is billed per GB scanned ($0.005/GB),
 * runs asynchronously (StartQuery, then GetQueryResults until done: seconds
 * at best) and needs GetQueryResults, which has no resource-level permission.
 *
 * Bounded: at most EVIDENCE_LIMITS.maxPages pages (FilterLogEvents may return
 * empty pages with a nextToken while it scans a large group) and `maxEvents`
 * events; every call carries the caller's abort signal, so the whole search
 * ends with the evidence budget. Events arrive oldest first.
 */
import { type CloudWatchLogsClient, FilterLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { EVIDENCE_LIMITS } from './limits.ts';

export interface LogQuery {
  logGroupName: string;
  /** A CloudWatch Logs filter pattern (record-patterns.ts). */
  pattern: string;
  /** Epoch ms, inclusive. */
  start: number;
  end: number;
  /** Only these streams (at most 100). */
  streams?: readonly string[];
  maxEvents: number;
}

export interface FoundEvent {
  stream: string;
  timestamp: number;
  message: string;
}

export interface LogSearchResult {
  events: FoundEvent[];
  /** False when the page or event bound stopped the search before the end. */
  complete: boolean;
}

export interface LogSearch {
  search(query: LogQuery, signal: AbortSignal): Promise<LogSearchResult>;
}

export function createLogSearch(client: CloudWatchLogsClient): LogSearch {
  return {
    async search(query, signal) {
      const streams = query.streams?.slice(0, EVIDENCE_LIMITS.maxStreams);
      const events: FoundEvent[] = [];
      let nextToken: string | undefined;
      for (let page = 0; page < EVIDENCE_LIMITS.maxPages; page++) {
        const answer = await client.send(
          new FilterLogEventsCommand({
            logGroupName: query.logGroupName,
            filterPattern: query.pattern,
            startTime: Math.floor(query.start),
            endTime: Math.ceil(query.end),
            limit: Math.max(1, Math.min(EVIDENCE_LIMITS.pageEvents, query.maxEvents - events.length)),
            ...(streams === undefined || streams.length === 0 ? {} : { logStreamNames: [...streams] }),
            ...(nextToken === undefined ? {} : { nextToken }),
          }),
          { abortSignal: signal },
        );
        for (const e of answer.events ?? []) {
          if (typeof e.logStreamName !== 'string' || typeof e.message !== 'string') continue;
          events.push({ stream: e.logStreamName, timestamp: e.timestamp ?? 0, message: e.message });
        }
        nextToken = answer.nextToken;
        if (nextToken === undefined) return { events, complete: true };
        if (events.length >= query.maxEvents)
          return { events: events.slice(0, query.maxEvents), complete: false };
      }
      return { events, complete: false };
    },
  };
}
