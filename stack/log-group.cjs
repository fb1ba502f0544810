// Package-time resolver for serverless.yml: the central log group's resources
// (`resources: - ${file(./stack/log-group.cjs):fragment}`) and the functions'
// DependsOn, decided by the adoptLogGroup param. The logic is stack/log-group.ts,
// loaded through tsx (a devDependency) as ssm/document.cjs does.
'use strict';

const { require: tsxRequire } = require('tsx/cjs/api');

module.exports = async ({ resolveVariable }) => {
  const { planLogGroup } = tsxRequire('./log-group.ts', __filename);
  const names = tsxRequire('../common/metric-names.ts', __filename);
  const param = async (name) => String(await resolveVariable(`param:${name}`));
  const plan = planLogGroup(
    {
      logGroupName: await param('logGroupName'),
      adoptLogGroup: await param('adoptLogGroup'),
      logRetentionDays: await param('logRetentionDays'),
    },
    { pattern: names.LEGACY_FILTER_PATTERN, namespace: names.METRIC_NAMESPACE, metric: names.LEGACY_METRIC },
  );
  return { fragment: plan.fragment, dependsOn: plan.dependsOn };
};
