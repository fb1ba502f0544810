/**
 * The bounded client-log reader on real files: it must describe the same
 * newest connection as reading the whole log in order, however the lines fall
 * across its 64 KiB chunks, and never read more than its limits allow.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { parseClientLog } from '../../../agent/gateway/parse-openvpn2.ts';
import { type ClientLogLimits, readClientLog } from '../../../agent/gateway/read-client-log.ts';

const FIXTURES = path.join(__dirname, '..', '..', 'fixtures', 'openvpn');
const tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gateway-read-log-test-'));
after(() => fs.rmSync(tempDir, { recursive: true, force: true }));

const MiB = 1024 * 1024;
const unlimited: ClientLogLimits = { maxBytes: 32 * MiB, deadline: Number.POSITIVE_INFINITY, now: () => 0 };

let caseNumber = 0;
function caseDir(): string {
  caseNumber += 1;
  const dir = path.join(tempDir, `case-${caseNumber}`);
  fs.mkdirSync(dir);
  return dir;
}

/** A small deterministic PRNG (mulberry32), so a failing seed can be replayed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A log of several processes and reconnects, built from the lines OpenVPN 2.4-2.6 writes. */
function generatedLog(seed: number): string {
  const next = random(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T;
  const ip = (): string => `203.0.113.${1 + Math.floor(next() * 250)}`;
  const lines: string[] = [];
  const chatter = (): void => {
    const count = Math.floor(next() * 400);
    for (let index = 0; index < count; index += 1) {
      lines.push(
        pick([
          "2025-04-06 00:00:00 MANAGEMENT: CMD 'state all'",
          '2025-04-06 00:00:00 VERIFY OK: depth=0, CN=server',
          '2025-04-06 00:00:00 TCP/UDP: Preserving recently used remote address: [AF_INET]198.51.100.9:1194',
          `2025-04-06 00:00:00 ${'x'.repeat(Math.floor(next() * 300))}`,
        ]),
      );
    }
    if (next() < 0.05) lines.push(`2025-04-06 00:00:00 ${'y'.repeat(20_000)}`);
  };
  const processes = 1 + Math.floor(next() * 3);
  for (let process = 0; process < processes; process += 1) {
    if (next() < 0.3) lines.push('2025-04-05 10:00:00 Note: --socks-proxy disables data channel offload.');
    if (next() < 0.2) {
      lines.push('2025-04-05 10:00:00 us=1 Connection profiles [0]:');
      lines.push(`2025-04-05 10:00:00 us=1   remote = '${pick(['gw.example.net', ip()])}'`);
      lines.push("2025-04-05 10:00:00 us=1   remote_port = '443'");
      lines.push(`2025-04-05 10:00:00 us=1   socks_proxy_server = '${pick(['[UNDEF]', '10.0.0.4'])}'`);
      lines.push('2025-04-05 10:00:00 us=1 Connection profiles END');
    }
    lines.push('2025-04-05 10:00:00 OpenVPN 2.6.14 x86_64-pc-linux-gnu [SSL (OpenSSL)] [LZO] [EPOLL]');
    const attempts = 1 + Math.floor(next() * 4);
    for (let attempt = 0; attempt < attempts; attempt += 1) {
      chatter();
      const tcp = next() < 0.5;
      if (tcp && next() < 0.4)
        lines.push(
          `2025-04-05 10:00:00 Send to HTTP proxy: 'CONNECT ${pick(['gw.example.net', ip()])}:443 HTTP/1.0'`,
        );
      if (!tcp && next() < 0.2)
        lines.push('2025-04-05 10:00:00 SOCKS proxy wants us to send UDP to [AF_INET]10.0.0.9:40000');
      const address = ip();
      const shape = next();
      if (shape < 0.7)
        lines.push(
          `2025-04-05 10:00:00 ${tcp ? 'TCPv4_CLIENT' : 'UDPv4'} link remote: [AF_INET]${address}:443`,
        );
      if (shape > 0.2 && shape < 0.9)
        lines.push(`2025-04-05 10:00:01 [gw] Peer Connection Initiated with [AF_INET]${address}:443`);
      if (next() < 0.7) lines.push('2025-04-05 10:00:02 Initialization Sequence Completed');
      chatter();
      if (next() < 0.6)
        lines.push(
          `2025-04-05 11:00:00 SIGUSR1[soft,${pick(['ping-restart', 'connection-reset'])}] received, process restarting`,
        );
    }
    if (next() < 0.5) lines.push('2025-04-05 12:00:00 SIGTERM[hard,] received, process exiting');
    chatter();
  }
  const eol = next() < 0.3 ? '\r\n' : '\n';
  return lines.join(eol) + (next() < 0.5 ? eol : '');
}

describe('readClientLog', () => {
  it('describes the same newest connection as a whole forward read, for 150 generated logs across chunk boundaries', async () => {
    for (let seed = 1; seed <= 150; seed += 1) {
      // Prepare
      const text = generatedLog(seed);
      const file = path.join(caseDir(), 'openvpn.log');
      fs.writeFileSync(file, text);

      // Act
      const read = await readClientLog(file, unlimited);

      // Assess
      assert.deepEqual(read.connection, parseClientLog(text), `seed ${seed} (${text.length} bytes)`);
    }
  });

  it('describes the real fixture logs as a forward read does', async () => {
    for (const name of fs.readdirSync(FIXTURES).filter((file) => file.endsWith('.log'))) {
      const file = path.join(FIXTURES, name);

      const read = await readClientLog(file, unlimited);

      assert.deepEqual(read.connection, parseClientLog(fs.readFileSync(file, 'utf8')), name);
    }
  });

  it('reads no more than maxBytes of a long log and says the search was cut short', async () => {
    // Prepare: 4 MiB, the only remote line at the head.
    const file = path.join(caseDir(), 'openvpn.log');
    fs.writeFileSync(
      file,
      `UDPv4 link remote: [AF_INET]203.0.113.1:1194\n${"MANAGEMENT: CMD 'state all'\n".repeat((4 * MiB) / 27)}`,
    );

    // Act
    const read = await readClientLog(file, { ...unlimited, maxBytes: MiB });

    // Assess
    assert.equal(read.connection, null);
    assert.deepEqual(read.files, [{ path: file, bytesRead: MiB, compressed: false }]);
    assert.equal(read.incomplete, 'read limit of 1 MiB reached');
  });

  it('stops at the deadline between chunks', async () => {
    // Prepare: a clock that passes the deadline after its first reading.
    const file = path.join(caseDir(), 'openvpn.log');
    fs.writeFileSync(file, `UDPv4 link remote: [AF_INET]203.0.113.1:1194\n${'z'.repeat(2 * MiB)}\n`);
    let calls = 0;
    const now = (): number => (calls++ === 0 ? 0 : 10);

    // Act
    const read = await readClientLog(file, { maxBytes: 32 * MiB, deadline: 5, now });

    // Assess
    assert.equal(read.incomplete, 'discovery deadline reached');
    assert.ok((read.files[0]?.bytesRead ?? 0) < MiB, JSON.stringify(read.files));
  });

  it('gets past a line of several MiB without a newline', async () => {
    const file = path.join(caseDir(), 'openvpn.log');
    fs.writeFileSync(
      file,
      `UDPv4 link remote: [AF_INET]203.0.113.2:1194\n${'q'.repeat(6 * MiB)}\nInitialization Sequence Completed\n`,
    );

    const read = await readClientLog(file, unlimited);

    assert.equal(read.connection?.remoteIp, '203.0.113.2');
    assert.equal(read.connection?.status, 'connected');
  });

  it('gives up on a gzip copy that decompresses beyond the limit instead of trusting its oldest part', async () => {
    // Prepare: an old connection, 64 MiB of filler (a few hundred KiB compressed), then the newest connection.
    const dir = caseDir();
    const file = path.join(dir, 'openvpn.log');
    fs.writeFileSync(file, '');
    const body = `UDPv4 link remote: [AF_INET]198.51.100.1:1194\n${'w'.repeat(64 * MiB)}\nUDPv4 link remote: [AF_INET]198.51.100.2:1194\n`;
    fs.writeFileSync(`${file}.1.gz`, gzipSync(body));

    // Act
    const read = await readClientLog(file, { ...unlimited, maxBytes: 2 * MiB });

    // Assess
    assert.equal(read.connection, null);
    assert.equal(read.incomplete, 'read limit of 2 MiB reached');
    assert.ok((read.files[0]?.bytesRead ?? 0) <= 2 * MiB);
  });

  it('keeps what a truncated gzip copy (still being written) yields, with a note', async () => {
    const dir = caseDir();
    const file = path.join(dir, 'openvpn.log');
    fs.writeFileSync(file, '');
    const lines = 'UDPv4 link remote: [AF_INET]198.51.100.3:1194\nInitialization Sequence Completed\n';
    const compressed = gzipSync(`${lines}${'v'.repeat(MiB)}\n`);
    fs.writeFileSync(`${file}.1.gz`, compressed.subarray(0, Math.floor(compressed.length / 2)));

    const read = await readClientLog(file, unlimited);

    assert.equal(read.connection?.remoteIp, '198.51.100.3');
    assert.match(read.notes.join('\n'), /openvpn\.log\.1\.gz: gzip data unreadable after \d+ bytes/);
  });

  it('skips rotated copies that are FIFOs or directories, and says so', async () => {
    const dir = caseDir();
    const file = path.join(dir, 'openvpn.log');
    fs.writeFileSync(file, '');
    execFileSync('mkfifo', [`${file}.1`]);
    fs.mkdirSync(`${file}-20250401`);

    const read = await readClientLog(file, unlimited);

    assert.equal(read.connection, null);
    assert.match(read.notes.join('\n'), /openvpn\.log\.1 skipped: a FIFO/);
    assert.match(read.notes.join('\n'), /openvpn\.log-20250401 skipped: a directory/);
  });

  it('ignores files beside the log that only look like rotated copies', async () => {
    const dir = caseDir();
    const file = path.join(dir, 'openvpn.log');
    fs.writeFileSync(file, '');
    fs.writeFileSync(`${file}.bak`, 'UDPv4 link remote: [AF_INET]192.0.2.1:1194\n');
    fs.writeFileSync(`${file}.2`, 'UDPv4 link remote: [AF_INET]192.0.2.2:1194\n');
    fs.writeFileSync(path.join(dir, 'other.log.1'), 'UDPv4 link remote: [AF_INET]192.0.2.3:1194\n');

    const read = await readClientLog(file, unlimited);

    assert.equal(read.connection, null);
    assert.deepEqual(
      read.files.map((entry) => path.basename(entry.path)),
      ['openvpn.log'],
    );
  });
});
