/**
 * The `install` and `uninstall` commands from parsed argv to an exit code:
 * 0 done, 2 invalid input (flags, the config file), 3 the host cannot take
 * the service (not root, no systemd, systemctl failed, a path others can
 * change), 1 anything unexpected. Output is text; errors name what to do.
 */
import { MonitorError } from '../../common/errors.ts';
import { EXIT_CODES } from '../../common/result-contract.ts';
import { resolveInstallOptions, resolveUninstallOptions } from '../cli/install-options.ts';
import type { ParsedArgv } from '../cli/parse-argv.ts';
import { loadConfigFile } from '../cli/read-config-file.ts';
import { install, requireRoot, type SetupDeps, uninstall } from './install.ts';

export async function runSetupCommand(
  argv: ParsedArgv,
  deps: SetupDeps & { fail(line: string): void },
): Promise<number> {
  try {
    if (argv.command === 'uninstall') {
      await uninstall(resolveUninstallOptions(argv), deps);
    } else {
      // Before the config is read: as root, the reader also checks that only root can change it.
      requireRoot('install');
      const config = argv.config === null ? null : loadConfigFile(argv.config);
      await install(resolveInstallOptions(argv, config), deps);
    }
    return 0;
  } catch (error) {
    deps.fail(`error: ${error instanceof Error ? error.message : String(error)}`);
    return setupExitCode(error);
  }
}

export function setupExitCode(error: unknown): number {
  if (!(error instanceof MonitorError) || error.code === 'E_INTERNAL') return EXIT_CODES['internal-error'];
  return error.code === 'E_INVALID_INPUT' || error.code === 'E_CONFIG_FILE'
    ? EXIT_CODES['invalid-input']
    : EXIT_CODES.environment;
}
