/**
 * The README states defaults for the reader; common/ holds them. This checks
 * that every default the README states is the one the code uses, and that the
 * deploy table lists every stack parameter.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { customMetricsPerHost, FLEET_METRICS } from '../../common/metric-names.ts';
import { DEFAULTS, formatNumber } from '../../common/settings.ts';
import { STACK_PARAM_DEFAULTS } from '../../common/stack-params.ts';

const README = readFileSync(join(resolve(__dirname, '..', '..'), 'README.md'), 'utf8');

/** Rows of the first table whose header starts with `| <first> |`. */
function tableRows(first: string): string[][] {
  const lines = README.split('\n');
  const start = lines.findIndex((l) => new RegExp(`^\\|\\s*${first}\\s*\\|`).test(l));
  assert.ok(start >= 0, `README has a table headed ${first}`);
  const rows: string[][] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    rows.push(
      line
        .slice(1, -1)
        .split('|')
        .map((cell) => cell.trim()),
    );
  }
  return rows;
}

/** `a`, `b` / `c` -> ['a', 'b', 'c']; `empty` -> ''. */
function items(cell: string): string[] {
  return cell
    .split(/\s*(?:,|\/(?=\s))\s*/)
    .map((part) => part.trim())
    .filter((part) => part !== '')
    .map((part) => (part === 'empty' ? '' : part.replace(/^`|`$/g, '')));
}

describe('README defaults', () => {
  it('lists every stack parameter in the deploy table with the default common/stack-params.ts gives it', () => {
    const seen = new Set<string>();
    for (const [names = '', defaults = ''] of tableRows('param')) {
      const n = items(names);
      const d = items(defaults);
      assert.equal(n.length, d.length, `row ${names}: ${n.length} names, ${d.length} defaults`);
      n.forEach((name, i) => {
        assert.ok(name in STACK_PARAM_DEFAULTS, `README lists ${name}, which is not a stack parameter`);
        assert.equal(
          d[i],
          STACK_PARAM_DEFAULTS[name as keyof typeof STACK_PARAM_DEFAULTS],
          `default of ${name}`,
        );
        seen.add(name);
      });
    }
    const missing = Object.keys(STACK_PARAM_DEFAULTS).filter((name) => !seen.has(name));
    assert.deepEqual(missing, [], 'stack parameters missing from the README table');
  });

  it("states the agent's defaults as common/settings.ts has them", () => {
    const stated: [RegExp, string][] = [
      [/`--concurrency`, default (\d+)/, formatNumber(DEFAULTS.concurrency)],
      [/`--tcp-port`, default (\d+)/, formatNumber(DEFAULTS.tcpPort)],
      [/In `--log-dir` \(default `([^`]+)`\)/, DEFAULTS.logDir],
    ];
    for (const [pattern, value] of stated) {
      const match = README.match(pattern);
      assert.ok(match, `README states ${pattern}`);
      assert.equal(match[1], value, String(pattern));
    }
  });

  it('states the custom metrics each granularity costs as common/metric-names.ts counts them', () => {
    const [fleet, host, resource] = tableRows('granularity');
    assert.match(
      fleet?.[1] ?? '',
      new RegExp(`^0 \\(${Object.keys(FLEET_METRICS).length} fleet metrics per stage in all\\)$`),
    );
    assert.equal(host?.[1], String(customMetricsPerHost('host', 0)));
    const perResource = customMetricsPerHost('resource', 1) - customMetricsPerHost('resource', 0);
    assert.equal(resource?.[1], `${customMetricsPerHost('resource', 0)} + ${perResource} per resource`);
  });
});
