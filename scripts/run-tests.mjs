// Runs test files with node's test runner: every `*.test.ts` under the given
// directories, and any file given by name. (Node 20's `node --test` takes no
// glob patterns, and npm scripts run under sh.) Arguments starting with `--`
// go to `node --test` as they are.
//
// Skips: every skipped or todo test is listed after the run. In CI (the `CI`
// environment variable set, as `.ci/run` and most CI services do) a skipped or
// todo test fails the run, because a test that needs the lab, root, OpenVPN,
// openssl, real mtr or the Node 12.22 runtime and skips has not shown what it
// promises. A test whose skip reason starts with `optional:` (e.g. a machine
// without an IPv6 loopback) is allowed to skip everywhere.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

const OPTIONAL_PREFIX = 'optional:';
// Ends a test or suite that hangs. Not a speed limit: the slowest suite (the lab
// scenarios) takes about 2 minutes on a loaded 2-core machine. Tests assert no
// upper time bounds of their own where a hang is what they guard against.
const HANG_GUARD_MS = 10 * 60_000;

const roots = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const passThrough = process.argv.slice(2).filter((a) => a.startsWith('--'));
const strict = !['', '0', 'false'].includes((process.env.CI ?? '').trim().toLowerCase());

function collect(path) {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path, { withFileTypes: true }).flatMap((entry) => {
    const child = join(path, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : collect(child);
    return entry.name.endsWith('.test.ts') ? [child] : [];
  });
}

const files = [...new Set((roots.length > 0 ? roots : ['test']).flatMap(collect))].sort();
if (files.length === 0) {
  console.error(`no test files under ${roots.join(', ')}`);
  process.exit(1);
}

const scratch = mkdtempSync(join(tmpdir(), 'ccm-run-tests-'));
const skipLog = join(scratch, 'skips.jsonl');
let status;
let skips;
try {
  // biome-ignore format: one flag and its value per line
  const result = spawnSync(
    process.execPath,
    [
      '--import', 'tsx', '--test', '--test-concurrency=2', `--test-timeout=${HANG_GUARD_MS}`,
      '--test-reporter=spec', '--test-reporter-destination=stdout',
      `--test-reporter=${join(import.meta.dirname, 'skip-reporter.mjs')}`, `--test-reporter-destination=${skipLog}`,
      ...passThrough, ...files,
    ],
    { stdio: 'inherit' },
  );
  status = result.status ?? 1;
  skips = readSkips(skipLog);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}

if (skips === null) {
  console.error('run-tests: the skip report was not written, so skipped tests cannot be checked');
  process.exit(status === 0 && strict ? 1 : status);
}
// Tests left out by --test-name-pattern or --test-only were chosen away by whoever ran this, not skipped.
const filtered = passThrough.some((a) => /^--test-(name-pattern|only)\b/.test(a))
  ? new Set(['test name does not match pattern', "'only' option not set"])
  : new Set();
const counted = skips.filter((s) => !(s.kind === 'skip' && filtered.has(s.reason)));
const required = counted.filter((s) => !(s.kind === 'skip' && s.reason.startsWith(OPTIONAL_PREFIX)));
const optional = counted.filter((s) => !required.includes(s));
const line = (s) =>
  `  ${s.kind} ${s.file === null ? '' : `${relative(process.cwd(), s.file)}: `}${s.name}${s.reason === '' ? '' : ` (${s.reason})`}`;
if (optional.length > 0) {
  console.error(`\n${optional.length} optional test(s) skipped:\n${optional.map(line).join('\n')}`);
}
if (required.length > 0) {
  const verdict = strict
    ? 'fail the run in CI (a skip reason starting with "optional:" allows one)'
    : 'would fail the run in CI';
  console.error(`\n${required.length} required test(s) skipped or todo; these ${verdict}:`);
  console.error(required.map(line).join('\n'));
  if (strict) process.exit(1);
}
process.exit(status);

/** The reporter's lines, or null when it wrote nothing readable (the runner died first). */
function readSkips(file) {
  let text;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return null;
  }
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l));
}
