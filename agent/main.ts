/**
 * The agent's entry point, and the only module that touches `process`:
 * argv, environment, stdout/stderr, signals and the exit code. Text from
 * outside the agent (a value the user gave, a tool's output quoted in an
 * error) reaches the terminal with its control characters escaped.
 */
import { hostname } from 'node:os';
import { InvalidInputError, MonitorError } from '../common/errors.ts';
import { escapeControlCharacters as shown } from '../common/printable.ts';
import { RESULT_SCHEMA } from '../common/result-contract.ts';
import { helpText } from './cli/help.ts';
import { parseArgv } from './cli/parse-argv.ts';
import { loadConfigFile } from './cli/read-config-file.ts';
import { resolveOptions, type WatchOptions } from './cli/resolve-options.ts';
import { discoverGateway } from './gateway/discover-gateway.ts';
import { runSetupCommand } from './install/command.ts';
import { httpProbe } from './probes/http-probe.ts';
import { resolveAddress } from './probes/resolve-address.ts';
import { checkMtr, runMtr } from './probes/run-mtr.ts';
import { tcpProbe } from './probes/tcp-probe.ts';
import { killAllProcessGroups, runProcess } from './process/run-process.ts';
import { renderTable } from './render/render-table.ts';
import { writeReport } from './report/report-command.ts';
import { REPORT_HELP } from './report/report-help.ts';
import { resolveReportOptions } from './report/report-options.ts';
import { serializeResult } from './round/fit-result.ts';
import type { ProgressEvent, RoundDeps } from './round/round-deps.ts';
import { failedRoundDocument, type RoundOutput, releaseActiveLock, runRound } from './round/run-round.ts';
import { watchRounds } from './round/watch.ts';

declare const __AGENT_VERSION__: string | undefined;
/**
 * false in the fleet build (dist/agent-fleet.js, which the SSM document embeds
 * and runs as `check --json` with flags only): install, uninstall, report,
 * watch, the --config file, the table and the full --help are left out there,
 * since every byte of the document's 64 KB the agent does not use is room for
 * resource lists.
 */
declare const __AGENT_FULL__: boolean;
const FLEET_BUILD_NOTE =
  'this is the fleet build of the agent (in the SSM document: check with flags); dist/agent.js has every command and option';
const VERSION = typeof __AGENT_VERSION__ === 'string' ? __AGENT_VERSION__ : '0.0.0-dev';

function progressPrinter(enabled: boolean): (event: ProgressEvent) => void {
  if (!enabled) return () => undefined;
  return (event) => {
    if (event.type === 'start') {
      process.stderr.write(
        `probing ${event.resources} resource(s) and the gateway, about ${Math.ceil(event.expectedMs / 1000)} s\n`,
      );
    } else if (event.type === 'resource') {
      process.stderr.write(`  [${event.done}/${event.total}] ${shown(event.target)} done\n`);
    } else if (event.type === 'gateway') {
      process.stderr.write(`  gateway: ${event.ip === null ? 'not found' : shown(event.ip)}\n`);
    }
  };
}

function makeDeps(showProgress: boolean): RoundDeps {
  return {
    agentVersion: VERSION,
    hostname: () => hostname(),
    now: () => new Date(),
    monotonicMs: () => Number(process.hrtime.bigint()) / 1e6,
    resolve: (host) => resolveAddress(host),
    checkMtr: () => checkMtr('mtr', runProcess),
    runMtr: (options) => runMtr(options, runProcess),
    tcpProbe,
    httpProbe,
    discoverGateway: (options) => discoverGateway(options, { run: runProcess }),
    onProgress: progressPrinter(showProgress),
    killProbes: killAllProcessGroups,
  };
}

function print(output: RoundOutput, json: boolean): void {
  if (json || !__AGENT_FULL__) process.stdout.write(`${serializeResult(output.document)}\n`);
  else process.stdout.write(renderTable(output.document));
}

/** `report --html`: writes the page, says where and what is in it. Throws as writeReport. */
function report(
  parsed: ReturnType<typeof parseArgv>,
  config: Parameters<typeof resolveReportOptions>[1],
): number {
  const now = new Date();
  const done = writeReport(resolveReportOptions(parsed, config, now), { hostname: hostname(), now });
  for (const note of done.notes) process.stderr.write(`note: ${shown(note)}\n`);
  process.stdout.write(
    `wrote ${shown(done.file)} (${done.bytes} bytes): ${done.rounds} round(s), ${done.resources} resource(s)\n`,
  );
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const wantsJson = argv.includes('--json');
  const base = { agentVersion: VERSION, hostname: () => hostname(), now: () => new Date() };
  let parsed: ReturnType<typeof parseArgv>;
  let options: ReturnType<typeof resolveOptions>;
  try {
    parsed = parseArgv(argv);
    if (parsed.switches.version) {
      process.stdout.write(
        wantsJson ? `${JSON.stringify({ version: VERSION, schema: RESULT_SCHEMA })}\n` : `${VERSION}\n`,
      );
      return 0;
    }
    if (parsed.switches.help) {
      process.stdout.write(__AGENT_FULL__ ? helpText(VERSION) + REPORT_HELP : `${FLEET_BUILD_NOTE}\n`);
      return 0;
    }
    if (parsed.command === null) {
      throw new InvalidInputError(
        'command',
        undefined,
        __AGENT_FULL__
          ? 'check, watch, report, install or uninstall (see --help)'
          : `check: ${FLEET_BUILD_NOTE}`,
      );
    }
    // The fleet build's refusals come first, so that the code it leaves out is unreachable there.
    if (!__AGENT_FULL__) {
      if (parsed.command !== 'check') {
        throw new InvalidInputError('command', parsed.command, `check: ${FLEET_BUILD_NOTE}`);
      }
      if (parsed.config !== null) {
        throw new InvalidInputError('--config', parsed.config, `flags only: ${FLEET_BUILD_NOTE}`);
      }
    } else if (parsed.command === 'install' || parsed.command === 'uninstall') {
      return await runSetupCommand(parsed, {
        run: runProcess,
        agentFile: process.argv[1] ?? '',
        nodeBinary: process.execPath,
        // Lines name paths from flags, the config file and the units on disk.
        say: (line) => process.stdout.write(`${shown(line)}\n`),
        fail: (line) => process.stderr.write(`${shown(line)}\n`),
      });
    }
    const config = __AGENT_FULL__ && parsed.config !== null ? loadConfigFile(parsed.config) : {};
    if (__AGENT_FULL__ && parsed.command === 'report') return report(parsed, config);
    if (parsed.command !== 'check' && parsed.command !== 'watch') {
      throw new InvalidInputError('command', parsed.command, `check: ${FLEET_BUILD_NOTE}`);
    }
    options = resolveOptions(parsed.command, parsed, config);
  } catch (error) {
    const failed = failedRoundDocument(error, base);
    if (wantsJson) print(failed, true);
    else process.stderr.write(`error: ${shown(failed.document.error?.message ?? String(error))}\n`);
    return failed.exitCode;
  }

  const json = options.json;
  const deps = makeDeps(!json && process.stderr.isTTY === true);
  let stopRequests = 0;
  let wake: (() => void) | null = null;
  const onSignal = (signal: NodeJS.Signals) => {
    stopRequests++;
    wake?.();
    // A single round is short-lived and `watch` already got one request: stop now,
    // taking the probes down with us so no mtr outlives the agent.
    if (parsed.command === 'check' || stopRequests > 1) {
      killAllProcessGroups();
      releaseActiveLock();
      if (json) {
        // Whoever reads stdout (the SSM document, a collector) gets a document, not silence.
        const stopped = new MonitorError('E_INTERNAL', `round stopped by ${signal} before it completed`);
        process.stdout.write(`${serializeResult(failedRoundDocument(stopped, base).document)}\n`);
      }
      process.exitCode = signal === 'SIGINT' ? 130 : 143;
      process.exit();
    } else {
      process.stderr.write(`${signal}: stopping after the current round\n`);
    }
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  if (parsed.command === 'check') {
    const output = await runRound(options, deps);
    print(output, json);
    if (!json && output.exitCode !== 0 && output.document.error) {
      process.stderr.write(`error: ${shown(output.document.error.message)}\n`);
    }
    return output.exitCode;
  }
  // A constant branch, not an early return, so that the fleet build leaves out watch.ts too.
  if (__AGENT_FULL__) {
    return watchRounds(options as WatchOptions, deps, {
      emit: (output) => print(output, json),
      sleep: (ms) =>
        new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, ms);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        }),
      stopRequested: () => stopRequests > 0,
    });
  }
  return 2; // unreachable: the fleet build refused watch above
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(
      `internal error: ${(error instanceof Error ? (error.stack ?? error.message) : String(error)).split('\n').map(shown).join('\n')}\n`,
    );
    process.exitCode = 1;
  },
);
