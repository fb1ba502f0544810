// Package-time resolver for serverless.yml: the monitor host's resources
// (`resources: - ${file(./stack/monitor-host.cjs):fragment}`), empty unless
// the monitorHost param is true. The logic is stack/monitor-host.ts, loaded
// through tsx (a devDependency) as stack/log-group.cjs does.
'use strict';

const { require: tsxRequire } = require('tsx/cjs/api');

const PARAMS = [
  'monitorHost',
  'connectorTokenParameter',
  'connectorTokenKmsKeyArn',
  'monitorHostSubnetId',
  'monitorHostVpcId',
  'monitorHostInstanceType',
  'monitorHostImageParameter',
  'monitorHostRoutesTraffic',
  'tagKey',
  'tagValue',
];

module.exports = async ({ resolveVariable }) => {
  const { parseMonitorHostParams, monitorHostFragment } = tsxRequire('./monitor-host.ts', __filename);
  const params = {};
  for (const name of PARAMS) params[name] = String(await resolveVariable(`param:${name}`));
  const settings = parseMonitorHostParams(params);
  const names = {
    service: String(await resolveVariable('self:service')),
    stage: String(await resolveVariable('sls:stage')),
  };
  return { fragment: monitorHostFragment(settings, names) };
};
