/**
 * `npm start`: one fleet round on this machine, no AWS account needed. The
 * Lambda's dispatch and collection code runs with local adapters: this machine
 * is the only enrolled instance, the SSM document's script runs the built
 * agent, and what would go to CloudWatch (log streams, EMF metrics) goes to
 * files under --out.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { InvalidInputError, MonitorError } from '../common/errors.ts';
import { parseBoundedNumber } from '../common/settings.ts';
import { STACK_PARAM_DEFAULTS as D } from '../common/stack-params.ts';
import { formatSummary } from '../functions/local/format-summary.ts';
import { runLocalRound } from '../functions/local/run-local-round.ts';

const HELP = `Usage: npm start -- [options]

Runs one monitoring round through the fleet code path on this machine.

  --resources LIST          resources to check (default 127.0.0.1,::1,localhost)
  --count N                 probes per resource (default 5)
  --interval SEC            seconds between probes (default 0.2; 1 when not root)
  --latency-threshold MS    default ${D.latencyThresholdMs}
  --loss-threshold PCT      default ${D.lossThresholdPct}
  --hops N                  default ${D.hops}
  --loss-rule RULE          persistent | any-hop (default ${D.lossRule})
  --tcp-port N              default ${D.tcpPort}
  --jitter-threshold MS     default ${D.jitterThresholdMs} (off)
  --granularity G           fleet | host | resource (default ${D.metricGranularity})
  --instances N             local instances, all this machine (default 1)
  --blind N                 simulated enrolled-but-unreachable instances (default 0)
  --tag KEY=VALUE           tag on every instance, e.g. CloudConnexaMonitor:Count=3 (repeatable)
  --log-dir DIR             the agent's log dir (default ./Connexa-Logs)
  --execution-timeout SEC   the document's timeout for one run (default ${D.executionTimeoutSeconds})
  --out DIR                 output dir (default .local-run)
`;

function parseTags(items: string[]): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const item of items) {
    const at = item.indexOf('=');
    if (at <= 0) throw new InvalidInputError('--tag', item, 'KEY=VALUE, e.g. CloudConnexaMonitor:Count=3');
    tags[item.slice(0, at)] = item.slice(at + 1);
  }
  return tags;
}

/** The one number grammar; the ranges are checked where the values are used. */
function integer(name: string, value: string): number {
  return parseBoundedNumber(`--${name}`, value, 'integer', { min: 0, max: Number.MAX_SAFE_INTEGER });
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      resources: { type: 'string', default: '127.0.0.1,::1,localhost' },
      count: { type: 'string', default: '5' },
      interval: { type: 'string', default: '0.2' },
      'latency-threshold': { type: 'string', default: D.latencyThresholdMs },
      'loss-threshold': { type: 'string', default: D.lossThresholdPct },
      hops: { type: 'string', default: D.hops },
      'loss-rule': { type: 'string', default: D.lossRule },
      'tcp-port': { type: 'string', default: D.tcpPort },
      'jitter-threshold': { type: 'string', default: D.jitterThresholdMs },
      granularity: { type: 'string', default: D.metricGranularity },
      instances: { type: 'string', default: '1' },
      blind: { type: 'string', default: '0' },
      tag: { type: 'string', multiple: true, default: [] },
      'log-dir': { type: 'string', default: './Connexa-Logs' },
      'execution-timeout': { type: 'string', default: D.executionTimeoutSeconds },
      out: { type: 'string', default: '.local-run' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }

  let interval = values.interval;
  const isRoot = process.getuid?.() === 0;
  if (!isRoot && Number(interval) < 1) {
    // mtr refuses intervals under 1 s to non-root users.
    process.stdout.write(
      `not root: using --interval 1 instead of ${interval} (mtr allows < 1 s only to root)\n`,
    );
    interval = '1';
  }

  const outDir = resolve(values.out);
  process.stdout.write(`local round: SSM, SQS and CloudWatch are simulated under ${outDir}\n`);
  let stop: (() => void) | undefined;
  const onSignal = (): void => {
    stop?.();
    process.stderr.write('interrupted: runs stopped\n');
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const report = await runLocalRound({
    outDir,
    logDir: resolve(values['log-dir']),
    settings: {
      resources: values.resources,
      count: values.count,
      intervalSec: interval,
      latencyThresholdMs: values['latency-threshold'],
      lossThresholdPct: values['loss-threshold'],
      hops: values.hops,
      lossRule: values['loss-rule'],
      tcpPort: values['tcp-port'],
      jitterThresholdMs: values['jitter-threshold'],
      metricGranularity: values.granularity,
      executionTimeoutSeconds: values['execution-timeout'],
    },
    instances: integer('instances', values.instances),
    blind: integer('blind', values.blind),
    tags: parseTags(values.tag),
    onProgress: (line) => process.stdout.write(`${line}\n`),
    onStart: (controls) => {
      stop = controls.stop;
    },
  });
  process.stdout.write(formatSummary(report));
  const c = report.counts;
  // Flagged is a finding, not a failure; a host that could not be checked is.
  return c.failed > 0 || c.misconfigured > 0 || report.collect.drain.deadLetters.length > 0 ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof MonitorError) {
      process.stderr.write(`local round: ${error.message}\n`);
      process.exitCode = 2;
    } else if (
      error instanceof TypeError &&
      'code' in error &&
      String(error.code).startsWith('ERR_PARSE_ARGS')
    ) {
      process.stderr.write(`local round: ${error.message}\n\n${HELP}`);
      process.exitCode = 2;
    } else {
      process.stderr.write(
        `local round failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
      process.exitCode = 1;
    }
  },
);
