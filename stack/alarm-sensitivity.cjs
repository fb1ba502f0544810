// Package-time resolver for serverless.yml: each alarm's M of N
// (`${file(./stack/alarm-sensitivity.cjs):hostsFlagged.datapoints}` and
// `.periods`), checked by stack/alarm-sensitivity.ts so a bad value fails
// `serverless package` naming the param. Also checks the maintenanceUntil
// param's format and its 30-day bound against the packaging clock
// (functions/dispatch/maintenance.ts). Loaded through tsx (a devDependency),
// as stack/log-group.cjs does.
'use strict';

const { require: tsxRequire } = require('tsx/cjs/api');

module.exports = async ({ resolveVariable }) => {
  const sensitivity = tsxRequire('./alarm-sensitivity.ts', __filename);
  const maintenance = tsxRequire('../functions/dispatch/maintenance.ts', __filename);
  const params = {};
  for (const name of sensitivity.sensitivityParams()) {
    params[name] = String(await resolveVariable(`param:${name}`));
  }
  const until = String(await resolveVariable('param:maintenanceUntil'));
  if (until !== '') maintenance.parseMaintenanceUntil(until, 'param maintenanceUntil', Date.now());
  const parsed = sensitivity.parseAlarmSensitivity(params);
  return {
    ...parsed,
    deadLetterQueuePeriod: sensitivity.DEAD_LETTER_QUEUE_ALARM_PERIOD_SECONDS,
    // The most periods any alarm evaluates: how far back the evidence of a change may lie.
    maxPeriods: Math.max(...Object.values(parsed).map((a) => a.periods)),
  };
};
