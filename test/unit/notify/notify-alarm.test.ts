/**
 * The notifier end to end, as Lambda runs it: an alarm event in, the real
 * adapters (FilterLogEvents, DescribeAlarmHistory, SQS, SNS, SSM) behind
 * aws-sdk-client-mock, log groups holding what the real collector and
 * dispatch code write, and the SNS Publish that comes out.
 */
import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { CloudWatchClient, DescribeAlarmHistoryCommand } from '@aws-sdk/client-cloudwatch';
import { CloudWatchLogsClient, FilterLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { GetQueueUrlCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { unmeasuredJudgement } from '../../../common/flag-rule.ts';
import { isPrintable } from '../../../common/printable.ts';
import type { ResourceResult } from '../../../common/result-schema.ts';
import { createAlarmHistory } from '../../../functions/notify/alarm-history.ts';
import { createDeadLetterPeek } from '../../../functions/notify/dead-letters.ts';
import { NOTIFY_LIMITS } from '../../../functions/notify/limits.ts';
import { createLogSearch, type LogSearch } from '../../../functions/notify/log-search.ts';
import { type NotifyPorts, notifyAlarm } from '../../../functions/notify/notify-alarm.ts';
import { createSnsPublisher, type Publisher } from '../../../functions/notify/publish.ts';
import {
  ANOMALY_ALARM,
  ANOMALY_HOST,
  cleanDocument,
  contributorChange,
  DISPATCH_GROUP,
  DLQ_NAME,
  FakeLogGroups,
  flaggedDocument,
  instance,
  MONITOR_GROUP,
  notifyConfig,
  PERIOD_MS,
  REGION,
  roundIdAt,
  STAGE,
  stateChange,
  TOPIC,
} from './fixtures.ts';

const logsMock = mockClient(CloudWatchLogsClient);
const cwMock = mockClient(CloudWatchClient);
const snsMock = mockClient(SNSClient);
const sqsMock = mockClient(SQSClient);

/** The alarm changes at T; the notifier runs 30 s later. */
const T = Date.parse('2026-11-26T17:11:12Z');
const NOW = T + 30_000;
/** The latest round started 6 minutes before the change, the one before it 11 minutes before. */
const LATEST = T - 6 * 60_000;
const EARLIER = LATEST - PERIOD_MS;

interface Published {
  subject: string;
  email: string;
  chat: {
    version: string;
    source: string;
    content: { title: string; description: string; nextSteps: string[] };
  };
  raw: string;
}

function published(): Published[] {
  return snsMock.commandCalls(PublishCommand).map((call) => {
    const input = call.args[0].input;
    const raw = input.Message ?? '';
    if (input.MessageStructure !== 'json') {
      return {
        subject: input.Subject ?? '',
        email: raw,
        chat: { version: '', source: '', content: { title: '', description: '', nextSteps: [] } },
        raw,
      };
    }
    const message = JSON.parse(raw) as Record<string, string>;
    assert.equal(message.email, message['email-json'], 'e-mail and e-mail-json carry the same text');
    return {
      subject: input.Subject ?? '',
      email: message.email ?? '',
      chat: JSON.parse(message.default ?? '{}'),
      raw,
    };
  });
}

function only(): Published {
  const all = published();
  assert.equal(all.length, 1, `one notification published (got ${all.length})`);
  return all[0] as Published;
}

const logLines: Record<string, unknown>[] = [];

function ports(fake: FakeLogGroups, overrides: Partial<NotifyPorts> = {}): NotifyPorts {
  fake.install(logsMock);
  return {
    logs: createLogSearch(new CloudWatchLogsClient({ region: REGION })),
    history: createAlarmHistory(new CloudWatchClient({ region: REGION })),
    deadLetters: createDeadLetterPeek(new SQSClient({ region: REGION })),
    publisher: createSnsPublisher(new SNSClient({ region: REGION }), TOPIC),
    webhook: null,
    log: (line) => logLines.push(line),
    now: () => NOW,
    ...overrides,
  };
}

/** A fleet whose latest round flags two hosts (one on the tunnel side), and an older round flagging a third. */
function flaggedFleet(): FakeLogGroups {
  const fake = new FakeLogGroups();
  fake.addRound(roundIdAt(EARLIER, 'aaaaaaaa'), EARLIER + 20_000, [
    { instanceId: instance(9), doc: flaggedDocument({ hostname: 'old-news' }) },
    { instanceId: instance(1), doc: cleanDocument('connector-1') },
  ]);
  fake.addRound(roundIdAt(LATEST), LATEST + 20_000, [
    {
      instanceId: instance(1),
      doc: flaggedDocument({ hostname: 'connector-1', targets: ['db.corp.internal', 'wiki.corp.internal'] }),
    },
    {
      instanceId: instance(2),
      doc: flaggedDocument({ hostname: 'connector-2', side: 'tunnel', latencyMs: 220, lossPct: 0 }),
    },
    { instanceId: instance(3), doc: cleanDocument('connector-3') },
    { instanceId: instance(9), doc: cleanDocument('old-news') },
  ]);
  return fake;
}

beforeEach(() => {
  logsMock.reset();
  cwMock.reset();
  snsMock.reset();
  sqsMock.reset();
  snsMock.on(PublishCommand).resolves({ MessageId: 'msg-1' });
  cwMock.on(DescribeAlarmHistoryCommand).resolves({ AlarmHistoryItems: [] });
  logLines.length = 0;
});

describe('notifier: hosts flagged', () => {
  it("sends the latest round's flagged hosts with verdicts, thresholds, trouble side, MTR and console links", async () => {
    const fake = flaggedFleet();
    const outcome = await notifyAlarm(stateChange('hosts-flagged', 'ALARM', T), ports(fake), notifyConfig());

    assert.equal(outcome.sent, 'rich');
    const n = only();
    assert.equal(n.subject, `ALARM: 2 hosts flagged for latency or loss [CloudConnexa ${STAGE}]`);
    const email = n.email;
    assert.match(email, new RegExp(`round ${roundIdAt(LATEST)}`));
    assert.ok(email.includes(instance(1)) && email.includes(instance(2)), 'both flagged hosts');
    assert.ok(!email.includes(instance(9)), 'a host flagged only in an older round is not shown');
    assert.ok(!email.includes(instance(3)), 'a clean host is not shown');
    assert.match(
      email,
      /db\.corp\.internal\s+icmp\s+120\.0 ms > 75\s+30\.0 % > 5\s+latency\+loss\s+hop 2 10\.0\.0\.1, resource side/,
    );
    assert.match(
      email,
      /10\.0\.0\.1\s+icmp\s+220\.0 ms > 75\s+0\.0 %\s+latency\s+hop 1 10\.81\.0\.1, CloudConnexa \(tunnel\) side/,
    );
    assert.match(email, /Thresholds: latency 75 ms, loss 5 %; hops 1-3 are the CloudConnexa \(tunnel\) side/);
    // The MTR excerpt is the text the collector wrote next to the record, line for line.
    const written = (fake.groups.get(MONITOR_GROUP) ?? [])
      .filter(
        (e) => e.stream === instance(1) && /^(RESOURCE|GATEWAY) MTR:/.test(e.message) && e.timestamp > LATEST,
      )
      .flatMap((e) => e.message.split('\n').filter((l) => l !== ''));
    assert.ok(written.length >= 4, 'the collector wrote MTR text');
    for (const line of written) assert.ok(email.includes(`    ${line}\n`), `MTR line in the e-mail: ${line}`);
    assert.match(
      email,
      new RegExp(
        `Log stream: https://${REGION}\\.console\\.aws\\.amazon\\.com/cloudwatch/home\\?region=${REGION}#logsV2:log-groups/log-group/CloudConnexa-Monitor-Logs/log-events/${instance(1)}\\$3Fstart\\$3D\\d+\\$26end\\$3D\\d+`,
      ),
    );
    assert.ok(email.includes(`#dashboards/dashboard/cloudconnexa-monitor-${STAGE}`));
    assert.ok(email.includes(`#alarmsV2:alarm/cloudconnexa-monitor-${STAGE}-hosts-flagged`));
    assert.ok(Buffer.byteLength(email) <= NOTIFY_LIMITS.emailMaxBytes);
    assert.ok(!/Cut to fit/.test(email), 'nothing cut');

    // Chat: the custom-notification form the chat integration shows.
    assert.equal(n.chat.version, '1.0');
    assert.equal(n.chat.source, 'custom');
    assert.equal(n.chat.content.title, n.subject);
    assert.ok(n.chat.content.description.includes(`\`${instance(1)}\``));
    assert.ok(n.chat.content.description.length <= NOTIFY_LIMITS.chatDescriptionMaxChars);
    assert.ok(n.chat.content.nextSteps.some((s) => s.startsWith('Dashboard: https://')));
  });

  it('leaves hosts in a maintenance window out, as the alarm’s metrics do, and finds the round of the others', async () => {
    // Prepare: the latest round flags one host in maintenance and one outside; the newest flagged
    // records of all are a later round's, whose only flagged host is in maintenance.
    const window = { state: 'in', until: new Date(T + 3_600_000).toISOString(), source: 'tag' } as const;
    const fake = new FakeLogGroups();
    fake.addRound(roundIdAt(EARLIER), EARLIER + 20_000, [
      { instanceId: instance(1), doc: flaggedDocument({ hostname: 'in-maintenance' }), maintenance: window },
      { instanceId: instance(2), doc: flaggedDocument({ hostname: 'connector-2' }) },
    ]);
    fake.addRound(roundIdAt(LATEST, 'bbbbbbbb'), LATEST + 20_000, [
      { instanceId: instance(1), doc: flaggedDocument({ hostname: 'in-maintenance' }), maintenance: window },
      { instanceId: instance(2), doc: cleanDocument('connector-2') },
    ]);
    // Act
    await notifyAlarm(stateChange('hosts-flagged', 'ALARM', T), ports(fake), notifyConfig());
    // Assess
    const n = only();
    assert.equal(n.subject, `ALARM: 1 host flagged for latency or loss [CloudConnexa ${STAGE}]`);
    assert.match(n.email, new RegExp(`round ${roundIdAt(EARLIER)}`));
    assert.ok(n.email.includes(instance(2)), 'the flagged host outside a window');
    assert.ok(!n.email.includes(instance(1)), 'the host in maintenance is not notified');
  });

  it('reads one round, bounded: the newest slice first, then that round by its id', async () => {
    const fake = flaggedFleet();
    await notifyAlarm(stateChange('hosts-flagged', 'ALARM', T), ports(fake), notifyConfig());
    const patterns = fake.calls.map((c) => c.filterPattern ?? '');
    assert.ok(patterns.at(-1)?.includes(`$.roundId = "${roundIdAt(LATEST)}"`), patterns.join('\n'));
    for (const call of fake.calls) {
      assert.equal(call.logGroupName, MONITOR_GROUP);
      assert.ok((call.limit ?? 0) <= 100);
      assert.ok((call.endTime ?? 0) <= NOW && (call.startTime ?? 0) >= T - 30 * 60_000);
    }
  });

  it("on OK says what recovered and after how long, from the event's previous state", async () => {
    const fake = flaggedFleet();
    // After the recovery, the hosts' next round is clean.
    fake.addRound(roundIdAt(T + 10_000, 'bbbbbbbb'), T + 15_000, [
      { instanceId: instance(1), doc: cleanDocument('connector-1') },
      { instanceId: instance(2), doc: cleanDocument('connector-2') },
    ]);
    const alarmAt = T - 25 * 60_000;
    await notifyAlarm(
      stateChange('hosts-flagged', 'OK', T, { state: 'ALARM', at: alarmAt }),
      ports(fake),
      notifyConfig(),
    );
    const n = only();
    assert.equal(
      n.subject,
      `OK: hosts flagged for latency or loss: recovered after 25 min [CloudConnexa ${STAGE}]`,
    );
    assert.match(n.email, /Recovered after 25 min \(in ALARM since 2026-11-26 16:46:12 UTC\)/);
    assert.match(n.email, /What recovered: 2 hosts affected in the last round before recovery/);
    assert.match(n.email, new RegExp(`was: ${instance(1)} \\(connector-1\\): 1 of 2 flagged`));
    assert.match(
      n.email,
      new RegExp(`== 1/2 ${instance(1)} \\(connector-1\\) round ${roundIdAt(T + 10_000, 'bbbbbbbb')}`),
    );
    assert.match(n.email, /10\.0\.0\.1\s+icmp\s+20\.0 ms\s+0\.0 %\s+ok/);
    assert.equal(
      cwMock.commandCalls(DescribeAlarmHistoryCommand).length,
      0,
      'the event said when ALARM began',
    );
  });

  it('on OK with the flagged hosts now in a maintenance window says the alarm went quiet, not what recovered', async () => {
    // Prepare: both flagged hosts enter a window (the stage's); their rounds stay flagged, out of HostsFlagged.
    const window = { state: 'in', until: new Date(T + 3_600_000).toISOString(), source: 'stage' } as const;
    const fake = flaggedFleet();
    fake.addRound(roundIdAt(T + 10_000, 'bbbbbbbb'), T + 15_000, [
      { instanceId: instance(1), doc: flaggedDocument({ hostname: 'connector-1' }), maintenance: window },
      { instanceId: instance(2), doc: flaggedDocument({ hostname: 'connector-2' }), maintenance: window },
    ]);
    // Act
    await notifyAlarm(
      stateChange('hosts-flagged', 'OK', T + 20_000, { state: 'ALARM', at: T - 25 * 60_000 }),
      ports(fake, { now: () => T + 50_000 }),
      notifyConfig(),
    );
    // Assess
    const n = only();
    assert.equal(
      n.subject,
      `OK: hosts flagged for latency or loss: quiet for maintenance [CloudConnexa ${STAGE}]`,
    );
    assert.match(n.email, /Not a recovery: the 2 hosts it was about are in a maintenance window\./);
    assert.match(n.email, /2 hosts affected in the last round before the alarm went quiet/);
    assert.doesNotMatch(n.email, /What recovered|Recovered after/);
  });

  it('on OK with one flagged host recovered and one in a maintenance window says which is which', async () => {
    // Prepare
    const window = { state: 'in', until: '2026-11-26T18:11:12.000Z', source: 'tag' } as const;
    const fake = flaggedFleet();
    fake.addRound(roundIdAt(T + 10_000, 'bbbbbbbb'), T + 15_000, [
      { instanceId: instance(1), doc: cleanDocument('connector-1') },
      { instanceId: instance(2), doc: flaggedDocument({ hostname: 'connector-2' }), maintenance: window },
    ]);
    // Act
    await notifyAlarm(
      stateChange('hosts-flagged', 'OK', T + 20_000, { state: 'ALARM', at: T - 25 * 60_000 }),
      ports(fake, { now: () => T + 50_000 }),
      notifyConfig(),
    );
    // Assess
    const n = only();
    assert.match(n.subject, /: recovered after 25 min /);
    assert.match(
      n.email,
      new RegExp(
        `Not recovered but in a maintenance window, out of this alarm's metrics: ${instance(2)} \\(until 2026-11-26 18:11:12 UTC\\)\\.`,
      ),
    );
    assert.ok(!n.email.includes(`metrics: ${instance(1)}`));
  });

  it('on OK, a window that closed before the change quieted nothing: the host went silent after it, not into maintenance', async () => {
    // Prepare: both flagged hosts' last records are in a window that ended before the change; nothing since.
    const window = { state: 'in', until: new Date(T + 12_000).toISOString(), source: 'tag' } as const;
    const fake = flaggedFleet();
    fake.addRound(roundIdAt(T + 10_000, 'bbbbbbbb'), T + 11_000, [
      { instanceId: instance(1), doc: flaggedDocument({ hostname: 'connector-1' }), maintenance: window },
      { instanceId: instance(2), doc: flaggedDocument({ hostname: 'connector-2' }), maintenance: window },
    ]);
    // Act
    await notifyAlarm(
      stateChange('hosts-flagged', 'OK', T + 20_000, { state: 'ALARM', at: T - 25 * 60_000 }),
      ports(fake, { now: () => T + 50_000 }),
      notifyConfig(),
    );
    // Assess
    const n = only();
    assert.doesNotMatch(n.subject, /quiet for maintenance/);
    assert.doesNotMatch(n.email, /Not a recovery|Not recovered but in a maintenance window/);
  });

  it('on OK, hosts that entered a maintenance window only after the change did not quiet it: a recovery', async () => {
    // Prepare: the round before the change is clean (a true recovery); the next one, after the
    // change, is the first in a window; the notifier runs late (a retry) and reads both.
    const window = { state: 'in', until: new Date(T + 3_600_000).toISOString(), source: 'stage' } as const;
    const fake = flaggedFleet();
    fake.addRound(roundIdAt(T + 10_000, 'bbbbbbbb'), T + 15_000, [
      { instanceId: instance(1), doc: cleanDocument('connector-1') },
      { instanceId: instance(2), doc: cleanDocument('connector-2') },
    ]);
    fake.addRound(roundIdAt(T + PERIOD_MS + 10_000, 'cccccccc'), T + PERIOD_MS + 15_000, [
      { instanceId: instance(1), doc: flaggedDocument({ hostname: 'connector-1' }), maintenance: window },
      { instanceId: instance(2), doc: flaggedDocument({ hostname: 'connector-2' }), maintenance: window },
    ]);
    // Act
    await notifyAlarm(
      stateChange('hosts-flagged', 'OK', T + 20_000, { state: 'ALARM', at: T - 25 * 60_000 }),
      ports(fake, { now: () => T + PERIOD_MS + 60_000 }),
      notifyConfig(),
    );
    // Assess: what the alarm saw at the change decides, not what came after it.
    const n = only();
    assert.match(n.subject, /: recovered after 25 min /);
    assert.doesNotMatch(n.email, /Not a recovery|went quiet|Not recovered but in a maintenance window/);
    assert.doesNotMatch(n.chat.content.description, /quiet for maintenance|not recovered/);
  });

  it('on OK, a host whose window opened before the change but whose latest record came after it still quieted the alarm', async () => {
    // Prepare: both hosts enter a window before the change; after it, the window still open, a later round.
    const window = { state: 'in', until: new Date(T + 3_600_000).toISOString(), source: 'tag' } as const;
    const fake = flaggedFleet();
    for (const [at, tag] of [
      [T + 10_000, 'bbbbbbbb'],
      [T + PERIOD_MS + 10_000, 'cccccccc'],
    ] as const) {
      fake.addRound(roundIdAt(at, tag), at + 5_000, [
        { instanceId: instance(1), doc: flaggedDocument({ hostname: 'connector-1' }), maintenance: window },
        { instanceId: instance(2), doc: flaggedDocument({ hostname: 'connector-2' }), maintenance: window },
      ]);
    }
    // Act
    await notifyAlarm(
      stateChange('hosts-flagged', 'OK', T + 20_000, { state: 'ALARM', at: T - 25 * 60_000 }),
      ports(fake, { now: () => T + PERIOD_MS + 60_000 }),
      notifyConfig(),
    );
    // Assess
    assert.match(only().subject, /: quiet for maintenance \[/);
  });

  it('on OK, a fleet alarm about more hosts than are listed is not called quiet for maintenance from the listed ones', async () => {
    // Prepare: more hosts flagged than a notification lists; those listed (the first by id, all
    // equally severe) enter a window before the change, the rest recover.
    const listed = NOTIFY_LIMITS.hostsListed;
    const ids = Array.from({ length: listed + 1 }, (_, i) => instance(i + 1));
    const window = { state: 'in', until: new Date(T + 3_600_000).toISOString(), source: 'stage' } as const;
    const fake = new FakeLogGroups();
    fake.addRound(
      roundIdAt(LATEST),
      LATEST + 20_000,
      ids.map((id) => ({ instanceId: id, doc: flaggedDocument({ hostname: 'connector' }) })),
    );
    fake.addRound(
      roundIdAt(T - 120_000, 'bbbbbbbb'),
      T - 120_000,
      ids.map((id, i) =>
        i < listed
          ? { instanceId: id, doc: flaggedDocument({ hostname: 'connector' }), maintenance: window }
          : { instanceId: id, doc: cleanDocument('connector') },
      ),
    );
    // Act
    await notifyAlarm(
      stateChange('hosts-flagged', 'OK', T + 20_000, { state: 'ALARM', at: T - 25 * 60_000 }),
      ports(fake, { now: () => T + 50_000 }),
      notifyConfig(),
    );
    // Assess: the host left out of the list recovered; the OK is not "quiet for maintenance".
    const n = only();
    assert.doesNotMatch(n.subject, /quiet for maintenance/);
    assert.doesNotMatch(n.email, /Not a recovery/);
  });

  it('on OK, a host claiming a maintenance window in its own output is not believed: the collector alone says so', async () => {
    // Prepare: both hosts print a document carrying a `maintenance` member of their own; dispatch made none.
    const fake = flaggedFleet();
    const claim = { state: 'in', until: new Date(T + 3_600_000).toISOString(), source: 'stage' };
    fake.addRound(roundIdAt(T + 10_000, 'bbbbbbbb'), T + 15_000, [
      {
        instanceId: instance(1),
        doc: { ...flaggedDocument({ hostname: 'connector-1' }), maintenance: claim },
      },
      {
        instanceId: instance(2),
        doc: { ...flaggedDocument({ hostname: 'connector-2' }), maintenance: claim },
      },
    ] as never);
    // Act
    await notifyAlarm(
      stateChange('hosts-flagged', 'OK', T + 20_000, { state: 'ALARM', at: T - 25 * 60_000 }),
      ports(fake, { now: () => T + 50_000 }),
      notifyConfig(),
    );
    // Assess
    const n = only();
    assert.doesNotMatch(n.subject, /quiet for maintenance/);
    assert.doesNotMatch(n.email, /maintenance window|\[maintenance until/);
  });

  it('treats OK after INSUFFICIENT_DATA as a recovery only when the history shows ALARM before it', async () => {
    const change = stateChange('hosts-flagged', 'OK', T, { state: 'INSUFFICIENT_DATA', at: T - 60_000 });
    cwMock.on(DescribeAlarmHistoryCommand).resolves({
      AlarmHistoryItems: [
        {
          Timestamp: new Date(T),
          HistoryItemType: 'StateUpdate',
          HistoryData: JSON.stringify({ newState: { stateValue: 'OK' } }),
        },
        { Timestamp: new Date(T - 60_000), HistorySummary: 'Alarm updated from ALARM to INSUFFICIENT_DATA' },
        {
          Timestamp: new Date(T - 3 * 3_600_000),
          HistoryData: JSON.stringify({ oldState: { stateValue: 'OK' }, newState: { stateValue: 'ALARM' } }),
        },
      ],
    });
    await notifyAlarm(change, ports(flaggedFleet()), notifyConfig());
    assert.match(only().email, /Recovered after 3 h \(in ALARM since/);
    const request = cwMock.commandCalls(DescribeAlarmHistoryCommand)[0]?.args[0].input;
    assert.equal(request?.AlarmName, `cloudconnexa-monitor-${STAGE}-hosts-flagged`);
    assert.equal(request?.HistoryItemType, 'StateUpdate');
    assert.equal(request?.ScanBy, 'TimestampDescending');

    // A fresh stack: INSUFFICIENT_DATA, then OK, with no ALARM ever: not news.
    snsMock.resetHistory();
    cwMock.on(DescribeAlarmHistoryCommand).resolves({
      AlarmHistoryItems: [
        { Timestamp: new Date(T - 60_000), HistorySummary: 'Alarm updated from OK to INSUFFICIENT_DATA' },
        { Timestamp: new Date(T - 120_000), HistorySummary: 'Alarm updated from INSUFFICIENT_DATA to OK' },
      ],
    });
    const outcome = await notifyAlarm(change, ports(flaggedFleet()), notifyConfig());
    assert.equal(outcome.sent, 'none');
    assert.equal(snsMock.commandCalls(PublishCommand).length, 0);
  });
});

describe('notifier: worst host by latency and by loss (Metrics Insights contributors)', () => {
  it("notifies the contributor's host with its latest record, and not the alarm-level change", async () => {
    const fake = flaggedFleet();
    await notifyAlarm(
      contributorChange('worst-host-latency', 'ALARM', T, instance(2)),
      ports(fake),
      notifyConfig(),
    );
    const n = only();
    assert.equal(n.subject, `ALARM: ${instance(2)} latency above 75 ms [CloudConnexa ${STAGE}]`);
    assert.ok(n.email.includes(`== 1/1 ${instance(2)} (connector-2)`));
    assert.ok(!n.email.includes(instance(1)), 'only the contributor');
    assert.match(n.email, /Host:\s+InstanceId=i-00000000000000002/);
    for (const call of fake.calls) assert.deepEqual(call.logStreamNames, [instance(2)]);

    snsMock.resetHistory();
    const parent = stateChange('worst-host-latency', 'ALARM', T, undefined, {
      reason: '2 out of 40 time series evaluated to ALARM',
    });
    const outcome = await notifyAlarm(parent, ports(fake), notifyConfig());
    assert.equal(outcome.sent, 'none');
    assert.match(outcome.why, /each host is notified on its own/);
    assert.equal(snsMock.commandCalls(PublishCommand).length, 0);
  });

  it('says after how long a contributor recovered, from its history', async () => {
    cwMock.on(DescribeAlarmHistoryCommand).resolves({
      AlarmHistoryItems: [
        {
          Timestamp: new Date(T - 40 * 60_000),
          HistoryItemType: 'AlarmContributorStateUpdate',
          HistorySummary: 'Contributor state updated to ALARM',
        },
      ],
    });
    const fake = flaggedFleet();
    fake.addRound(roundIdAt(T + 5_000, 'cccccccc'), T + 10_000, [
      { instanceId: instance(2), doc: cleanDocument('connector-2') },
    ]);
    await notifyAlarm(
      contributorChange('worst-host-loss', 'OK', T, instance(2)),
      ports(fake),
      notifyConfig(),
    );
    const n = only();
    assert.equal(
      n.subject,
      `OK: ${instance(2)} host loss above threshold: recovered after 40 min [CloudConnexa ${STAGE}]`,
    );
    const request = cwMock.commandCalls(DescribeAlarmHistoryCommand)[0]?.args[0].input;
    assert.equal(request?.HistoryItemType, 'AlarmContributorStateUpdate');
    assert.equal(request?.AlarmContributorId, `c${instance(2).slice(-15)}`);
    assert.match(n.email, /10\.0\.0\.1\s+icmp\s+20\.0 ms\s+0\.0 %\s+ok/);
  });
});

describe('notifier: monitoring blind, dispatch failing, dead-letter queue', () => {
  it('lists the hosts not checked with their status and stderr', async () => {
    const fake = new FakeLogGroups();
    fake.addRound(roundIdAt(LATEST), LATEST + 20_000, [
      { instanceId: instance(4), failed: { status: 'Failed', stderr: 'node: command not found\n' } },
      { instanceId: instance(5), blind: 'enrolled but SSM reports ConnectionLost: not checked this round' },
      { instanceId: instance(6), doc: cleanDocument('fine') },
    ]);
    await notifyAlarm(stateChange('monitoring-blind', 'ALARM', T), ports(fake), notifyConfig());
    const n = only();
    assert.equal(n.subject, `ALARM: monitoring blind: 2 hosts not checked [CloudConnexa ${STAGE}]`);
    assert.match(n.email, /Record: failure, status Failed/);
    assert.match(n.email, /stderr: "node: command not found"/);
    assert.match(n.email, /Record: blind, status Unreachable/);
    assert.match(n.email, /ConnectionLost: not checked this round/);
    assert.ok(!n.email.includes(instance(6)));
  });

  it('leaves out hosts in a maintenance window, as the alarm’s metrics do, and lists hosts dispatch could not send to', async () => {
    // Prepare: of the latest round's hosts not checked, two are in a window (a reboot, a failed
    // agent while being worked on); one host outside a window could not be sent the command.
    const window = { state: 'in', until: new Date(T + 3_600_000).toISOString(), source: 'tag' } as const;
    const fake = new FakeLogGroups();
    fake.addRound(roundIdAt(LATEST), LATEST + 20_000, [
      { instanceId: instance(4), blind: 'enrolled but SSM reports ConnectionLost', maintenance: window },
      {
        instanceId: instance(5),
        failed: { status: 'Failed', stderr: 'systemctl restart in progress\n' },
        maintenance: window,
      },
      { instanceId: instance(7), dispatchFailed: 'Rate exceeded' },
      { instanceId: instance(6), doc: cleanDocument('fine') },
    ]);
    // Act
    await notifyAlarm(stateChange('monitoring-blind', 'ALARM', T), ports(fake), notifyConfig());
    // Assess
    const n = only();
    assert.equal(n.subject, `ALARM: monitoring blind: 1 host not checked [CloudConnexa ${STAGE}]`);
    assert.ok(n.email.includes(instance(7)), 'the host dispatch could not send to (HostsFailed)');
    assert.match(n.email, /Record: dispatch-failed, status SendCommandFailed/);
    assert.ok(!n.email.includes(instance(4)) && !n.email.includes(instance(5)), 'the hosts in a window');
  });

  it("on INSUFFICIENT_DATA (no round ran) shows the dispatch function's error lines", async () => {
    const fake = new FakeLogGroups();
    fake.add(DISPATCH_GROUP, '2026/11/26/[$LATEST]abc', [
      { timestamp: T - 200_000, message: 'START RequestId: 1 Version: $LATEST' },
      {
        timestamp: T - 199_000,
        message:
          '2026-11-26T17:08:00.000Z\t1\tERROR\tInvoke Error \t{"errorType":"AccessDeniedException","errorMessage":"not authorized to perform: ec2:DescribeInstances"}',
      },
      { timestamp: T - 100_000, message: '2026-11-26T17:09:40.000Z 2 Task timed out after 240.00 seconds' },
    ]);
    await notifyAlarm(
      stateChange('monitoring-blind', 'INSUFFICIENT_DATA', T, { state: 'OK', at: T - 3_600_000 }),
      ports(fake),
      notifyConfig(),
    );
    const n = only();
    assert.equal(n.subject, `INSUFFICIENT_DATA: monitoring blind: no round ran [CloudConnexa ${STAGE}]`);
    assert.match(n.email, /No monitoring round reported/);
    assert.match(n.email, /Dispatch function log \(2 latest error lines\)/);
    assert.match(n.email, /not authorized to perform: ec2:DescribeInstances/);
    assert.match(n.email, /Task timed out after 240\.00 seconds/);
    assert.ok(!n.email.includes('START RequestId'));
    assert.ok(n.email.includes('Dispatch:   https://'), 'a link to the dispatch log group');
  });

  it('dispatch failing shows the dispatch errors', async () => {
    const fake = new FakeLogGroups();
    fake.add(DISPATCH_GROUP, 's', [
      { timestamp: T - 60_000, message: 'x\tERROR\t{"message":"SendCommand refused"}' },
    ]);
    await notifyAlarm(stateChange('dispatch-failing', 'ALARM', T), ports(fake), notifyConfig());
    const n = only();
    assert.equal(n.subject, `ALARM: dispatch failing: no round sent [CloudConnexa ${STAGE}]`);
    assert.match(n.email, /SendCommand refused/);
  });

  it("dead-letter queue: the jobs' rounds, hosts and last errors, looked at without taking them", async () => {
    sqsMock
      .on(GetQueueUrlCommand)
      .resolves({ QueueUrl: `https://sqs.${REGION}.amazonaws.com/123456789012/${DLQ_NAME}` });
    sqsMock.on(ReceiveMessageCommand).resolves({
      Messages: [
        {
          Body: JSON.stringify({
            v: 1,
            commandId: 'cmd-42',
            roundId: roundIdAt(LATEST),
            instanceIds: [instance(7), instance(8)],
            failures: 6,
            lastError: 'AccessDeniedException: logs:PutLogEvents',
          }),
        },
        {
          Body: JSON.stringify({
            v: 1,
            kind: 'records',
            id: 'r.1',
            roundId: roundIdAt(LATEST),
            records: [{ instanceId: instance(9) }],
            lastError: 'ResourceNotFoundException: log group',
          }),
        },
        { Body: 'not json\u001b[2J' },
      ],
    });
    await notifyAlarm(
      stateChange('collect-dlq-not-empty', 'ALARM', T),
      ports(new FakeLogGroups()),
      notifyConfig(),
    );
    const n = only();
    assert.equal(n.subject, `ALARM: 3 collection jobs in the dead-letter queue [CloudConnexa ${STAGE}]`);
    assert.match(
      n.email,
      new RegExp(`collect job, round ${roundIdAt(LATEST)}, command cmd-42: ${instance(7)}, ${instance(8)}`),
    );
    assert.match(n.email, /failed attempts: 6/);
    assert.match(n.email, /last error: AccessDeniedException: logs:PutLogEvents/);
    assert.match(n.email, new RegExp(`records job, round .*: ${instance(9)}`));
    assert.equal(sqsMock.commandCalls(GetQueueUrlCommand)[0]?.args[0].input.QueueName, DLQ_NAME);
    const receive = sqsMock.commandCalls(ReceiveMessageCommand)[0]?.args[0].input;
    assert.equal(receive?.VisibilityTimeout, 0, 'messages stay visible for a redrive');
    assert.ok((receive?.MaxNumberOfMessages ?? 0) <= 10);
    assert.ok(isPrintable(n.email.replace(/\n/g, '')));
  });
});

/** A tunnel block as the agent writes it (common/result-schema.ts TunnelSchema). */
const fullTunnel = (t: { state: string; source: string; detail?: string }) => ({
  detail: '',
  since: null,
  reconnects: null,
  bytesIn: null,
  bytesOut: null,
  explains: false,
  ...t,
});

describe('notifier: tunnel state and path changes (issue 10 fields, read when present)', () => {
  it('tunnels-down lists the hosts whose tunnel is down, with the status text', async () => {
    const fake = new FakeLogGroups();
    fake.addRound(roundIdAt(LATEST), LATEST + 20_000, [
      {
        instanceId: instance(1),
        doc: flaggedDocument({ side: 'tunnel' }),
        tunnel: {
          state: 'down',
          source: 'openvpn3',
          detail: 'Client connection lost since 17:04:12',
          since: null,
          reconnects: 3,
          bytesIn: 0,
          bytesOut: 0,
          explains: true,
        },
      },
      {
        instanceId: instance(2),
        doc: cleanDocument(),
        tunnel: fullTunnel({ state: 'up', source: 'openvpn3', detail: 'Connected' }),
      },
      { instanceId: instance(3), doc: flaggedDocument() },
    ]);
    await notifyAlarm(stateChange('tunnels-down', 'ALARM', T), ports(fake), notifyConfig());
    const n = only();
    assert.equal(n.subject, `ALARM: 1 tunnel down [CloudConnexa ${STAGE}]`);
    assert.match(
      n.email,
      /Tunnel: down \(openvpn3\): "Client connection lost since 17:04:12"; reconnects 3, bytesIn 0/,
    );
    assert.ok(!n.email.includes(instance(2)) && !n.email.includes(instance(3)));
  });

  it('an alarm the table does not name is routed by the metrics it reads', async () => {
    const fake = new FakeLogGroups();
    fake.addRound(roundIdAt(LATEST), LATEST + 20_000, [
      {
        instanceId: instance(1),
        doc: flaggedDocument(),
        tunnel: fullTunnel({ state: 'reconnecting', source: 'openvpn2-management' }),
      },
    ]);
    const event = stateChange('tunnels-down', 'ALARM', T, undefined, {
      name: `cloudconnexa-monitor-${STAGE}-tunnel-state`,
    });
    const outcome = await notifyAlarm(event, ports(fake), notifyConfig());
    assert.equal(outcome.sent, 'rich');
    assert.match(only().email, /Tunnel: reconnecting \(openvpn2-management\)/);
  });

  it('path-changes shows where each path changed', async () => {
    const fake = new FakeLogGroups();
    fake.addRound(roundIdAt(LATEST), LATEST + 20_000, [
      {
        instanceId: instance(1),
        doc: cleanDocument(),
        pathChanges: {
          '10.0.0.1': {
            previousHops: ['10.81.0.1', '10.0.0.9', null, '10.0.0.1'],
            hops: ['10.81.0.1', '10.2.2.2', null, '10.0.0.1'],
            firstDifferentHop: 2,
          },
        },
      },
      { instanceId: instance(2), doc: cleanDocument(), pathChanges: {} },
    ]);
    await notifyAlarm(stateChange('path-changes', 'ALARM', T), ports(fake), notifyConfig());
    const n = only();
    assert.equal(n.subject, `ALARM: paths changed on 1 host [CloudConnexa ${STAGE}]`);
    assert.match(
      n.email,
      /Path change: 10\.0\.0\.1 changed at hop 2: 10\.81\.0\.1, 10\.0\.0\.9, \?\?\?, 10\.0\.0\.1 -> 10\.81\.0\.1, 10\.2\.2\.2, \?\?\?, 10\.0\.0\.1/,
    );
    assert.ok(!n.email.includes(instance(2)));
  });

  it('records without the new fields read as before', async () => {
    await notifyAlarm(stateChange('hosts-flagged', 'ALARM', T), ports(flaggedFleet()), notifyConfig());
    const email = only().email;
    assert.ok(!email.includes('Tunnel:') && !email.includes('Path change:'));
  });
});

describe('notifier: latency anomaly detection alarms (named by a prefix, not a row)', () => {
  /** A clean round whose worst latency is `ms` (below the flag threshold unless said otherwise). */
  const measuring = (hostname: string, ms: number) => {
    const doc = cleanDocument(hostname);
    const [first, ...rest] = doc.resources;
    return {
      ...doc,
      resources: first === undefined ? [] : [{ ...first, latencyMs: ms }, ...rest],
      summary: { ...doc.summary, worstLatencyMs: ms },
    };
  };

  it('fleet: the latest round’s hosts, slowest first, hosts in a window left out, with what the band means', async () => {
    // Prepare: four hosts under the flag threshold, one in a maintenance window and slower than all.
    const window = { state: 'in', until: new Date(T + 3_600_000).toISOString(), source: 'tag' } as const;
    const fake = new FakeLogGroups();
    fake.addRound(roundIdAt(EARLIER, 'aaaaaaaa'), EARLIER + 20_000, [
      { instanceId: instance(1), doc: measuring('connector-1', 20) },
    ]);
    fake.addRound(roundIdAt(LATEST), LATEST + 20_000, [
      { instanceId: instance(1), doc: measuring('connector-1', 41) },
      { instanceId: instance(2), doc: measuring('connector-2', 64) },
      { instanceId: instance(5), doc: measuring('connector-5', 52) },
      { instanceId: instance(4), doc: measuring('in-maintenance', 300), maintenance: window },
    ]);
    // Act
    const outcome = await notifyAlarm(
      stateChange('latency-anomaly-fleet', 'ALARM', T, undefined, {
        name: ANOMALY_ALARM.fleet,
        reason:
          'Thresholds Crossed: 2 out of the last 3 datapoints were greater than the upper thresholds [38.5, 38.9]',
      }),
      ports(fake),
      notifyConfig(),
    );
    // Assess
    assert.equal(outcome.sent, 'rich');
    const n = only();
    assert.equal(n.subject, `ALARM: fleet latency above its expected band [CloudConnexa ${STAGE}]`);
    assert.match(
      n.email,
      new RegExp(`Evidence \\(round ${roundIdAt(LATEST)}\\): 3 hosts measured, slowest first\\.`),
    );
    const order = n.email
      .split('\n')
      .filter((l) => l.startsWith('== '))
      .map((l) => l.split(' ')[2]);
    assert.deepEqual(order, [instance(2), instance(5), instance(1)]);
    assert.ok(!n.email.includes(instance(4)), 'the host in a window is not in WorstLatencyMs either');
    assert.match(n.email, /CloudWatch anomaly detection: the fleet's typical host latency is above/);
    assert.match(n.email, /greater than the upper thresholds \[38\.5, 38\.9\]/);
    assert.ok(n.email.includes(`#alarmsV2:alarm/${ANOMALY_ALARM.fleet}`), 'links the alarm and its band');
    assert.deepEqual(n.chat.content.title, n.subject);
  });

  it('host: that host’s latest record, named in the subject; its recovery says after how long', async () => {
    // Prepare
    const fake = new FakeLogGroups();
    fake.addRound(roundIdAt(LATEST), LATEST + 20_000, [
      { instanceId: ANOMALY_HOST, doc: measuring('connector-3', 58) },
      { instanceId: instance(2), doc: measuring('connector-2', 64) },
    ]);
    // Act
    await notifyAlarm(
      stateChange('latency-anomaly-host', 'ALARM', T, undefined, { name: ANOMALY_ALARM.host }),
      ports(fake),
      notifyConfig(),
    );
    await notifyAlarm(
      stateChange(
        'latency-anomaly-host',
        'OK',
        T + 20 * 60_000,
        { state: 'ALARM', at: T },
        { name: ANOMALY_ALARM.host },
      ),
      ports(fake, { now: () => T + 20 * 60_000 + 30_000 }),
      notifyConfig(),
    );
    // Assess
    const [alarm, ok] = published();
    assert.equal(
      alarm?.subject,
      `ALARM: ${ANOMALY_HOST} latency above its expected band [CloudConnexa ${STAGE}]`,
    );
    assert.match(alarm?.email ?? '', new RegExp(`Host: +InstanceId=${ANOMALY_HOST}`));
    assert.match(alarm?.email ?? '', new RegExp(`Evidence: the latest record of ${ANOMALY_HOST}\\.`));
    assert.match(alarm?.email ?? '', /CloudWatch anomaly detection: this host's latency is above/);
    assert.ok(!alarm?.email.includes(instance(2)), 'only the host the alarm watches');
    assert.equal(
      ok?.subject,
      `OK: ${ANOMALY_HOST} latency above its expected band: recovered after 20 min [CloudConnexa ${STAGE}]`,
    );
  });

  it('host: an OK because the host entered a maintenance window says so, not that the path recovered', async () => {
    // Prepare: the host was slow; its next round, the first in a window, is as slow, but out of
    // HostLatencyMs, so the anomaly alarm (missing data: not breaching) goes back to OK.
    const until = new Date(T + 3 * 3_600_000).toISOString();
    const window = { state: 'in', until, source: 'tag' } as const;
    const fake = new FakeLogGroups();
    fake.addRound(roundIdAt(LATEST), LATEST + 20_000, [
      { instanceId: ANOMALY_HOST, doc: measuring('connector-3', 180) },
    ]);
    fake.addRound(roundIdAt(T + 10_000, 'bbbbbbbb'), T + 15_000, [
      { instanceId: ANOMALY_HOST, doc: measuring('connector-3', 185), maintenance: window },
    ]);
    const okAt = T + 20 * 60_000;
    // Act
    await notifyAlarm(
      stateChange(
        'latency-anomaly-host',
        'OK',
        okAt,
        { state: 'ALARM', at: T },
        { name: ANOMALY_ALARM.host },
      ),
      ports(fake, { now: () => okAt + 30_000 }),
      notifyConfig(),
    );
    // Assess
    const n = only();
    assert.equal(
      n.subject,
      `OK: ${ANOMALY_HOST} latency above its expected band: quiet for maintenance [CloudConnexa ${STAGE}]`,
    );
    assert.match(
      n.email,
      new RegExp(
        `Not a recovery: ${ANOMALY_HOST} is in a maintenance window \\(until 2026-11-26 20:11:12 UTC\\)\\.`,
      ),
    );
    assert.match(n.email, /kept out of the metrics this alarm watches,\nso the alarm went quiet/);
    assert.match(n.email, /In ALARM since 2026-11-26 17:11:12 UTC \(20 min\)\./);
    assert.match(
      n.email,
      new RegExp(`== 1/1 ${ANOMALY_HOST} .*\\[maintenance until 2026-11-26 20:11:12 UTC\\]`),
    );
    assert.doesNotMatch(n.email, /Recovered after|What recovered/);
    assert.doesNotMatch(n.chat.content.description, /Recovered after/);
    assert.match(n.chat.content.description, /Not a recovery: quiet for maintenance/);
  });

  it('does not notify INSUFFICIENT_DATA (a model without data for weeks after a deploy), nor OK after it', async () => {
    const fake = new FakeLogGroups();
    const none = await notifyAlarm(
      stateChange(
        'latency-anomaly-fleet',
        'INSUFFICIENT_DATA',
        T,
        { state: 'OK', at: T - 60_000 },
        { name: ANOMALY_ALARM.fleet },
      ),
      ports(fake),
      notifyConfig(),
    );
    const okAfter = await notifyAlarm(
      stateChange(
        'latency-anomaly-fleet',
        'OK',
        T,
        { state: 'INSUFFICIENT_DATA', at: T - 60_000 },
        { name: ANOMALY_ALARM.fleet },
      ),
      ports(fake),
      notifyConfig(),
    );
    assert.equal(none.sent, 'none');
    assert.equal(okAfter.sent, 'none', 'the history shows no ALARM before the gap');
    assert.equal(published().length, 0);
  });
});

describe('notifier: many hosts, bounded', () => {
  it('keeps the e-mail under its limit: hosts in full, then one line each, then counted, and says so', async () => {
    const fake = new FakeLogGroups();
    const targets = Array.from({ length: 12 }, (_, i) => `db-${i}.corp.internal`);
    const hosts = Array.from({ length: 120 }, (_, i) => ({
      instanceId: instance(100 + i),
      doc: flaggedDocument({
        hostname: `connector-${i}`,
        targets,
        latencyMs: 100 + i,
        lossPct: i % 3 === 0 ? 40 : 0,
      }),
    }));
    fake.addRound(roundIdAt(LATEST), LATEST + 20_000, hosts);
    await notifyAlarm(stateChange('hosts-flagged', 'ALARM', T), ports(fake), notifyConfig());
    const n = only();
    assert.ok(
      Buffer.byteLength(n.email) <= NOTIFY_LIMITS.emailMaxBytes,
      `${Buffer.byteLength(n.email)} bytes`,
    );
    assert.ok(Buffer.byteLength(n.raw) <= NOTIFY_LIMITS.snsMessageMaxBytes);
    const cut =
      /Cut to fit the 16 KB message limit: of 120 hosts, (\d+) in full(?:, (\d+) without MTR)?(?:, (\d+) on one line)?(?:, (\d+) not listed)?\./.exec(
        n.email,
      );
    assert.ok(cut, 'the message says it was cut and how');
    const [full = 0, compact = 0, brief = 0, omitted = 0] = [1, 2, 3, 4].map((i) => Number(cut[i] ?? 0));
    assert.equal(full + compact + brief + omitted, 120);
    assert.ok(full >= 1 && brief >= 1 && omitted >= 1, `${full}/${compact}/${brief}/${omitted}`);
    // Most severe first: a host with loss (every third) leads.
    assert.ok(n.email.includes(`== 1/120 ${instance(217)} (connector-117)`), 'most severe first');
    assert.equal(n.subject, `ALARM: 120 hosts flagged for latency or loss [CloudConnexa ${STAGE}]`);
  });

  it('reads at most its bound of records and says more matched', async () => {
    const fake = new FakeLogGroups();
    const hosts = Array.from({ length: 320 }, (_, i) => ({
      instanceId: instance(1000 + i),
      doc: flaggedDocument({ hostname: `h${i}` }),
    }));
    fake.addRound(roundIdAt(LATEST), LATEST + 20_000, hosts);
    await notifyAlarm(stateChange('hosts-flagged', 'ALARM', T), ports(fake), notifyConfig());
    const n = only();
    assert.match(n.email, /more matched than were read/);
    const read = fake.calls.reduce((sum, c) => sum + (c.limit ?? 0), 0);
    assert.ok(read <= 100 + 300 + 100, `events requested ${read}`);
  });
});

describe('notifier: host output is untrusted', () => {
  it('escapes and bounds whatever a host reported; no host text forges a line, a heading or a chat mention', async () => {
    const evilName = 'evil\n== 1/1 i-fffffffffffffffff (forged)\nALARM: all clear\u001b[2J\u202e';
    const doc = flaggedDocument({ hostname: evilName, targets: ['db.corp.internal'] });
    const resource = doc.resources[0] as ResourceResult;
    const hops = [
      {
        ttl: 1,
        host: `hop\r\nLog stream: https://evil.example/\u0007${'x'.repeat(900)}`,
        lossPct: 0,
        sent: 10,
        lastMs: 1,
        avgMs: 1,
        bestMs: 1,
        worstMs: 1,
        stdevMs: 0,
        jitterMs: null,
      },
    ];
    const unmeasured: ResourceResult = {
      ...resource,
      target: 'unresolvable.corp.internal',
      address: null,
      hops: null,
      errors: [],
      ...unmeasuredJudgement({
        code: 'E_RESOLVE',
        message: 'could not resolve\n== 2/2 forged <!channel> `code`',
      }),
    };
    const hostile = {
      ...doc,
      warnings: [`${'w'.repeat(5000)}\nFORGED LINE`, 'second <https://evil.example|click>'],
      resources: [{ ...resource, hops }, unmeasured],
      summary: { ...doc.summary, resources: 2, flagged: 2 },
    };
    const fake = new FakeLogGroups();
    fake.addRound(roundIdAt(LATEST), LATEST + 20_000, [
      {
        instanceId: instance(1),
        doc: hostile,
        tunnel: {
          state: 'down\n== forged',
          source: '<!here>',
          detail: `\`\`\`${'d'.repeat(3000)}`,
          '<evil key>': 'x',
          nested: { a: 1 },
        },
        pathChanges: {
          'db.corp.internal': {
            previousHops: Array.from({ length: 1000 }, (_, i) => `10.0.${i}.1\n`),
            hops: 'not a list',
            firstDifferentHop: -4,
          },
        },
      },
    ]);
    // Lines matching the pattern that are not what they claim: not JSON, wrong stream, broken schema.
    fake.add(MONITOR_GROUP, instance(2), [
      {
        timestamp: LATEST + 30_000,
        message: `{"record":"result","roundId":"${roundIdAt(LATEST)}","summary":{"flagged":1},"schema":"cloudconnexa-monitor/result@1","resources":[{"target":"x\\u0000"}]}`,
      },
    ]);
    fake.add(MONITOR_GROUP, 'not-an-instance', [
      {
        timestamp: LATEST + 31_000,
        message: `{"record":"result","roundId":"${roundIdAt(LATEST)}","summary":{"flagged":1}}`,
      },
    ]);
    await notifyAlarm(stateChange('hosts-flagged', 'ALARM', T), ports(fake), notifyConfig());
    const n = only();
    const email = n.email;
    assert.ok(
      isPrintable(email.replace(/\n/g, '')),
      'no control character but the line breaks of the layout',
    );
    assert.ok(Buffer.byteLength(email) <= NOTIFY_LIMITS.emailMaxBytes);
    const headings = email.split('\n').filter((l) => l.startsWith('== '));
    assert.deepEqual(
      headings.map((h) => h.split(' ')[2]),
      [instance(1), instance(2)],
      'one heading per host, none forged',
    );
    assert.ok(
      !email
        .split('\n')
        .some(
          (l) =>
            l.startsWith('ALARM: all clear') ||
            l.startsWith('FORGED') ||
            l.startsWith('Log stream: https://evil'),
        ),
    );
    assert.match(email, /evil\\x0a== 1\/1 i-fffffffffffffffff/);
    assert.match(email, /does not read as a result document/, 'the broken record is shown as such');
    assert.ok(!email.includes('not-an-instance'), 'a stream that is not an instance is not a host');
    assert.match(email, /\(\d+ chars\)/, 'clipped values say how long they were');
    const long = email.split('\n').filter((l) => l.length > 500);
    assert.deepEqual(long, [], 'every line bounded');
    // Chat: host text only inside code spans, with no mention or link syntax.
    const description = n.chat.content.description;
    assert.ok(!description.includes('<!') && !description.includes('<https'), description);
    assert.ok(!/\n== /.test(description));
    const spans = description.split('```')[0] ?? '';
    assert.equal((spans.match(/`/g) ?? []).length % 2, 0, 'code spans are balanced');
    assert.equal(n.subject, `ALARM: 2 hosts flagged for latency or loss [CloudConnexa ${STAGE}]`);
    assert.match(n.subject, /^[\x20-\x7e]{1,100}$/);
  });
});

describe('notifier: the e-mail still goes out', () => {
  it('when the records cannot be read: the message says why', async () => {
    logsMock.on(FilterLogEventsCommand).rejects(
      Object.assign(new Error('User is not authorized to perform: logs:FilterLogEvents'), {
        name: 'AccessDeniedException',
        $metadata: { httpStatusCode: 400 },
      }),
    );
    const p = ports(new FakeLogGroups());
    logsMock.on(FilterLogEventsCommand).rejects(
      Object.assign(new Error('User is not authorized to perform: logs:FilterLogEvents'), {
        name: 'AccessDeniedException',
        $metadata: { httpStatusCode: 400 },
      }),
    );
    const outcome = await notifyAlarm(stateChange('hosts-flagged', 'ALARM', T), p, notifyConfig());
    assert.equal(outcome.sent, 'rich');
    const n = only();
    assert.match(
      n.email,
      /Evidence notes:\n {2}- the latest round: AccessDeniedException: User is not authorized/,
    );
    assert.equal(n.subject, `ALARM: hosts flagged for latency or loss [CloudConnexa ${STAGE}]`);
  });

  it('when the evidence takes too long: it stops at its budget and sends what it has', async () => {
    const hanging: LogSearch = {
      search: (_query, signal) =>
        new Promise((_resolve, reject) => {
          signal.addEventListener('abort', () => reject(signal.reason), { once: true });
        }),
    };
    const outcome = await notifyAlarm(
      stateChange('hosts-flagged', 'ALARM', T),
      ports(new FakeLogGroups(), { logs: hanging }),
      notifyConfig(),
      { evidenceBudgetMs: 1_000 },
    );
    assert.equal(outcome.sent, 'rich');
    assert.match(only().email, /the latest round: stopped: the evidence time budget ran out/);
  });

  it('when SNS refuses the evidence message, the plain one goes out; when it refuses both, the invocation fails for Lambda to retry', async () => {
    snsMock
      .on(PublishCommand)
      .rejectsOnce(
        Object.assign(new Error('Invalid parameter: Message'), { name: 'InvalidParameterException' }),
      )
      .resolves({ MessageId: 'plain-1' });
    const outcome = await notifyAlarm(
      stateChange('hosts-flagged', 'ALARM', T),
      ports(flaggedFleet()),
      notifyConfig(),
    );
    assert.equal(outcome.sent, 'plain');
    const [rich, plain] = published();
    assert.ok(rich !== undefined && plain !== undefined);
    assert.equal(plain.subject, `ALARM: cloudconnexa-monitor-${STAGE}-hosts-flagged [CloudConnexa ${STAGE}]`);
    assert.match(
      plain.email,
      /The notification with the evidence could not be sent: InvalidParameterException/,
    );
    assert.equal(snsMock.commandCalls(PublishCommand)[1]?.args[0].input.MessageStructure, undefined);

    snsMock.reset();
    snsMock.on(PublishCommand).rejects(Object.assign(new Error('throttled'), { name: 'ThrottledException' }));
    await assert.rejects(
      notifyAlarm(stateChange('hosts-flagged', 'ALARM', T), ports(flaggedFleet()), notifyConfig()),
      /throttled/,
    );
  });

  it('when the evidence message hangs in SNS, it is given up within the time left and the plain one goes out', async () => {
    const plainSent: string[] = [];
    const hangingPublisher: Publisher = {
      publish: (_message, signal) =>
        new Promise((_resolve, reject) => {
          signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
        }),
      publishPlain: async (message) => {
        plainSent.push(message.text);
        return 'plain-2';
      },
    };
    const outcome = await notifyAlarm(
      stateChange('hosts-flagged', 'ALARM', T),
      ports(flaggedFleet(), { publisher: hangingPublisher }),
      notifyConfig(),
      { remainingMs: () => 2_500 },
    );
    assert.equal(outcome.sent, 'plain');
    assert.match(plainSent[0] ?? '', /could not be sent: TimeoutError/);
  });

  it('a malformed event is an error naming the field (Lambda retries, then the on-failure destination sends it as it is)', async () => {
    const event = stateChange('hosts-flagged', 'ALARM', T);
    (event.detail.state as { value: string }).value = 'ON_FIRE';
    await assert.rejects(
      notifyAlarm(event, ports(new FakeLogGroups()), notifyConfig()),
      /alarm event detail\.state\.value "ON_FIRE" is not allowed/,
    );
  });
});
