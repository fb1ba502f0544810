/**
 * The claim table's part of the template: the DynamoDB table in which
 * dispatch claims each round and the collector each job
 * (functions/collect/job-claims.ts, functions/dispatch/round-claim.ts), the
 * IAM policies that let each function call only what it uses on that table,
 * and its output.
 *
 * On demand (PAY_PER_REQUEST: a few writes per 50 hosts and round, nothing to
 * provision), TTL on CLAIMS_TTL_ATTRIBUTE (claims are worth nothing after the
 * queues' retention), no point-in-time recovery (nothing to restore: a lost
 * claim table only means copies of jobs in flight may find no claim), and
 * deleted with the stack. CloudFormation names it, so stages never collide.
 *
 * serverless.yml reaches this module through stack/claims-table.cjs.
 */
import {
  CLAIMS_KEY_ATTRIBUTE,
  CLAIMS_TABLE_ACTIONS,
  CLAIMS_TTL_ATTRIBUTE,
} from '../functions/aws/claims-table.ts';

export const CLAIMS_TABLE_LOGICAL_ID = 'ClaimsTable';

/** Policies attached to each function's role; the functions depend on them, so no call runs before they apply. */
export const CLAIMS_POLICY_LOGICAL_IDS = {
  dispatch: 'ClaimsTableDispatchPolicy',
  collect: 'ClaimsTableCollectPolicy',
} as const;

const ROLE_OF = { dispatch: 'DispatchRole', collect: 'CollectRole' } as const;

function policy(fn: 'dispatch' | 'collect') {
  return {
    Type: 'AWS::IAM::Policy',
    Properties: {
      PolicyName: `${fn}-claims`,
      Roles: [{ Ref: ROLE_OF[fn] }],
      PolicyDocument: {
        Version: '2012-10-17',
        Statement: [
          {
            Sid: 'Claims',
            Effect: 'Allow',
            Action: [...CLAIMS_TABLE_ACTIONS[fn]],
            Resource: { 'Fn::GetAtt': [CLAIMS_TABLE_LOGICAL_ID, 'Arn'] },
          },
        ],
      },
    },
  };
}

export function claimsTableFragment() {
  return {
    Resources: {
      [CLAIMS_TABLE_LOGICAL_ID]: {
        Type: 'AWS::DynamoDB::Table',
        DeletionPolicy: 'Delete',
        UpdateReplacePolicy: 'Delete',
        Properties: {
          BillingMode: 'PAY_PER_REQUEST',
          AttributeDefinitions: [{ AttributeName: CLAIMS_KEY_ATTRIBUTE, AttributeType: 'S' }],
          KeySchema: [{ AttributeName: CLAIMS_KEY_ATTRIBUTE, KeyType: 'HASH' }],
          TimeToLiveSpecification: { AttributeName: CLAIMS_TTL_ATTRIBUTE, Enabled: true },
          PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: false },
        },
      },
      [CLAIMS_POLICY_LOGICAL_IDS.dispatch]: policy('dispatch'),
      [CLAIMS_POLICY_LOGICAL_IDS.collect]: policy('collect'),
    },
    Outputs: {
      ClaimsTableName: { Value: { Ref: CLAIMS_TABLE_LOGICAL_ID } },
    },
  };
}
