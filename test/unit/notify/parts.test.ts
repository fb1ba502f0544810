/**
 * The notifier's parts on their own: reading CloudWatch's alarm events (the
 * examples of the CloudWatch User Guide, "Alarm events and EventBridge"),
 * which changes are notified, console deep links, subjects, and the escaping
 * every host value goes through.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseAlarmEvent, parseAlarmTimestamp } from '../../../functions/notify/alarm-event.ts';
import { formatDuration, transitionTarget } from '../../../functions/notify/alarm-history.ts';
import { classifyAlarm, STACK_ALARMS, shouldNotify } from '../../../functions/notify/alarm-kinds.ts';
import {
  alarmLink,
  consolePathPart,
  dashboardLink,
  logGroupLink,
  logStreamLink,
} from '../../../functions/notify/console-links.ts';
import { readDeadLetter } from '../../../functions/notify/dead-letters.ts';
import { inRound, PATTERNS } from '../../../functions/notify/record-patterns.ts';
import { asciiSubject, chatCode, cutBytes, show } from '../../../functions/notify/safe-text.ts';
import { filterPatternMatches } from '../../helpers/filter-pattern.ts';
import { contributorChange, PREFIX, stateChange } from './fixtures.ts';

/** The single-metric example of the CloudWatch User Guide, as given. */
const GUIDE_SINGLE_METRIC = {
  version: '0',
  id: 'c4c1c1c9-6542-e61b-6ef0-8c4d36933a92',
  'detail-type': 'CloudWatch Alarm State Change',
  source: 'aws.cloudwatch',
  account: '123456789012',
  time: '2019-10-02T17:04:40Z',
  region: 'us-east-1',
  resources: ['arn:aws:cloudwatch:us-east-1:123456789012:alarm:ServerCpuTooHigh'],
  detail: {
    alarmName: 'ServerCpuTooHigh',
    configuration: {
      description: 'Goes into alarm when server CPU utilization is too high!',
      metrics: [
        {
          id: '30b6c6b2-a864-43a2-4877-c09a1afc3b87',
          metricStat: {
            metric: {
              dimensions: { InstanceId: 'i-12345678901234567' },
              name: 'CPUUtilization',
              namespace: 'AWS/EC2',
            },
            period: 300,
            stat: 'Average',
          },
          returnData: true,
        },
      ],
    },
    previousState: {
      reason:
        'Threshold Crossed: 1 out of the last 1 datapoints [0.0666851903306472 (01/10/19 13:46:00)] was not greater than the threshold (50.0) (minimum 1 datapoint for ALARM -> OK transition).',
      reasonData: '{"version":"1.0"}',
      timestamp: '2019-10-01T13:56:40.987+0000',
      value: 'OK',
    },
    state: {
      reason:
        'Threshold Crossed: 1 out of the last 1 datapoints [99.50160229693434 (02/10/19 16:59:00)] was greater than the threshold (50.0) (minimum 1 datapoint for OK -> ALARM transition).',
      reasonData: '{"version":"1.0"}',
      timestamp: '2019-10-02T17:04:40.989+0000',
      value: 'ALARM',
    },
  },
};

/** The guide's Metrics Insights contributor example. */
const GUIDE_CONTRIBUTOR = {
  version: '0',
  id: '6d226bbc-07f0-9a31-3359-1736968f8ded',
  'detail-type': 'CloudWatch Alarm Contributor State Change',
  source: 'aws.cloudwatch',
  account: '123456789012',
  time: '2025-12-01T13:42:04Z',
  region: 'us-east-1',
  resources: ['arn:aws:cloudwatch:us-east-1:123456789012:alarm:DynamoDBInsightsAlarm'],
  detail: {
    alarmName: 'DynamoDBInsightsAlarm',
    alarmContributor: { id: '6d442278dba546f6', attributes: { TableName: 'example-dynamodb-table-name' } },
    state: {
      value: 'ALARM',
      reason: 'Threshold Crossed: 1 datapoint was less than the threshold (1.0).',
      timestamp: '2025-12-01T13:42:04.919+0000',
    },
    configuration: {
      metrics: [
        {
          id: 'm1',
          expression:
            'SELECT AVG(ConsumedWriteCapacityUnits) FROM "AWS/DynamoDB" GROUP BY TableName ORDER BY MAX() DESC',
          returnData: true,
          period: 60,
        },
      ],
      description: 'Metrics Insights alarm for DynamoDB ConsumedWriteCapacity per TableName',
    },
  },
};

describe('parseAlarmEvent', () => {
  it("reads the guide's single-metric example: states, times, reason, metric, period, ARN parts", () => {
    const change = parseAlarmEvent(GUIDE_SINGLE_METRIC);
    assert.equal(change.alarmName, 'ServerCpuTooHigh');
    assert.equal(change.state, 'ALARM');
    assert.equal(change.at, Date.parse('2019-10-02T17:04:40.989Z'));
    assert.deepEqual(change.previous, {
      state: 'OK',
      at: Date.parse('2019-10-01T13:56:40.987Z'),
      reason: GUIDE_SINGLE_METRIC.detail.previousState.reason,
    });
    assert.equal(change.contributor, null);
    assert.deepEqual(change.metricNames, ['CPUUtilization']);
    assert.equal(change.periodSeconds, 300);
    assert.deepEqual(change.dimensions, { InstanceId: 'i-12345678901234567' });
    assert.equal(change.grouped, false);
    assert.equal(change.partition, 'aws');
    assert.equal(change.region, 'us-east-1');
    assert.equal(change.account, '123456789012');
  });

  it("reads the guide's contributor example: contributor id and attributes, no previous state, GROUP BY", () => {
    const change = parseAlarmEvent(GUIDE_CONTRIBUTOR);
    assert.deepEqual(change.contributor, {
      id: '6d442278dba546f6',
      attributes: { TableName: 'example-dynamodb-table-name' },
    });
    assert.equal(change.previous, null);
    assert.equal(change.grouped, true);
    assert.deepEqual(change.metricNames, ['ConsumedWriteCapacityUnits']);
    assert.equal(change.periodSeconds, 60);
  });

  it('names the field that is missing or malformed', () => {
    assert.throws(
      () =>
        parseAlarmEvent({ ...GUIDE_SINGLE_METRIC, 'detail-type': 'EC2 Instance State-change Notification' }),
      /alarm event detail-type "EC2 Instance State-change Notification" is not allowed/,
    );
    assert.throws(
      () =>
        parseAlarmEvent({
          ...GUIDE_SINGLE_METRIC,
          detail: { ...GUIDE_SINGLE_METRIC.detail, state: { value: 'ALARM', timestamp: 'yesterday' } },
          time: 'nope',
        }),
      /detail\.state\.timestamp/,
    );
    assert.throws(() => parseAlarmEvent('{}'), /an EventBridge event object/);
  });

  it("reads CloudWatch's +0000 zone, which ECMAScript's date format lacks", () => {
    assert.equal(parseAlarmTimestamp('2019-10-02T17:04:40.989+0000'), Date.parse('2019-10-02T17:04:40.989Z'));
    assert.equal(parseAlarmTimestamp('2019-10-02T19:04:40.989+0200'), Date.parse('2019-10-02T17:04:40.989Z'));
    assert.equal(parseAlarmTimestamp('soon'), null);
  });
});

describe('which alarm changes are notified', () => {
  const decide = (
    suffix: string,
    state: 'OK' | 'ALARM' | 'INSUFFICIENT_DATA',
    previous: 'OK' | 'ALARM' | 'INSUFFICIENT_DATA' | null,
    options: { contributor?: boolean; grouped?: boolean } = {},
  ) =>
    shouldNotify(classifyAlarm(`${PREFIX}${suffix}`, PREFIX, []), {
      state,
      previousState: previous,
      contributor: options.contributor ?? false,
      groupedParent: options.grouped ?? false,
    }).decision;

  it('ALARM always; OK after ALARM but for an event alarm; the blind alarm also for no data and OK after it', () => {
    for (const { suffix, event } of STACK_ALARMS) {
      assert.equal(decide(suffix, 'ALARM', 'OK'), 'notify', suffix);
      assert.equal(decide(suffix, 'OK', 'ALARM'), event === true ? 'skip' : 'notify', suffix);
    }
    // A path change is an event: the round after it returns the alarm to OK, which is no recovery.
    assert.equal(decide('path-changes', 'OK', 'ALARM'), 'skip');
    assert.equal(
      shouldNotify(classifyAlarm(`${PREFIX}new-thing`, PREFIX, ['PathChanges']), {
        state: 'OK',
        previousState: 'ALARM',
        contributor: false,
        groupedParent: false,
      }).decision,
      'skip',
      'classified by its metric, the same rule',
    );
    assert.equal(decide('monitoring-blind', 'INSUFFICIENT_DATA', 'OK'), 'notify');
    assert.equal(decide('monitoring-blind', 'OK', 'INSUFFICIENT_DATA'), 'notify');
    assert.equal(decide('hosts-flagged', 'INSUFFICIENT_DATA', 'OK'), 'skip');
    assert.equal(decide('hosts-flagged', 'OK', 'INSUFFICIENT_DATA'), 'if-alarm-before');
  });

  it('per-host alarms: each contributor, never the alarm-level change', () => {
    assert.equal(decide('worst-host-latency', 'ALARM', 'OK', { grouped: true }), 'skip');
    assert.equal(decide('worst-host-latency', 'ALARM', null, { contributor: true, grouped: true }), 'notify');
    assert.equal(decide('worst-host-loss', 'OK', null, { contributor: true, grouped: true }), 'notify');
  });

  it('classifies an alarm by the table, else by the metrics it reads', () => {
    assert.equal(classifyAlarm(`${PREFIX}collect-dlq-not-empty`, PREFIX, []).kind, 'dead-letter');
    assert.equal(classifyAlarm(`${PREFIX}new-thing`, PREFIX, ['TunnelsDown']).kind, 'tunnels-down');
    assert.equal(classifyAlarm(`${PREFIX}new-thing`, PREFIX, ['PathChanges']).kind, 'path-changes');
    assert.equal(classifyAlarm(`${PREFIX}new-thing`, PREFIX, ['HostJitterMs']).kind, 'other');
    assert.equal(
      classifyAlarm('cloudconnexa-monitor-qa-hosts-flagged', PREFIX, []).kind,
      'other',
      'another stage is not ours',
    );
  });
});

describe('alarm history', () => {
  it('reads the state an item moved to from HistoryData, else from its summary', () => {
    assert.equal(
      transitionTarget(
        '{"version":"1.0","oldState":{"stateValue":"OK"},"newState":{"stateValue":"ALARM"}}',
        undefined,
      ),
      'ALARM',
    );
    assert.equal(transitionTarget('not json', 'Alarm updated from ALARM to OK'), 'OK');
    assert.equal(transitionTarget(undefined, 'Contributor state updated to ALARM'), 'ALARM');
    assert.equal(transitionTarget(undefined, 'Alarm "x" updated'), null);
  });

  it('formats durations in their two largest units', () => {
    assert.equal(formatDuration(45_000), '45 s');
    assert.equal(formatDuration(25 * 60_000), '25 min');
    assert.equal(formatDuration(85 * 60_000), '1 h 25 min');
    assert.equal(formatDuration(3 * 3_600_000), '3 h');
    assert.equal(formatDuration(51 * 3_600_000 + 5 * 60_000), '2 d 3 h');
  });
});

describe('console deep links', () => {
  const target = { partition: 'aws', region: 'eu-west-1' };

  it('encodes log group and stream names twice with % written $, as the console does', () => {
    assert.equal(consolePathPart('/aws/lambda/x-dispatch'), '$252Faws$252Flambda$252Fx-dispatch');
    assert.equal(consolePathPart('2026/11/26/[$LATEST]ab'), '2026$252F11$252F26$252F$255B$2524LATEST$255Dab');
    assert.equal(
      logStreamLink(target, '/aws/lambda/x', 'i-0123456789abcdef0', { start: 1_000.4, end: 2_000.2 }),
      'https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#logsV2:log-groups/log-group/$252Faws$252Flambda$252Fx/log-events/i-0123456789abcdef0$3Fstart$3D1000$26end$3D2001',
    );
    assert.equal(
      logGroupLink(target, 'CloudConnexa-Monitor-Logs'),
      'https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#logsV2:log-groups/log-group/CloudConnexa-Monitor-Logs',
    );
  });

  it('links dashboards and alarms, and the console of each partition', () => {
    assert.equal(
      dashboardLink(target, 'cloudconnexa-monitor-prod'),
      'https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#dashboards/dashboard/cloudconnexa-monitor-prod',
    );
    assert.equal(
      alarmLink(target, 'a b/c'),
      'https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#alarmsV2:alarm/a%20b%2Fc',
    );
    assert.match(
      dashboardLink({ partition: 'aws-cn', region: 'cn-north-1' }, 'd'),
      /^https:\/\/cn-north-1\.console\.amazonaws\.cn\//,
    );
    assert.match(
      dashboardLink({ partition: 'aws-us-gov', region: 'us-gov-west-1' }, 'd'),
      /^https:\/\/console\.amazonaws-us-gov\.com\/cloudwatch\/home\?region=us-gov-west-1#/,
    );
    assert.throws(
      () => dashboardLink({ partition: 'aws', region: 'evil.example/x' }, 'd'),
      /not an AWS region/,
    );
  });
});

describe('escaping host values', () => {
  it('shows control characters as escapes and says how long a clipped value was', () => {
    assert.equal(show('a\nb\u001b[2J\u202e', 100), 'a\\x0ab\\x1b[2J\\u202e');
    assert.equal(show('x'.repeat(50), 20), `${'x'.repeat(8)}… (50 chars)`);
    assert.equal(show('x'.repeat(50), 20).length, 20);
    assert.equal(show(null, 10), '-');
  });

  it('sets chat values in code spans where no markup, link or mention works', () => {
    assert.equal(chatCode('<!channel> `rm -rf` <https://x|y>', 100), '`‹!channel› ˋrm -rfˋ ‹https://x|y›`');
  });

  it('keeps subjects to printable ASCII on one line, at most the length given', () => {
    assert.equal(asciiSubject('ALARM:\r\nhöst 💥 down', 100), 'ALARM: h?st ?? down');
    assert.equal(asciiSubject('  -- x', 100), 'x');
    const long = asciiSubject(`ALARM: ${'y'.repeat(200)}`, 100);
    assert.equal(long.length, 100);
    assert.ok(long.endsWith('...'));
  });

  it('cuts UTF-8 on character boundaries', () => {
    assert.equal(cutBytes('€€€', 7), '€€');
    assert.equal(Buffer.byteLength(cutBytes('a'.repeat(10), 4)), 4);
  });
});

describe('record patterns', () => {
  it('narrow a JSON pattern to one round, and refuse round ids that could break out of it', () => {
    assert.equal(
      inRound(PATTERNS.flagged, '20261126T171112Z-04cddcfb'),
      '{ ($.roundId = "20261126T171112Z-04cddcfb") && (($.record = "result") && ($.summary.flagged > 0)) }',
    );
    assert.equal(inRound(PATTERNS.flagged, 'x") || ($.record = "result'), null);
    assert.equal(
      inRound(PATTERNS.pathChanged, 'r-1'),
      PATTERNS.pathChanged,
      'term patterns stay as they are',
    );
  });

  it('match the records they are for and not the seed line or MTR text', () => {
    const flagged = '{"record":"result","roundId":"r","summary":{"flagged":2},"tunnel":{"state":"down"}}';
    const clean = '{"record":"result","roundId":"r","summary":{"flagged":0}}';
    const seed = '{"HOSTNAME":"h","LATENCY_FLAG":"1","LOSS_FLAG":"0"}';
    assert.ok(filterPatternMatches(PATTERNS.flagged, flagged));
    assert.ok(!filterPatternMatches(PATTERNS.flagged, clean));
    assert.ok(!filterPatternMatches(PATTERNS.flagged, seed));
    assert.ok(!filterPatternMatches(PATTERNS.flagged, 'RESOURCE MTR: 20260101120000 (Hop, Avg, Loss%)'));
    assert.ok(filterPatternMatches(PATTERNS.tunnelNotUp, flagged));
    assert.ok(!filterPatternMatches(PATTERNS.tunnelNotUp, clean), 'no tunnel field: no match');
    assert.ok(filterPatternMatches(PATTERNS.notChecked, '{"record":"blind"}'));
    assert.ok(filterPatternMatches(PATTERNS.dispatchErrors, 'x Task timed out after 240.00 seconds'));
  });
});

describe('dead-letter messages', () => {
  it('take only well-formed instance ids and bounded text from a message body', () => {
    const note = readDeadLetter(
      JSON.stringify({
        commandId: 'c',
        roundId: 'r',
        instanceIds: ['i-0123456789abcdef0', 'evil; rm -rf', 7],
        lastError: 'x'.repeat(5000),
      }),
    );
    assert.deepEqual(note.instanceIds, ['i-0123456789abcdef0']);
    assert.equal(note.lastError?.length, 1_000);
    assert.equal(readDeadLetter('garbage').kind, 'unknown');
  });
});

describe('fixtures match the guide', () => {
  it('the test events have the shape of the guide examples', () => {
    const ours = parseAlarmEvent(stateChange('hosts-flagged', 'ALARM', Date.parse('2026-11-26T17:11:12Z')));
    assert.equal(ours.periodSeconds, 300);
    const contributor = parseAlarmEvent(
      contributorChange(
        'worst-host-latency',
        'ALARM',
        Date.parse('2026-11-26T17:11:12Z'),
        'i-00000000000000002',
      ),
    );
    assert.equal(contributor.grouped, true);
    assert.deepEqual(Object.keys(contributor.contributor?.attributes ?? {}), ['InstanceId']);
  });
});
