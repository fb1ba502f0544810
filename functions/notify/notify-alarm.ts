/**
 * One alarm change, end to end: read the event, decide whether it is news,
 * gather the evidence within its budget, publish the e-mail / chat message,
 * then (only then) the webhook.
 *
 * The e-mail must arrive whatever else fails:
 * - missing evidence (an AWS error, the budget spent) is said in the message,
 *   never a reason not to send;
 * - a rich message SNS refuses is followed by the plain one (the alarm's own
 *   facts);
 * - only when SNS refuses both does this throw: Lambda retries the event
 *   twice, then sends it to the function's on-failure destination, the same
 *   topic (serverless.yml), and the notifier-failing alarm notifies the topic
 *   directly;
 * - the webhook runs last, is bounded, and cannot throw.
 */
import { excerpt } from '../../common/errors.ts';
import { describeAwsError } from '../aws/aws-errors.ts';
import { type AlarmChange, parseAlarmEvent } from './alarm-event.ts';
import { type AlarmHistory, type AlarmSpell, alarmSpell } from './alarm-history.ts';
import { classifyAlarm, shouldNotify } from './alarm-kinds.ts';
import { composeNotification, composePlain } from './compose.ts';
import type { DeadLetterPeek } from './dead-letters.ts';
import { Deadline } from './deadline.ts';
import { gatherEvidence } from './evidence.ts';
import { EVIDENCE_LIMITS, WEBHOOK_POLICY, type WebhookPolicy } from './limits.ts';
import type { LogSearch } from './log-search.ts';
import { lookbackMs, type NotifyConfig } from './notify-config.ts';
import type { Publisher } from './publish.ts';
import { deliverWebhook, type WebhookOutcome, type WebhookPorts } from './webhook.ts';

export type NotifierLog = (line: Record<string, unknown>) => void;

export const consoleNotifierLog: NotifierLog = (line) => {
  const text = JSON.stringify(line);
  if (line.level === 'error') console.error(text);
  else console.log(text);
};

export interface NotifyPorts {
  logs: LogSearch;
  history: AlarmHistory;
  deadLetters: DeadLetterPeek | null;
  publisher: Publisher;
  webhook: WebhookPorts | null;
  log: NotifierLog;
  now: () => number;
}

export interface NotifyOptions {
  /** Milliseconds the invocation has left (Lambda's context); the evidence and webhook budgets fit in it. */
  remainingMs?: () => number;
  evidenceBudgetMs?: number;
  webhookPolicy?: WebhookPolicy;
}

export interface NotifyOutcome {
  sent: 'rich' | 'plain' | 'none';
  why: string;
  subject?: string;
  messageId?: string;
  hosts?: number;
  cut?: boolean;
  webhook?: WebhookOutcome;
}

/** Longest one publish may take (the SDK's retries included): a hung call must leave time for the plain one. */
const PUBLISH_MS = 10_000;
/** Time kept back from the evidence for publishing (rich, then perhaps plain) and the webhook. */
const RESERVE_AFTER_EVIDENCE_MS = WEBHOOK_POLICY.totalMs + 5_000;

/** Runs `work` with a signal that fires after `ms`, or sooner when the invocation runs out of time. */
async function bounded<T>(
  ms: number,
  remaining: () => number,
  work: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const deadline = new Deadline(Math.max(1_000, Math.min(ms, remaining() - 1_000)));
  try {
    return await work(deadline.signal);
  } finally {
    deadline.clear();
  }
}

function oneLineError(error: unknown): string {
  const { name, message } = describeAwsError(error);
  return excerpt(`${name}: ${message}`, 300);
}

export async function notifyAlarm(
  event: unknown,
  ports: NotifyPorts,
  config: NotifyConfig,
  options: NotifyOptions = {},
): Promise<NotifyOutcome> {
  const remaining = options.remainingMs ?? (() => Number.POSITIVE_INFINITY);
  const change: AlarmChange = parseAlarmEvent(event);
  const alarm = classifyAlarm(change.alarmName, config.alarmNamePrefix, change.metricNames);
  const base = { alarm: change.alarmName, state: change.state, kind: alarm.kind, eventId: change.eventId };
  const decision = shouldNotify(alarm, {
    state: change.state,
    previousState: change.previous?.state ?? null,
    contributor: change.contributor !== null,
    groupedParent: change.grouped,
  });
  if (decision.decision === 'skip') {
    ports.log({ level: 'info', message: 'alarm change not notified', ...base, why: decision.why });
    return { sent: 'none', why: decision.why };
  }

  const budget = Math.max(
    1_000,
    Math.min(options.evidenceBudgetMs ?? EVIDENCE_LIMITS.budgetMs, remaining() - RESERVE_AFTER_EVIDENCE_MS),
  );
  const deadline = new Deadline(budget);
  const signal = deadline.signal;

  let spell: AlarmSpell | null = null;
  let historyNote: string | null = null;
  if (change.state === 'OK') {
    try {
      spell = await alarmSpell(change, ports.history, signal);
    } catch (error) {
      historyNote = `the alarm history could not be read: ${oneLineError(error)}`;
    }
    if (decision.decision === 'if-alarm-before' && spell !== null && spell.before !== 'ALARM') {
      deadline.clear();
      const why = `${decision.why}; the alarm history shows ${spell.before ?? 'no'} state before`;
      ports.log({ level: 'info', message: 'alarm change not notified', ...base, why });
      return { sent: 'none', why };
    }
  }

  const period = change.periodSeconds ?? config.defaultPeriodSeconds;
  const evidence = await gatherEvidence(
    change,
    alarm,
    { logs: ports.logs, deadLetters: ports.deadLetters },
    {
      monitorLogGroup: config.monitorLogGroup,
      dispatchLogGroup: config.dispatchLogGroup,
      periodMs: period * 1000,
      lookbackMs: lookbackMs(period, config),
    },
    signal,
    ports.now(),
  ).finally(() => deadline.clear());
  if (historyNote !== null) evidence.notes.unshift(historyNote);

  const notification = composeNotification({
    change,
    alarm,
    evidence,
    spell,
    settings: {
      stage: config.stage,
      console: { partition: change.partition, region: change.region === '' ? config.region : change.region },
      monitorLogGroup: config.monitorLogGroup,
      dispatchLogGroup: config.dispatchLogGroup,
      dashboardName: config.dashboardName,
      thresholds: config.thresholds,
    },
  });

  let sent: NotifyOutcome['sent'] = 'rich';
  let messageId: string;
  try {
    messageId = await bounded(PUBLISH_MS, remaining, (signal) =>
      ports.publisher.publish(notification, signal),
    );
  } catch (error) {
    ports.log({
      level: 'error',
      message: 'the notification with evidence was not published; sending the plain one',
      ...base,
      error: oneLineError(error),
    });
    // Throws when SNS refuses this too: Lambda's retries and on-failure destination take over.
    const plain = composePlain(change, config.stage, oneLineError(error));
    messageId = await bounded(PUBLISH_MS, remaining, (signal) => ports.publisher.publishPlain(plain, signal));
    sent = 'plain';
  }

  let webhook: WebhookOutcome | undefined;
  if (ports.webhook !== null && config.webhookParameter !== null) {
    const policy = options.webhookPolicy ?? WEBHOOK_POLICY;
    // On the webhook's own clock, the one its attempts are timed by.
    const deadline = ports.webhook.now() + Math.max(0, Math.min(policy.totalMs, remaining() - 2_000));
    webhook = await deliverWebhook(
      notification.webhook,
      config.webhookParameter,
      ports.webhook,
      policy,
      deadline,
    );
    ports.log({
      level: webhook.delivered ? 'info' : 'error',
      message: webhook.delivered ? 'webhook delivered' : 'webhook failed; the e-mail was sent',
      ...base,
      parameter: config.webhookParameter,
      attempts: webhook.attempts,
      status: webhook.status,
      reason: webhook.reason,
      durationMs: webhook.durationMs,
    });
  }

  ports.log({
    level: 'info',
    message: 'notification sent',
    ...base,
    sent,
    messageId,
    subject: notification.subject,
    hosts: evidence.hosts.length,
    round: evidence.round,
    cut: notification.cut,
    notes: evidence.notes.length,
  });
  return {
    sent,
    why: decision.why,
    subject: notification.subject,
    messageId,
    hosts: evidence.hosts.length,
    cut: notification.cut,
    ...(webhook === undefined ? {} : { webhook }),
  };
}
