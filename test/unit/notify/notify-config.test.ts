import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidInputError } from '../../../common/errors.ts';
import {
  DEFAULT_EVALUATION_PERIODS,
  loadNotifyConfig,
  lookbackMs,
} from '../../../functions/notify/notify-config.ts';

const ENV = {
  ALARM_TOPIC_ARN: 'arn:aws:sns:eu-west-1:123456789012:cloudconnexa-monitor-prod-AlarmTopic-ABC',
  POWERTOOLS_SERVICE_NAME: 'cloudconnexa-monitor-prod',
  STAGE: 'prod',
  AWS_REGION: 'eu-west-1',
  LOG_GROUP_NAME: 'CloudConnexa-Monitor-Logs',
  COMMAND_TIMEOUT_SECONDS: '120',
  EXECUTION_TIMEOUT_SECONDS: '240',
  DEFAULT_LATENCY_THRESHOLD_MS: '75',
  DEFAULT_LOSS_THRESHOLD_PCT: '5',
  DEFAULT_HOPS: '3',
};

describe('notifier config: how far back the evidence may lie', () => {
  it('reads the longest M of N window from ALARM_MAX_PERIODS, the default N without it', () => {
    // Prepare, Act
    const byDefault = loadNotifyConfig(ENV);
    const longer = loadNotifyConfig({ ...ENV, ALARM_MAX_PERIODS: '6' });
    // Assess: N periods of the alarm, then the round's command and execution timeouts.
    assert.equal(byDefault.evaluationPeriods, DEFAULT_EVALUATION_PERIODS);
    assert.equal(lookbackMs(300, byDefault), (3 * 300 + 120 + 240) * 1000);
    assert.equal(lookbackMs(300, longer), (6 * 300 + 120 + 240) * 1000);
  });

  it('refuses an ALARM_MAX_PERIODS that is not a whole number of periods, naming it', () => {
    for (const bad of ['0', '2.5', 'six', '-3']) {
      assert.throws(
        () => loadNotifyConfig({ ...ENV, ALARM_MAX_PERIODS: bad }),
        (error: unknown) => error instanceof InvalidInputError && /ALARM_MAX_PERIODS/.test(error.message),
        bad,
      );
    }
  });
});
