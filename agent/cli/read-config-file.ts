import { readFileSync } from 'node:fs';
import { errnoOf } from '../../common/errno.ts';
import { MonitorError } from '../../common/errors.ts';

export function readConfigFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = errnoOf(error) ?? 'error';
    throw new MonitorError(
      'E_CONFIG_FILE',
      `--config ${JSON.stringify(path)} cannot be read (${code}): give a readable JSON file`,
    );
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new MonitorError('E_CONFIG_FILE', `--config ${JSON.stringify(path)} is not valid JSON (${reason})`);
  }
}
