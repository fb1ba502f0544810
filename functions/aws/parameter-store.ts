/**
 * SSM Parameter Store as the dispatcher's ParameterReader (resource lists).
 */
import { GetParametersCommand, type SSMClient } from '@aws-sdk/client-ssm';
import type { ParameterReader, StoredParameter } from '../dispatch/resource-parameters.ts';

export function createParameterStoreReader(ssm: SSMClient): ParameterReader {
  return {
    async getParameters(names) {
      // WithDecryption false: SecureString values are refused by the caller, and the role has no KMS access.
      const answer = await ssm.send(new GetParametersCommand({ Names: names, WithDecryption: false }));
      const found: StoredParameter[] = [];
      for (const p of answer.Parameters ?? []) {
        if (p.Name === undefined) continue;
        found.push({ name: p.Name, type: p.Type ?? 'String', value: p.Value ?? '' });
      }
      return { found, missing: answer.InvalidParameters ?? [] };
    },
  };
}
