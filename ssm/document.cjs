// Package-time resolver for serverless.yml: `${file(./ssm/document.cjs):content}`.
// osls loads `.cjs` files with require() and calls an exported function with
// resolveVariable, so this thin CommonJS shim loads the TypeScript generator
// through tsx (a devDependency) and reads the stage params it needs.
'use strict';

const { require: tsxRequire } = require('tsx/cjs/api');

// Stage param -> document parameter whose default it sets.
const PARAM_DEFAULTS = {
  resources: 'Resources',
  count: 'Count',
  intervalSec: 'IntervalSec',
  latencyThresholdMs: 'LatencyThresholdMs',
  lossThresholdPct: 'LossThresholdPct',
  hops: 'Hops',
  lossRule: 'LossRule',
  tcpPort: 'TcpPort',
  baselineFlag: 'BaselineFlag',
  logDir: 'LogDir',
  allowInstall: 'AllowInstall',
};

module.exports = async ({ resolveVariable }) => {
  const generator = tsxRequire('./document.ts', __filename);
  const defaults = {};
  for (const [param, name] of Object.entries(PARAM_DEFAULTS)) {
    defaults[name] = String(await resolveVariable(`param:${param}`));
  }
  const executionTimeoutSeconds = Number(await resolveVariable('param:executionTimeoutSeconds'));
  const agentPath = generator.resolveAgentPath(process.env);
  const content = generator.buildDocument({ agentPath, executionTimeoutSeconds, defaults });
  // What the Resources parameter admits beside this agent: dispatch's limit for a list.
  const resourcesMaxChars = String(generator.documentResourcesMaxChars(content));
  return { content, stepName: generator.RUN_STEP_NAME, resourcesMaxChars };
};
