/**
 * The old tool's MTR text files, MTR-RESOURCE-<id>.txt and MTR-GATEWAY-<id>.txt,
 * which support engineers look up by the id in the JSON line. Written atomically
 * so a file named by a record is never half written.
 */
import { InvalidInputError } from '../../common/errors.ts';
import type { FileWritten } from '../../common/result-schema.ts';
import type { LogDir } from './log-dir.ts';
import { writeFileAtomic } from './write-atomic.ts';

/** Writes the texts that are not null; returns them with their display paths. Throws E_LOG_DIR, E_INVALID_INPUT. */
export function writeMtrFiles(o: {
  dir: LogDir;
  mtrId: string;
  resourceText: string | null;
  gatewayText: string | null;
}): FileWritten[] {
  // The id becomes part of a file name: digits only, so it cannot leave the directory.
  if (!/^\d{1,32}$/.test(o.mtrId)) {
    throw new InvalidInputError('mtrId', o.mtrId, 'digits only (YYYYMMDDHHMMSS)');
  }
  const written: FileWritten[] = [];
  if (o.resourceText !== null) {
    const name = `MTR-RESOURCE-${o.mtrId}.txt`;
    writeFileAtomic(o.dir, name, o.resourceText);
    written.push({ kind: 'mtr-resource', path: o.dir.display(name) });
  }
  if (o.gatewayText !== null) {
    const name = `MTR-GATEWAY-${o.mtrId}.txt`;
    writeFileAtomic(o.dir, name, o.gatewayText);
    written.push({ kind: 'mtr-gateway', path: o.dir.display(name) });
  }
  return written;
}
