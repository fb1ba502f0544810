// Package-time resolver for serverless.yml: the Parameter Store path prefix the
// dispatcher may read resource lists from, and the stage's default list
// parameter, both checked here (and the `resources` param's length) so a bad value fails `serverless package`
// instead of the first round (rules: functions/dispatch/resource-parameters.ts).
'use strict';

const { require: tsxRequire } = require('tsx/cjs/api');

module.exports = async ({ resolveVariable }) => {
  const rules = tsxRequire('../functions/dispatch/resource-parameters.ts', __filename);
  const { STAGE_RESOURCES_MAX_CHARS } = tsxRequire('../common/stack-params.ts', __filename);
  const { InvalidInputError } = tsxRequire('../common/errors.ts', __filename);
  const resources = String(await resolveVariable('param:resources'));
  if (resources.length > STAGE_RESOURCES_MAX_CHARS) {
    throw new InvalidInputError(
      'param resources',
      resources,
      `at most ${STAGE_RESOURCES_MAX_CHARS} characters: Lambda allows 4 KB of environment in all; keep a long list in Parameter Store and name it with the resourcesParameter param`,
    );
  }
  const path = rules.parseParameterPath(
    String(await resolveVariable('param:resourcesParameterPath')),
    'param resourcesParameterPath',
  );
  const given = String(await resolveVariable('param:resourcesParameter'));
  const defaultParameter =
    given === '' ? '' : rules.parseParameterName(given, 'param resourcesParameter', path);
  return { path, defaultParameter };
};
