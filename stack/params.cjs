// Package-time resolver for serverless.yml: `params: default:
// ${file(./stack/params.cjs):defaults}`. The defaults are written once, in
// common/stack-params.ts (agent settings from common/settings.ts DEFAULTS);
// this CommonJS shim loads them through tsx (a devDependency), as
// ssm/document.cjs does for the document.
'use strict';

const { require: tsxRequire } = require('tsx/cjs/api');

module.exports = async () => {
  const { STACK_PARAM_DEFAULTS } = tsxRequire('../common/stack-params.ts', __filename);
  return { defaults: { ...STACK_PARAM_DEFAULTS } };
};
