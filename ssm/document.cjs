// Package-time resolver for serverless.yml: `${file(./ssm/document.cjs):content}`.
// osls loads `.cjs` files with require() and calls an exported function with
// resolveVariable, so this thin CommonJS shim loads the TypeScript generator
// through tsx (a devDependency) and reads the stage params it needs.
'use strict';

const { require: tsxRequire } = require('tsx/cjs/api');

module.exports = async ({ resolveVariable }) => {
  const generator = tsxRequire('./document.ts', __filename);
  // The stage params that carry agent settings, judged by the agent's grammar
  // (stack/agent-settings.ts): a bad one fails packaging naming the param.
  const settings = tsxRequire('../stack/agent-settings.ts', __filename);
  const params = {};
  for (const param of Object.keys(settings.AGENT_SETTING_PARAMS)) {
    params[param] = String(await resolveVariable(`param:${param}`));
  }
  const defaults = {
    ...settings.parseAgentSettingParams(params),
    AllowInstall: String(await resolveVariable('param:allowInstall')),
  };
  const executionTimeoutSeconds = Number(await resolveVariable('param:executionTimeoutSeconds'));
  const agentPath = generator.resolveAgentPath(process.env);
  const content = generator.buildDocument({ agentPath, executionTimeoutSeconds, defaults });
  // What the Resources parameter admits beside this agent: dispatch's limit for a list.
  const resourcesMaxChars = String(generator.documentResourcesMaxChars(content));
  return { content, stepName: generator.RUN_STEP_NAME, resourcesMaxChars };
};
