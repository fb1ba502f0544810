// Package-time resolver for serverless.yml: the optional path-change and
// latency anomaly alarms (`resources: - ${file(./stack/history-alarms.cjs):fragment}`),
// decided by the pathChangeAlarm and latencyAnomalyAlarms params. The logic is
// stack/history-alarms.ts, loaded through tsx (a devDependency) as the other
// resolvers do.
'use strict';

const { require: tsxRequire } = require('tsx/cjs/api');

module.exports = async ({ resolveVariable }) => {
  const { planHistoryAlarms } = tsxRequire('./history-alarms.ts', __filename);
  const sensitivity = await require('./alarm-sensitivity.cjs')({ resolveVariable });
  const param = async (name) => String(await resolveVariable(`param:${name}`));
  const plan = planHistoryAlarms({
    service: String(await resolveVariable('self:service')),
    stage: String(await resolveVariable('sls:stage')),
    pathChangeAlarm: await param('pathChangeAlarm'),
    latencyAnomalyAlarms: await param('latencyAnomalyAlarms'),
    alarmPeriodSeconds: await param('alarmPeriodSeconds'),
    metricGranularity: await param('metricGranularity'),
    pathChangesAlarm: sensitivity.pathChanges,
    latencyAnomalyAlarm: sensitivity.latencyAnomaly,
  });
  return { fragment: plan.fragment };
};
