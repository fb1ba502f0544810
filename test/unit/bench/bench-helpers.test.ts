import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { oldScriptCommands } from '../../../bench/old-script-procedure.ts';
import { fixed, formatTable } from '../../../bench/table.ts';

describe('bench table', () => {
  it('aligns numeric columns right, text columns left, under a titled header and a rule', () => {
    const table = {
      title: 'T',
      headers: ['name', 'ms'],
      rows: [
        ['a', '1.5'],
        ['long name', '120.25'],
      ],
    };

    const lines = formatTable(table).trimEnd().split('\n');

    assert.deepEqual(lines, [
      '== T ==',
      'name           ms',
      '---------  ------',
      'a             1.5',
      'long name  120.25',
    ]);
  });

  it('prints notes indented under the rows', () => {
    const text = formatTable({ title: 'T', headers: ['x'], rows: [['1']], notes: ['why'] });

    assert.match(text, /\n {2}why\n$/);
  });

  it('shows n/a for a missing or non-finite number', () => {
    assert.equal(fixed(null, 2), 'n/a');
    assert.equal(fixed(Number.NaN, 2), 'n/a');
    assert.equal(fixed(1.234, 1), '1.2');
  });
});

describe('old script procedure', () => {
  it('runs mtr in report mode with Avg and Loss columns, then ping, with the count and -- before the target', () => {
    const commands = oldScriptCommands('10.199.128.11', 10);

    assert.deepEqual(commands.mtr, ['-r', '-n', '-c', '10', '-o', 'AL', '--', '10.199.128.11']);
    assert.deepEqual(commands.ping, ['-c', '10', '--', '10.199.128.11']);
  });
});
