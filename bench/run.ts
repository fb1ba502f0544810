/**
 * `npm run bench`: the lab benchmarks (the built agent in network namespaces),
 * then the fleet benchmark (mocked AWS). Prints tables only; writes no files.
 *
 *   npm run bench                      full run (~14 minutes on 2 cores)
 *   npm run bench -- --quick           fewer rounds, a fast look (~4 minutes)
 *   npm run bench -- --only lab|fleet|history  one part (lab includes history: the round
 *                                      history's cost per round against the agent without it)
 *   npm run bench -- --only report     report --html's peak RSS and CPU on the largest histories,
 *                                      against main's agent (bench/report-cost.ts; not in the full run)
 */
import { InvalidInputError } from '../common/errors.ts';
import { runFleetBench } from './fleet.ts';
import { HISTORY_FULL, HISTORY_QUICK, runHistoryBench } from './history-cost.ts';
import { cleanupLabBench, FULL_CONFIG, labBenchSkipReason, QUICK_CONFIG, runLabBench } from './lab-bench.ts';
import { runReportBench } from './report-cost.ts';

interface BenchArgs {
  only: 'lab' | 'fleet' | 'history' | 'report' | null;
  quick: boolean;
}

const USAGE = 'usage: node --import tsx bench/run.ts [--quick] [--only lab|fleet|history|report]';

function parseArgs(argv: readonly string[]): BenchArgs {
  const args: BenchArgs = { only: null, quick: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--quick') args.quick = true;
    else if (arg === '--only' || arg?.startsWith('--only=')) {
      const value = arg === '--only' ? argv[++i] : arg.slice('--only='.length);
      if (value !== 'lab' && value !== 'fleet' && value !== 'history' && value !== 'report')
        throw new InvalidInputError('--only', value ?? '', 'lab, fleet, history or report');
      args.only = value;
    } else if (arg === '--help' || arg === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else throw new InvalidInputError('argument', arg, '--quick, --only lab|fleet|history|report or --help');
  }
  return args;
}

async function main(): Promise<void> {
  // The AWS SDK's documented switch for its "Node 20 support ends" notice: noise in a benchmark printout.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const args = parseArgs(process.argv.slice(2));
  const started = performance.now();
  console.log(`Benchmarks (${args.quick ? 'quick' : 'full'} run), ${new Date().toISOString()}\n`);
  if (args.only === 'report') {
    await runReportBench({ runs: args.quick ? 1 : 3 });
    return;
  }
  if (args.only !== 'fleet') {
    const skip = labBenchSkipReason();
    if (skip !== null) console.log(`Lab benchmarks SKIPPED: ${skip}\n`);
    else {
      // Ctrl-C must not leave namespaces, relays or OpenVPN processes behind.
      process.once('SIGINT', () => {
        console.error('\ninterrupted: tearing the labs down');
        cleanupLabBench().finally(() => process.exit(130));
      });
      try {
        if (args.only !== 'history') await runLabBench(args.quick ? QUICK_CONFIG : FULL_CONFIG);
        const historyStart = performance.now();
        await runHistoryBench(args.quick ? HISTORY_QUICK : HISTORY_FULL);
        console.log(`History bench wall time: ${((performance.now() - historyStart) / 1000).toFixed(1)} s\n`);
      } catch (error) {
        // the fleet part does not need the lab: report and go on
        console.error('Lab benchmarks FAILED:', error);
        process.exitCode = 1;
      } finally {
        await cleanupLabBench();
      }
    }
  }
  if (args.only !== 'lab' && args.only !== 'history') {
    const fleetStart = performance.now();
    await runFleetBench({ quick: args.quick });
    console.log(`\nFleet bench wall time: ${((performance.now() - fleetStart) / 1000).toFixed(1)} s`);
  }
  console.log(`\nTotal wall time: ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

main().catch((error: unknown) => {
  if (error instanceof InvalidInputError) {
    console.error(`${error.message}\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exitCode = 1;
});
