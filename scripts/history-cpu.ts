/**
 * The round history's CPU cost per round in instructions (bench/history-cpu.ts):
 *
 *   node --import tsx scripts/history-cpu.ts [--runs N] [--source DIR] [--profile-dir DIR]
 *
 * --runs: runs per agent and Node (default 3, medians shown); --source: the
 * checkout whose agent is measured (default this one, e.g. an export of main
 * for a before/after); --profile-dir: keep the callgrind files there.
 * Exit status 0 when both Nodes are within the goal, 1 when not, 3 without valgrind.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { runHistoryCpuBench, valgrindMissing } from '../bench/history-cpu.ts';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    source: { type: 'string' },
    'profile-dir': { type: 'string' },
    node: { type: 'string', multiple: true },
  },
});
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1 || runs > 25) {
  console.error(`--runs ${values.runs}: a whole number from 1 to 25`);
  process.exit(2);
}
const missing = valgrindMissing();
if (missing !== null) {
  console.error(missing);
  process.exit(3);
}
runHistoryCpuBench({
  runs,
  ...(values.source === undefined ? {} : { source: path.resolve(values.source) }),
  profileDir: values['profile-dir'] === undefined ? null : path.resolve(values['profile-dir']),
  ...(values.node === undefined ? {} : { nodes: values.node }),
}).then(
  (pass) => {
    process.exitCode = pass ? 0 : 1;
  },
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exitCode = 1;
  },
);
