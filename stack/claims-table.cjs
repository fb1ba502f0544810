// Package-time resolver for serverless.yml: the claim table's resources
// (`resources: - ${file(./stack/claims-table.cjs):fragment}`), its name for the
// functions' environment, and the functions' DependsOn: the central log group's
// (stack/log-group.cjs) plus the claim policies, so a function is created or
// updated only once it may use the table. The logic is stack/claims-table.ts,
// loaded through tsx (a devDependency) as stack/log-group.cjs does.
'use strict';

const { require: tsxRequire } = require('tsx/cjs/api');
const logGroup = require('./log-group.cjs');

module.exports = async (resolver) => {
  const table = tsxRequire('./claims-table.ts', __filename);
  const { dependsOn } = await logGroup(resolver);
  return {
    fragment: table.claimsTableFragment(),
    tableName: { Ref: table.CLAIMS_TABLE_LOGICAL_ID },
    dependsOn: [...dependsOn, ...Object.values(table.CLAIMS_POLICY_LOGICAL_IDS)],
  };
};
