// Package-time resolver for serverless.yml: the notifier's resources
// (`resources: - ${file(./stack/notify.cjs):fragment}`) and the webhook URL
// parameter's name for its environment, from the stage parameters. The logic
// is stack/notify.ts, loaded through tsx (a devDependency) as stack/log-group.cjs does.
'use strict';

const { require: tsxRequire } = require('tsx/cjs/api');

module.exports = async ({ resolveVariable }) => {
  const { planNotify } = tsxRequire('./notify.ts', __filename);
  const { anomalyAlarmNames } = tsxRequire('./history-alarms.ts', __filename);
  const sensitivity = require('./alarm-sensitivity.cjs');
  const value = async (name) => String(await resolveVariable(name));
  const param = (name) => value(`param:${name}`);
  const plan = planNotify({
    service: await value('self:service'),
    stage: await value('sls:stage'),
    logGroupName: await param('logGroupName'),
    webhookUrlParameter: await param('webhookUrlParameter'),
    slackWorkspaceId: await param('slackWorkspaceId'),
    slackChannelId: await param('slackChannelId'),
    teamsTenantId: await param('teamsTenantId'),
    teamsTeamId: await param('teamsTeamId'),
    teamsChannelId: await param('teamsChannelId'),
    notifierFailingAlarm: (await sensitivity({ resolveVariable })).notifierFailing,
    // The same names stack/history-alarms.cjs gives the alarms, from the same params.
    anomalyAlarmNames: anomalyAlarmNames({
      service: await value('self:service'),
      stage: await value('sls:stage'),
      latencyAnomalyAlarms: await param('latencyAnomalyAlarms'),
      metricGranularity: await param('metricGranularity'),
    }),
  });
  return { fragment: plan.fragment, webhookParameter: plan.webhookParameter };
};
