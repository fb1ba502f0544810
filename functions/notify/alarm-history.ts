/**
 * When did the alarm go into ALARM? An OK notification says how long the
 * trouble lasted. The event answers when the alarm leaves ALARM for OK
 * directly (`previousState.timestamp` is when it entered ALARM); otherwise
 * (ALARM, then INSUFFICIENT_DATA, then OK; or a contributor, whose events
 * carry no previous state) the alarm history does: DescribeAlarmHistory,
 * newest first, state updates only (`StateUpdate`, or
 * `AlarmContributorStateUpdate` with the contributor's id), each item's
 * `HistoryData` JSON giving `oldState.stateValue` / `newState.stateValue`
 * (CloudWatch API reference, AlarmHistoryItem; the summary "Alarm updated from
 * OK to ALARM" is read when the data is not).
 */
import { type CloudWatchClient, DescribeAlarmHistoryCommand } from '@aws-sdk/client-cloudwatch';
import type { AlarmChange } from './alarm-event.ts';
import type { AlarmState } from './alarm-kinds.ts';
import { EVIDENCE_LIMITS } from './limits.ts';

export interface StateTransition {
  at: number;
  to: AlarmState | null;
}

export interface AlarmHistory {
  /** Transitions before `before` (epoch ms), newest first, at most `EVIDENCE_LIMITS.historyPages` pages. */
  transitions(
    query: { alarmName: string; contributorId: string | null; before: number },
    signal: AbortSignal,
  ): Promise<StateTransition[]>;
}

const STATES = ['OK', 'ALARM', 'INSUFFICIENT_DATA'] as const;
/** History is kept for 30 days (DescribeAlarmHistory API reference). */
const HISTORY_DAYS = 30;

function stateIn(value: unknown): AlarmState | null {
  return typeof value === 'string' && (STATES as readonly string[]).includes(value)
    ? (value as AlarmState)
    : null;
}

/** The state an alarm history item moved to, or null when it does not say. */
export function transitionTarget(data: string | undefined, summary: string | undefined): AlarmState | null {
  if (data !== undefined && data.length <= 100_000) {
    try {
      const parsed = JSON.parse(data) as { newState?: { stateValue?: unknown } };
      const to = stateIn(parsed?.newState?.stateValue);
      if (to !== null) return to;
    } catch {
      // fall back to the summary
    }
  }
  const match = /\bto (OK|ALARM|INSUFFICIENT_DATA)\b/.exec(summary ?? '');
  return stateIn(match?.[1]);
}

export function createAlarmHistory(client: CloudWatchClient): AlarmHistory {
  return {
    async transitions(query, signal) {
      const found: StateTransition[] = [];
      let nextToken: string | undefined;
      for (let page = 0; page < EVIDENCE_LIMITS.historyPages; page++) {
        const answer = await client.send(
          new DescribeAlarmHistoryCommand({
            AlarmName: query.alarmName,
            ...(query.contributorId === null
              ? { HistoryItemType: 'StateUpdate' }
              : { HistoryItemType: 'AlarmContributorStateUpdate', AlarmContributorId: query.contributorId }),
            StartDate: new Date(query.before - HISTORY_DAYS * 86_400_000),
            EndDate: new Date(query.before),
            ScanBy: 'TimestampDescending',
            MaxRecords: 50,
            ...(nextToken === undefined ? {} : { NextToken: nextToken }),
          }),
          { abortSignal: signal },
        );
        for (const item of answer.AlarmHistoryItems ?? []) {
          const at = item.Timestamp?.getTime();
          if (at === undefined || !Number.isFinite(at)) continue;
          found.push({ at, to: transitionTarget(item.HistoryData, item.HistorySummary) });
        }
        nextToken = answer.NextToken;
        if (nextToken === undefined) break;
      }
      return found.sort((a, b) => b.at - a.at);
    },
  };
}

/** When the trouble that just ended began, and how that is known. */
export interface AlarmSpell {
  /** Epoch ms the alarm (or contributor) entered ALARM; null when unknown. */
  since: number | null;
  source: 'event' | 'history' | 'unknown';
  /** The last settled state before this change: ALARM means this OK is a recovery. */
  before: AlarmState | null;
}

/**
 * For an OK change: when the alarm last entered ALARM before it, from the
 * event when it says so, else from the history (the change itself, which may
 * already be in the history, is skipped). History errors are the caller's.
 */
export async function alarmSpell(
  change: Pick<AlarmChange, 'alarmName' | 'at' | 'previous' | 'contributor'>,
  history: AlarmHistory,
  signal: AbortSignal,
): Promise<AlarmSpell> {
  if (change.previous?.state === 'ALARM' && change.previous.at !== null) {
    return { since: change.previous.at, source: 'event', before: 'ALARM' };
  }
  const transitions = await history.transitions(
    { alarmName: change.alarmName, contributorId: change.contributor?.id ?? null, before: change.at },
    signal,
  );
  for (const t of transitions) {
    // The change being notified (and anything as late) is not "before".
    if (t.at >= change.at - 1_000) continue;
    if (t.to === 'ALARM') return { since: t.at, source: 'history', before: 'ALARM' };
    if (t.to === 'OK') return { since: null, source: 'history', before: 'OK' };
  }
  return { since: null, source: 'unknown', before: null };
}

/** `2 d 3 h`, `1 h 25 min`, `25 min`, `45 s`: the largest two units. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const d = Math.floor(s / 86_400);
  const h = Math.floor((s % 86_400) / 3_600);
  const m = Math.floor((s % 3_600) / 60);
  if (d > 0) return h > 0 ? `${d} d ${h} h` : `${d} d`;
  if (h > 0) return m > 0 ? `${h} h ${m} min` : `${h} h`;
  if (m > 0) return `${m} min`;
  return `${s} s`;
}
