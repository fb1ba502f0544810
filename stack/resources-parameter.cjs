// Package-time resolver for serverless.yml: the Parameter Store path prefix the
// dispatcher may read resource lists from, and the stage's default list
// parameter, both checked here so a bad value fails `serverless package`
// instead of the first round (rules: functions/dispatch/resource-parameters.ts).
'use strict';

const { require: tsxRequire } = require('tsx/cjs/api');

module.exports = async ({ resolveVariable }) => {
  const rules = tsxRequire('../functions/dispatch/resource-parameters.ts', __filename);
  const path = rules.parseParameterPath(
    String(await resolveVariable('param:resourcesParameterPath')),
    'param resourcesParameterPath',
  );
  const given = String(await resolveVariable('param:resourcesParameter'));
  const defaultParameter =
    given === '' ? '' : rules.parseParameterName(given, 'param resourcesParameter', path);
  return { path, defaultParameter };
};
