/**
 * The old tool's MTR text files, MTR-RESOURCE-<id>.txt and MTR-GATEWAY-<id>.txt,
 * which support engineers look up by the id in the JSON line. Written atomically
 * so a file named by a record is never half written.
 */
import * as path from 'node:path';
import { InvalidInputError } from '../../common/errors.ts';
import type { FileWritten } from '../../common/result-schema.ts';
import { writeFileAtomic } from './write-atomic.ts';

export function writeMtrFiles(o: {
  dir: string;
  mtrId: string;
  resourceText: string | null;
  gatewayText: string | null;
}): FileWritten[] {
  // The id becomes part of a file name: digits only, so it cannot leave the directory.
  if (!/^\d{1,32}$/.test(o.mtrId)) {
    throw new InvalidInputError('mtrId', o.mtrId, 'digits only (YYYYMMDDHHMMSS)');
  }
  const dir = path.resolve(o.dir);
  const written: FileWritten[] = [];
  if (o.resourceText !== null) {
    const file = path.join(dir, `MTR-RESOURCE-${o.mtrId}.txt`);
    writeFileAtomic(file, o.resourceText);
    written.push({ kind: 'mtr-resource', path: file });
  }
  if (o.gatewayText !== null) {
    const file = path.join(dir, `MTR-GATEWAY-${o.mtrId}.txt`);
    writeFileAtomic(file, o.gatewayText);
    written.push({ kind: 'mtr-gateway', path: file });
  }
  return written;
}
