/**
 * The tunnel state file in an untrusted log directory: written atomically
 * through the held handle, read back exactly, and anything else at its name
 * (garbled or hostile JSON, a link, a FIFO, a huge file, a directory, a file of
 * another owner) only restarts the counters, with a warning, never the round.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { type LogDir, prepareLogDir } from '../../../agent/files/log-dir.ts';
import {
  parseTunnelMemory,
  readTunnelMemory,
  TUNNEL_STATE_FILE,
  writeTunnelMemory,
} from '../../../agent/tunnel/tunnel-memory.ts';
import type { TunnelMemory } from '../../../agent/tunnel/tunnel-result.ts';
import { NOBODY, plantFifo, plantSymlink, rootOnlyFile } from '../../helpers/hostile-dir.ts';

const MEMORY: TunnelMemory = {
  state: 'up',
  source: 'openvpn2-management',
  since: '2026-03-04T05:05:00.000Z',
  key: 'openvpn2-management 127.0.0.1:7505',
  bytesIn: 1_843_200,
  bytesOut: 512_340,
  reconnects: null,
  mark: 1_796_037_603,
};

let dir = '';
let logDir: LogDir;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cc-tunnel-memory-'));
  logDir = prepareLogDir(dir);
});
afterEach(() => {
  logDir.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const file = () => path.join(dir, TUNNEL_STATE_FILE);

describe('the tunnel state file', () => {
  it('is absent on a first round (no warning), then read back exactly as written, one small file and no temp file', () => {
    assert.deepEqual(readTunnelMemory(logDir), { memory: null, warning: null });
    assert.equal(writeTunnelMemory(logDir, MEMORY), null);
    assert.deepEqual(readTunnelMemory(logDir), { memory: MEMORY, warning: null });
    assert.deepEqual(fs.readdirSync(dir), [TUNNEL_STATE_FILE]);
    assert.ok(fs.statSync(file()).size < 400, `${fs.statSync(file()).size} bytes`);
    assert.equal(JSON.parse(fs.readFileSync(file(), 'utf8')).v, 1);
  });

  it('restarts the counters with a warning when the file is garbled, truncated, hostile or too large', () => {
    const cases: Array<[string, string, RegExp]> = [
      ['garbled', 'not json at all', /is not a tunnel state the agent wrote/],
      ['truncated', JSON.stringify({ v: 1, ...MEMORY }).slice(0, 40), /is not a tunnel state/],
      ['negative counter', JSON.stringify({ v: 1, ...MEMORY, bytesIn: -5 }), /is not a tunnel state/],
      ['huge counter', JSON.stringify({ v: 1, ...MEMORY, bytesOut: 1e300 }), /is not a tunnel state/],
      ['unknown state', JSON.stringify({ v: 1, ...MEMORY, state: 'exploded' }), /is not a tunnel state/],
      ['another version', JSON.stringify({ ...MEMORY, v: 2 }), /is not a tunnel state/],
      ['bad since', JSON.stringify({ v: 1, ...MEMORY, since: 'yesterday' }), /is not a tunnel state/],
      // Times Date.parse takes that are not the ISO form the result's tunnel.since must have (it is copied there).
      ['since in words', JSON.stringify({ v: 1, ...MEMORY, since: 'Jan 1 2026 (<x>\u0000)' }), /is not/],
      ['since in another form', JSON.stringify({ v: 1, ...MEMORY, since: '2026-03-04 05:05' }), /is not/],
      ['since not a date', JSON.stringify({ v: 1, ...MEMORY, since: '2026-02-30T05:05:00.000Z' }), /is not/],
      ['an array', '[1,2,3]', /is not a tunnel state/],
      ['too large', `{"v":1,"pad":"${'x'.repeat(20_000)}"}`, /is larger than 16384 bytes/],
    ];
    for (const [name, content, warning] of cases) {
      fs.writeFileSync(file(), content);
      const read = readTunnelMemory(logDir);
      assert.equal(read.memory, null, name);
      assert.match(read.warning ?? '', warning, name);
      assert.match(read.warning ?? '', /the tunnel counters start afresh this round$/, name);
      // The next write replaces it.
      assert.equal(writeTunnelMemory(logDir, MEMORY), null, name);
      assert.deepEqual(readTunnelMemory(logDir).memory, MEMORY, name);
    }
  });

  it('never follows a planted link: the read refuses it and the write replaces the link, not its target', () => {
    const target = rootOnlyFile(path.join(os.tmpdir(), `cc-tunnel-target-${process.pid}`), 'root secret\n');
    try {
      plantSymlink(target, file());
      const read = readTunnelMemory(logDir);
      assert.equal(read.memory, null);
      assert.match(read.warning ?? '', /is a symbolic link; refusing to follow it/);
      assert.equal(writeTunnelMemory(logDir, MEMORY), null);
      assert.equal(fs.readFileSync(target, 'utf8'), 'root secret\n');
      assert.equal(fs.lstatSync(file()).isFile(), true);
      assert.deepEqual(readTunnelMemory(logDir).memory, MEMORY);
    } finally {
      fs.rmSync(target, { force: true });
    }
  });

  it('does not block on a FIFO and refuses a file of another owner or with a second hard link', () => {
    plantFifo(file(), process.getuid?.() ?? 0);
    assert.match(readTunnelMemory(logDir).warning ?? '', /is a FIFO/);
    fs.rmSync(file());

    fs.writeFileSync(file(), JSON.stringify({ v: 1, ...MEMORY }));
    fs.chownSync(file(), NOBODY, NOBODY);
    assert.match(readTunnelMemory(logDir).warning ?? '', /owned by uid 65534/);
    fs.rmSync(file());

    fs.writeFileSync(file(), JSON.stringify({ v: 1, ...MEMORY }));
    fs.linkSync(file(), path.join(dir, 'other-name'));
    assert.match(readTunnelMemory(logDir).warning ?? '', /2 hard links/);
  });

  it('warns, and does not throw, when the file cannot be written (a directory at its name)', () => {
    fs.mkdirSync(file());
    fs.writeFileSync(path.join(file(), 'keep'), 'x');
    const warning = writeTunnelMemory(logDir, MEMORY);
    assert.match(
      warning ?? '',
      /^tunnel state .*\.cc-monitor-tunnel\.json not written \(.*\); the next round's tunnel counters start afresh$/,
    );
    assert.equal(fs.readFileSync(path.join(file(), 'keep'), 'utf8'), 'x');
    assert.deepEqual(fs.readdirSync(dir), [TUNNEL_STATE_FILE], 'no temp file left');
  });
});

describe('parseTunnelMemory', () => {
  it('keeps only the fields it knows', () => {
    const text = JSON.stringify({ v: 1, ...MEMORY, extra: 'x' }).replace(
      /}$/,
      ',"__proto__":{"polluted":true}}',
    );
    assert.deepEqual(parseTunnelMemory(text), MEMORY);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });
});
