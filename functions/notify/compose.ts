/**
 * Turns an alarm change and its evidence into what is sent:
 *
 * - `subject`: the e-mail subject, per alarm kind (at most 100 ASCII characters);
 * - `email`: plain text, at most NOTIFY_LIMITS.emailMaxBytes UTF-8 bytes. Hosts
 *   are shown most severe first: in full while the budget lasts, then one line
 *   each, then counted; the message says when and what it cut;
 * - `chat`: an Amazon Q Developer (AWS Chatbot) custom notification for Slack
 *   and Microsoft Teams ({ version, source: "custom", content: { textType:
 *   "client-markdown", title, description, nextSteps, keywords }, metadata:
 *   { threadId, summary } }; "Custom notifications" in its administrator
 *   guide): plain text published to a topic is dropped by the chat
 *   integration, only this form is shown;
 * - `webhook`: a JSON document for the optional webhook.
 *
 * Host values pass ./safe-text.ts on the way in; links are built only from the
 * stack's names and checked instance ids (./console-links.ts).
 */
import { stringifyPrintable } from '../../common/printable.ts';
import type { AlarmChange } from './alarm-event.ts';
import { type AlarmSpell, formatDuration } from './alarm-history.ts';
import type { KnownAlarm } from './alarm-kinds.ts';
import {
  alarmLink,
  type ConsoleTarget,
  dashboardLink,
  logGroupLink,
  logStreamLink,
} from './console-links.ts';
import type { Evidence } from './evidence.ts';
import { anomalyInstance, roundStartOf } from './evidence.ts';
import type { HostRecord } from './host-records.ts';
import {
  fmtMs,
  fmtPct,
  hostBrief,
  hostDetail,
  hostnameOf,
  mtrExcerpt,
  resourceBrief,
  type Thresholds,
  thresholdsOf,
  tunnelText,
} from './host-view.ts';
import { NOTIFY_LIMITS } from './limits.ts';
import { asciiSubject, chatCode, chatPlain, cutBytes, show, utf8Bytes } from './safe-text.ts';

export interface ComposeSettings {
  stage: string;
  console: ConsoleTarget;
  monitorLogGroup: string;
  dispatchLogGroup: string;
  dashboardName: string;
  thresholds: Thresholds;
}

export interface ComposeInput {
  change: AlarmChange;
  alarm: KnownAlarm;
  evidence: Evidence;
  /** For an OK: when the trouble began. */
  spell: AlarmSpell | null;
  settings: ComposeSettings;
}

export interface Notification {
  subject: string;
  email: string;
  /** The chat custom notification, JSON. */
  chat: string;
  /** The webhook body, JSON. */
  webhook: string;
  /** The e-mail had to leave hosts out or shorten them. */
  cut: boolean;
}

export const NOTIFICATION_SCHEMA = 'cloudconnexa-monitor/notification@1';

/** `2026-11-26 17:11:12 UTC`. */
export function utc(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

function recoveredAfter(input: ComposeInput): string | null {
  const { change, spell } = input;
  if (change.state !== 'OK' || spell === null || spell.since === null) return null;
  return formatDuration(change.at - spell.since);
}

/** Hosts of an OK that went quiet for maintenance (maintenanceQuiet). */
export interface MaintenanceQuiet {
  /** Their latest records at the change, each in a window. */
  hosts: HostRecord[];
  /** Every host the change is about is one, and all of them are known: the OK is no recovery at all. */
  all: boolean;
}

/**
 * For an OK: the hosts it is about (the host a host alarm watches, else the
 * hosts affected before) whose latest record at the change
 * (Evidence.atChange: what the alarm saw, not what came after) puts them in
 * a maintenance window still open at the change, as the collector noted it
 * (a host's own document cannot: host-records.ts). Such a host is measured and recorded but written
 * into none of the metrics the alarms watch (functions/metrics/emit-metrics.ts),
 * so its alarm goes quiet when the window opens, whatever its path does: that
 * is not a recovery, and is not announced as one. `all` only when every host
 * the alarm was about is known (none left out of `before` by the listing
 * bound, no search cut short) and in a window. Null when none is.
 */
export function maintenanceQuiet(input: ComposeInput): MaintenanceQuiet | null {
  const { change, evidence } = input;
  if (change.state !== 'OK') return null;
  const host = subjectHost(input);
  const about = new Set(host !== null ? [host] : evidence.before.map((r) => r.instanceId));
  // A window that closed before the change quieted nothing at it: such a host has gone silent since.
  const openAtChange = (r: HostRecord): boolean => Date.parse(r.maintenanceUntil ?? '') > change.at;
  const hosts = evidence.atChange.filter((r) => about.has(r.instanceId) && openAtChange(r));
  if (hosts.length === 0) return null;
  const known = !evidence.incomplete && (host !== null || evidence.beforeTotal <= evidence.before.length);
  return { hosts, all: known && new Set(hosts.map((r) => r.instanceId)).size === about.size };
}

/** `until 2026-12-01 18:00:00 UTC`, or the record's text when it is no time. */
function untilText(r: HostRecord): string {
  const at = Date.parse(r.maintenanceUntil ?? '');
  return `until ${Number.isFinite(at) ? utc(at) : show(r.maintenanceUntil, 40)}`;
}

/** The subject line, per alarm kind (see the module comment). */
export function subjectOf(input: ComposeInput): string {
  const { change, alarm, evidence, settings } = input;
  const n = Math.max(evidence.total, evidence.hosts.length);
  const host = subjectHost(input);
  const tag = `[CloudConnexa ${settings.stage}]`;
  const t = settings.thresholds;
  let what: string;
  if (change.state === 'OK') {
    const after = recoveredAfter(input);
    const whose = host ?? (alarm.kind === 'latency-anomaly' ? 'fleet' : null);
    const who = whose === null ? alarm.title : `${whose} ${alarm.title}`;
    what = maintenanceQuiet(input)?.all
      ? `${who}: quiet for maintenance`
      : after === null
        ? `${who}: OK again`
        : `${who}: recovered after ${after}`;
  } else if (change.state === 'INSUFFICIENT_DATA') {
    what = alarm.kind === 'monitoring-blind' ? 'monitoring blind: no round ran' : `${alarm.title}: no data`;
  } else {
    switch (alarm.kind) {
      case 'hosts-flagged':
        what = n > 0 ? `${plural(n, 'host')} flagged for latency or loss` : alarm.title;
        break;
      case 'worst-host-latency':
        what = `${host ?? 'a host'} latency above ${t.latencyMs} ms`;
        break;
      case 'worst-host-loss':
        what = `${host ?? 'a host'} loss above ${t.lossPct} %`;
        break;
      case 'monitoring-blind':
        what = n > 0 ? `monitoring blind: ${plural(n, 'host')} not checked` : 'monitoring blind';
        break;
      case 'dispatch-failing':
        what = 'dispatch failing: no round sent';
        break;
      case 'dead-letter':
        what =
          evidence.deadLetters.length > 0
            ? `${plural(evidence.deadLetters.length, 'collection job')} in the dead-letter queue`
            : alarm.title;
        break;
      case 'tunnels-down':
        what = n > 0 ? `${plural(n, 'tunnel')} down` : alarm.title;
        break;
      case 'path-changes':
        what = n > 0 ? `paths changed on ${plural(n, 'host')}` : alarm.title;
        break;
      case 'latency-anomaly':
        what = `${host ?? 'fleet'} ${alarm.title}`;
        break;
      default:
        what = change.alarmName;
    }
  }
  return asciiSubject(`${change.state}: ${what} ${tag}`, NOTIFY_LIMITS.snsSubjectMaxChars);
}

/** The contributor's instance id, when the change is about one host. */
function contributorHost(input: ComposeInput): string | null {
  const id = input.change.contributor?.attributes.InstanceId;
  return id !== undefined && /^(i|mi)-[0-9a-f]{8,17}$/.test(id) ? id : null;
}

/** The host a change is about: a contributor's, or the one a host latency anomaly alarm watches. */
function subjectHost(input: ComposeInput): string | null {
  return (
    contributorHost(input) ?? (input.alarm.kind === 'latency-anomaly' ? anomalyInstance(input.change) : null)
  );
}

function streamLink(settings: ComposeSettings, r: HostRecord): string {
  const start = (r.roundId === null ? null : roundStartOf(r.roundId)) ?? r.at - 600_000;
  return logStreamLink(settings.console, settings.monitorLogGroup, r.instanceId, {
    start: start - 60_000,
    end: r.at + 60_000,
  });
}

/** The lines above the hosts: what changed, when, CloudWatch's reason, how long it lasted. */
function headerLines(input: ComposeInput): string[] {
  const { change, alarm, settings, spell } = input;
  const lines = [
    `${change.state}: ${show(alarm.kind === 'other' ? change.alarmName : alarm.title, 120)}`,
    `Stage ${show(settings.stage, 40)}, ${settings.console.region}${change.account === '' ? '' : `, account ${show(change.account, 12)}`}`,
    '',
  ];
  if (change.description !== null && change.description !== '') lines.push(show(change.description, 600), '');
  lines.push(`Alarm:      ${show(change.alarmName, 255)}`);
  const from = change.previous === null ? '' : `${change.previous.state} -> `;
  lines.push(`Changed:    ${from}${change.state} at ${utc(change.at)}`);
  if (change.contributor !== null) {
    const attributes = Object.entries(change.contributor.attributes)
      .slice(0, 5)
      .map(([k, v]) => `${show(k, 40)}=${show(v, 80)}`)
      .join(', ');
    lines.push(`Host:       ${attributes === '' ? show(change.contributor.id, 40) : attributes}`);
  }
  const watched = alarm.kind === 'latency-anomaly' ? anomalyInstance(change) : null;
  if (watched !== null) lines.push(`Host:       InstanceId=${watched}`);
  if (change.reason !== '') lines.push(`CloudWatch: ${show(change.reason, 600)}`);
  if (alarm.kind === 'latency-anomaly' && change.state === 'ALARM') {
    lines.push(
      '',
      `CloudWatch anomaly detection: ${watched === null ? "the fleet's typical host latency" : "this host's latency"} is above`,
      'the band its model expects from the past weeks (hourly, daily and weekly patterns), though it may be',
      'below the flag thresholds. The band is on the alarm page (link below).',
    );
  }
  const quiet = maintenanceQuiet(input);
  if (quiet?.all) {
    const one = quiet.hosts.length === 1 ? quiet.hosts[0] : undefined;
    const since = spell?.since ?? null;
    lines.push(
      '',
      one !== undefined
        ? `Not a recovery: ${one.instanceId} is in a maintenance window (${untilText(one)}).`
        : `Not a recovery: the ${plural(quiet.hosts.length, 'host')} it was about are in a maintenance window.`,
      'A host in a window is measured and recorded, but kept out of the metrics this alarm watches,',
      'so the alarm went quiet; whether the path recovered shows in the latest records below.',
      ...(since === null ? [] : [`In ALARM since ${utc(since)} (${formatDuration(change.at - since)}).`]),
    );
  } else if (change.state === 'OK') {
    const after = recoveredAfter(input);
    if (after !== null && spell?.since !== null && spell !== null) {
      lines.push('', `Recovered after ${after} (in ALARM since ${utc(spell.since ?? change.at)}).`);
    } else {
      lines.push(
        '',
        'Back to OK; when it went into ALARM is not known (no ALARM in the alarm history read).',
      );
    }
    if (quiet !== null) {
      lines.push(
        `Not recovered but in a maintenance window, out of this alarm's metrics: ${quiet.hosts
          .slice(0, 10)
          .map((r) => `${r.instanceId} (${untilText(r)})`)
          .join(', ')}${quiet.hosts.length > 10 ? ` and ${quiet.hosts.length - 10} more` : ''}.`,
      );
    }
  }
  if (change.state === 'INSUFFICIENT_DATA' && alarm.kind === 'monitoring-blind') {
    lines.push(
      '',
      'No monitoring round reported in the alarm period: the schedule stopped, the dispatch function fails',
      '(see the dispatch-failing alarm and the dispatch log below), or the stack is new and has not run yet.',
    );
  }
  return lines;
}

function evidenceHeadline(input: ComposeInput): string[] {
  const { evidence, alarm, change } = input;
  const n = Math.max(evidence.total, evidence.hosts.length);
  const round = evidence.round === null ? '' : ` (round ${show(evidence.round, 64)})`;
  const more = evidence.incomplete ? ' or more' : '';
  if (change.state === 'OK' && evidence.before.length > 0) {
    const quiet = maintenanceQuiet(input)?.all === true;
    return [
      quiet
        ? `${plural(evidence.before.length, 'host')} affected in the last round before the alarm went quiet${round}:`
        : `What recovered: ${plural(evidence.before.length, 'host')} affected in the last round before recovery${round}:`,
      ...evidence.before.slice(0, 20).map((r) => `  was: ${hostBrief(r, input.settings.thresholds)}`),
      ...(evidence.before.length > 20 ? [`  (${evidence.before.length - 20} more)`] : []),
      '',
      n > 0 ? 'Their latest records now:' : 'No later records of these hosts were found.',
    ];
  }
  if (n === 0) {
    if (['dispatch-failing', 'dead-letter'].includes(alarm.kind)) return [];
    if (change.state !== 'ALARM') return [];
    return [
      'Evidence: no matching host record was found in the log group for the alarm window',
      '(records may still be arriving, or the alarm reads metrics no host record explains).',
    ];
  }
  const what: Record<string, string> = {
    'monitoring-blind': 'not checked (failed or not reachable)',
    'tunnels-down': 'with the tunnel down or reconnecting',
    'path-changes': 'with a path change',
  };
  if (alarm.kind === 'latency-anomaly') {
    const watched = anomalyInstance(change);
    return [
      watched === null
        ? `Evidence${round}: ${plural(n, 'host')}${more} measured, slowest first.`
        : `Evidence: the latest record of ${watched}.`,
    ];
  }
  return [
    `Evidence${round}: ${plural(n, 'host')}${more} ${what[alarm.kind] ?? 'flagged'}, most severe first.`,
  ];
}

function kindSpecificLines(input: ComposeInput): string[] {
  const { evidence } = input;
  const out: string[] = [];
  if (evidence.dispatchLog.length > 0) {
    out.push('', `Dispatch function log (${evidence.dispatchLog.length} latest error lines):`);
    for (const e of evidence.dispatchLog) out.push(`  ${utc(e.timestamp)} ${show(e.message.trim(), 300)}`);
  }
  if (evidence.deadLetters.length > 0) {
    out.push('', `Dead-letter queue (${evidence.deadLetters.length} job(s) looked at, left in place):`);
    for (const d of evidence.deadLetters) {
      const hosts = d.instanceIds.length === 0 ? 'no host named' : d.instanceIds.slice(0, 10).join(', ');
      const more = d.instanceIds.length > 10 ? ` and ${d.instanceIds.length - 10} more` : '';
      out.push(
        `  ${d.kind} job, round ${show(d.roundId, 64)}${d.commandId === null ? '' : `, command ${show(d.commandId, 64)}`}: ${hosts}${more}`,
      );
      if (d.failures !== null) out.push(`    failed attempts: ${d.failures}`);
      if (d.lastError !== null) out.push(`    last error: ${show(d.lastError, 300)}`);
    }
    out.push('  Redrive them from the SQS console once the cause is fixed.');
  }
  return out;
}

function footerLines(input: ComposeInput): string[] {
  const { settings, change, evidence } = input;
  const lines = [
    '',
    `Dashboard:  ${dashboardLink(settings.console, settings.dashboardName)}`,
    `Alarm:      ${alarmLink(settings.console, change.alarmName)}`,
    `Log group:  ${logGroupLink(settings.console, settings.monitorLogGroup)}`,
  ];
  if (input.alarm.kind === 'dispatch-failing' || evidence.dispatchLog.length > 0) {
    lines.push(`Dispatch:   ${logGroupLink(settings.console, settings.dispatchLogGroup)}`);
  }
  if (evidence.notes.length > 0) {
    lines.push('', 'Evidence notes:');
    for (const note of evidence.notes.slice(0, 8)) lines.push(`  - ${show(note, 300)}`);
  }
  lines.push(
    '',
    '-- CloudConnexa Resource Monitor. Host values are shown escaped (\\xHH) and clipped;',
    '   the full records are in the log streams linked above.',
  );
  return lines;
}

/** Lines added while they fit in a byte budget. */
class Budget {
  private readonly lines: string[] = [];
  private used = 0;
  constructor(private readonly max: number) {}
  bytes(lines: readonly string[]): number {
    return lines.reduce((n, l) => n + utf8Bytes(l) + 1, 0);
  }
  fits(lines: readonly string[]): boolean {
    return this.used + this.bytes(lines) <= this.max;
  }
  tryAdd(lines: readonly string[]): boolean {
    if (!this.fits(lines)) return false;
    this.lines.push(...lines);
    this.used += this.bytes(lines);
    return true;
  }
  get text(): string[] {
    return this.lines;
  }
}

/** The e-mail body (see the module comment); `cut` says whether anything was left out. */
export function composeEmail(input: ComposeInput): { text: string; cut: boolean } {
  const { evidence, settings } = input;
  const header = [...headerLines(input), '', ...evidenceHeadline(input)];
  const kindLines = kindSpecificLines(input);
  const footer = footerLines(input);
  const cutNoteRoom = 600;
  const fixed = [...header, ...kindLines, ...footer];
  const max = NOTIFY_LIMITS.emailMaxBytes;
  const body = new Budget(Math.max(0, max - utf8Bytes(fixed.join('\n')) - cutNoteRoom - 16));
  let full = 0;
  let compact = 0;
  let brief = 0;
  const hosts = evidence.hosts;
  const total = Math.max(evidence.total, hosts.length);
  let i = 0;
  for (; i < hosts.length && full + compact < NOTIFY_LIMITS.hostsInDetail; i++) {
    const r = hosts[i] as HostRecord;
    const heading = [
      '',
      `== ${i + 1}/${total} ${r.instanceId} (${hostnameOf(r)})${r.roundId === null ? '' : ` round ${show(r.roundId, 64)}`}${r.maintenanceUntil === null ? '' : ` [maintenance ${untilText(r)}]`}`,
    ];
    const link = [`Log stream: ${streamLink(settings, r)}`];
    if (body.tryAdd([...heading, ...hostDetail(r, settings.thresholds, true), ...link])) full++;
    else if (body.tryAdd([...heading, ...hostDetail(r, settings.thresholds, false), ...link])) compact++;
    else break;
  }
  const listed: string[] = [];
  for (; i < hosts.length && brief < NOTIFY_LIMITS.hostsListed; i++) {
    const line = `  ${hostBrief(hosts[i] as HostRecord, settings.thresholds)}`;
    if (!body.fits([...(listed.length === 0 ? ['', 'More hosts, one line each:'] : []), line])) break;
    if (listed.length === 0) body.tryAdd(['', 'More hosts, one line each:']);
    body.tryAdd([line]);
    listed.push(line);
    brief++;
  }
  const omitted = total - full - compact - brief;
  const cut = compact > 0 || brief > 0 || omitted > 0 || evidence.incomplete;
  const cutNote: string[] = [];
  if (cut) {
    const parts = [`${full} in full`];
    if (compact > 0) parts.push(`${compact} without MTR`);
    if (brief > 0) parts.push(`${brief} on one line`);
    if (omitted > 0) parts.push(`${omitted} not listed`);
    cutNote.push(
      '',
      `Cut to fit the ${Math.round(max / 1000)} KB message limit: of ${plural(total, 'host')}${evidence.incomplete ? ' read (more matched than were read)' : ''}, ${parts.join(', ')}.`,
      'See the dashboard and the log streams for the rest.',
    );
  }
  const text = [...header, ...body.text, ...cutNote, ...kindLines, ...footer].join('\n');
  // The budget above keeps to the limit; the cut is a last guard (e.g. multi-byte header text).
  return { text: cutBytes(`${text}\n`, max), cut };
}

/** The chat custom notification (see the module comment). */
export function composeChat(input: ComposeInput, subject: string): string {
  const { change, evidence, settings } = input;
  const t = settings.thresholds;
  const lines: string[] = [];
  const after = recoveredAfter(input);
  const quiet = maintenanceQuiet(input);
  if (quiet?.all) lines.push('*Not a recovery: quiet for maintenance (out of the alarm’s metrics).*');
  else if (after !== null) lines.push(`*Recovered after ${after}.*`);
  if (quiet !== null && !quiet.all) {
    lines.push(
      `In a maintenance window, not recovered: ${quiet.hosts
        .slice(0, 5)
        .map((r) => chatCode(r.instanceId, 24))
        .join(', ')}`,
    );
  }
  if (change.reason !== '') lines.push(chatPlain(change.reason, 300));
  if (evidence.round !== null) lines.push(`Round ${chatCode(evidence.round, 64)}`);
  const hostLine = (r: HostRecord): string => {
    const who = `${chatCode(r.instanceId, 24)} ${chatCode(hostnameOf(r), 40)}`;
    if (r.kind !== 'result' || r.doc === null)
      return `• ${who}: ${chatCode(r.message ?? r.problem ?? r.kind, 160)}`;
    const th = thresholdsOf(r.doc, t);
    const flagged = r.doc.resources.filter((x) => x.latencyFlag || x.lossFlag).slice(0, 2);
    const what =
      flagged.length === 0
        ? `ok, worst latency ${fmtMs(r.doc.summary.worstLatencyMs)}, loss ${fmtPct(r.doc.summary.worstLossPct)}`
        : flagged.map((x) => chatCode(resourceBrief(x, th), 160)).join('; ');
    const tunnel = tunnelText(r.tunnel);
    return `• ${who}: ${what}${tunnel === null ? '' : ` tunnel ${chatCode(tunnel, 80)}`}`;
  };
  const max = NOTIFY_LIMITS.chatDescriptionMaxChars;
  let used = lines.join('\n').length;
  let shown = 0;
  for (const r of evidence.hosts) {
    const line = hostLine(r);
    if (shown >= 8 || used + line.length + 200 > max) break;
    lines.push(line);
    used += line.length + 1;
    shown++;
  }
  const total = Math.max(evidence.total, evidence.hosts.length);
  if (total > shown) lines.push(`…and ${total - shown} more host(s): see the e-mail or the dashboard.`);
  const first = evidence.hosts[0]?.doc;
  if (first !== null && first !== undefined) {
    const mtr = mtrExcerpt(first)
      .lines.slice(0, 14)
      .map((l) => l.replace(/`/g, 'ˋ'));
    const block = ['MTR (first host):', '```', ...mtr, '```'];
    if (mtr.length > 0 && used + block.join('\n').length + 1 <= max) lines.push(...block);
  }
  for (const d of evidence.deadLetters.slice(0, 3)) {
    lines.push(`• dead-letter ${d.kind} job ${chatCode(d.roundId, 64)}: ${chatCode(d.lastError, 160)}`);
  }
  for (const e of evidence.dispatchLog.slice(-3))
    lines.push(`• dispatch: ${chatCode(e.message.trim(), 200)}`);
  let description = lines.join('\n');
  if (description.length > max) description = `${description.slice(0, max - 1)}…`;
  const nextSteps = [
    `Dashboard: ${dashboardLink(settings.console, settings.dashboardName)}`,
    ...evidence.hosts.slice(0, 2).map((r) => `Log stream ${r.instanceId}: ${streamLink(settings, r)}`),
    `Alarm: ${alarmLink(settings.console, change.alarmName)}`,
  ].slice(0, NOTIFY_LIMITS.chatNextStepsMax);
  return stringifyPrintable({
    version: '1.0',
    source: 'custom',
    id: change.eventId === '' ? undefined : change.eventId,
    content: {
      textType: 'client-markdown',
      title: subject.slice(0, NOTIFY_LIMITS.chatTitleMaxChars),
      description,
      nextSteps,
      keywords: [input.alarm.kind, change.state, settings.stage].map((k) => k.slice(0, 40)),
    },
    metadata: { threadId: change.alarmName.slice(0, 128), summary: subject },
  });
}

/** The webhook body: structured facts and the e-mail text, at most NOTIFY_LIMITS.webhookMaxBytes. */
export function composeWebhook(input: ComposeInput, subject: string, email: string, cut: boolean): string {
  const { change, evidence, settings, spell, alarm } = input;
  const V = NOTIFY_LIMITS.valueMaxChars;
  const hostFacts = (r: HostRecord) => ({
    instanceId: r.instanceId,
    hostname:
      r.doc?.hostname === undefined && r.hostname === null ? null : show(r.doc?.hostname ?? r.hostname, 64),
    record: r.kind,
    roundId: r.roundId,
    status: r.status === null ? null : show(r.status, 40),
    message: r.message === null ? null : show(r.message, V),
    flagged: r.doc?.summary.flagged ?? null,
    worstLatencyMs: r.doc?.summary.worstLatencyMs ?? null,
    worstLossPct: r.doc?.summary.worstLossPct ?? null,
    tunnelState: r.tunnel?.state === undefined || r.tunnel.state === null ? null : show(r.tunnel.state, 24),
    resources: (r.doc?.resources ?? [])
      .filter((x) => x.latencyFlag || x.lossFlag)
      .slice(0, NOTIFY_LIMITS.resourcesPerHost)
      .map((x) => ({
        target: show(x.target, V),
        verdict: x.verdict,
        latencyMs: x.latencyMs,
        lossPct: x.lossPct,
        trouble:
          x.trouble === null
            ? null
            : {
                hop: x.trouble.hop,
                host: x.trouble.host === null ? null : show(x.trouble.host, 64),
                side: x.trouble.side,
              },
      })),
    logStream: streamLink(settings, r),
  });
  const payload = {
    schema: NOTIFICATION_SCHEMA,
    stage: settings.stage,
    region: settings.console.region,
    account: change.account,
    alarm: {
      name: change.alarmName,
      kind: alarm.kind,
      state: change.state,
      previousState: change.previous?.state ?? null,
      reason: show(change.reason, 1023),
      at: new Date(change.at).toISOString(),
      since: spell?.since === null || spell?.since === undefined ? null : new Date(spell.since).toISOString(),
      durationMs: spell?.since === null || spell?.since === undefined ? null : change.at - spell.since,
      contributor: change.contributor,
    },
    subject,
    round: evidence.round,
    // An OK whose hosts went quiet for maintenance (maintenanceQuiet); null otherwise.
    maintenance: ((q) =>
      q === null
        ? null
        : {
            notRecovery: q.all,
            hosts: q.hosts.slice(0, 50).map((r) => ({ instanceId: r.instanceId, until: r.maintenanceUntil })),
          })(maintenanceQuiet(input)),
    hosts: evidence.hosts.slice(0, 50).map(hostFacts),
    hostsTotal: Math.max(evidence.total, evidence.hosts.length),
    links: {
      dashboard: dashboardLink(settings.console, settings.dashboardName),
      alarm: alarmLink(settings.console, change.alarmName),
    },
    notes: evidence.notes.slice(0, 8).map((n) => show(n, 300)),
    cut,
    text: email,
  };
  let json = stringifyPrintable(payload);
  // Bounded: drop the text, then hosts from the end, until it fits.
  if (utf8Bytes(json) > NOTIFY_LIMITS.webhookMaxBytes) {
    payload.text = '(left out: too long for the webhook; see the e-mail)';
    json = stringifyPrintable(payload);
  }
  while (utf8Bytes(json) > NOTIFY_LIMITS.webhookMaxBytes && payload.hosts.length > 0) {
    payload.hosts = payload.hosts.slice(0, Math.floor(payload.hosts.length / 2));
    payload.cut = true;
    json = stringifyPrintable(payload);
  }
  return json;
}

export function composeNotification(input: ComposeInput): Notification {
  const subject = subjectOf(input);
  const email = composeEmail(input);
  return {
    subject,
    email: email.text,
    chat: composeChat(input, subject),
    webhook: composeWebhook(input, subject, email.text, email.cut),
    cut: email.cut,
  };
}

/**
 * The plain fallback: the alarm's own facts, no evidence. Sent when the
 * evidence-rich message cannot be published, so the e-mail still arrives.
 */
export function composePlain(
  change: AlarmChange,
  stage: string,
  why: string,
): { subject: string; text: string } {
  const subject = asciiSubject(
    `${change.state}: ${change.alarmName} [CloudConnexa ${stage}]`,
    NOTIFY_LIMITS.snsSubjectMaxChars,
  );
  const text = [
    `${change.state}: ${show(change.alarmName, 255)} (stage ${show(stage, 40)}, ${show(change.region, 32)})`,
    `Changed: ${change.previous === null ? '' : `${change.previous.state} -> `}${change.state} at ${utc(change.at)}`,
    `CloudWatch: ${show(change.reason, 1023)}`,
    '',
    `The notification with the evidence could not be sent: ${show(why, 300)}.`,
    'The records are in the central log group; the notifier log says what failed.',
  ].join('\n');
  return { subject, text: `${text}\n` };
}
