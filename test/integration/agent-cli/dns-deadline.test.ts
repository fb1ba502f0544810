/**
 * DNS lookups end by their deadline for the round and for the process: in a
 * private network and mount namespace (root only), the system resolver asks
 * a loopback DNS server that never answers, so getaddrinfo hangs for
 * resolv.conf's timeout x attempts; /etc/hosts still answers one name at once.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseResultDocument } from '../../../common/result-schema.ts';
import { AGENT, ROOT, shQuote, tempDir } from '../../helpers/run-agent.ts';

const SKIP = process.getuid?.() === 0 ? false : 'a private network and mount namespace needs root';

/** resolv.conf: every query waits TIMEOUT_SEC x ATTEMPTS before giving up. */
const TIMEOUT_SEC = 10;
const ATTEMPTS = 3;
const RESOLVER_HANG_MS = TIMEOUT_SEC * ATTEMPTS * 1000;

describe('agent check: DNS names that hang in the system resolver', { skip: SKIP }, () => {
  let dir: ReturnType<typeof tempDir>;
  before(() => {
    assert.ok(existsSync(AGENT), 'dist/agent.js must be built first (npm run build)');
    dir = tempDir('agent-dns-deadline-');
  });
  after(() => dir.cleanup());

  it('do not delay a name /etc/hosts answers, and the agent exits once its round is done', () => {
    // Prepare: five names behind a silent DNS server, one in /etc/hosts, listed last.
    const resolvConf = join(dir.path, 'resolv.conf');
    writeFileSync(resolvConf, `nameserver 127.0.0.1\noptions timeout:${TIMEOUT_SEC} attempts:${ATTEMPTS}\n`);
    const hosts = join(dir.path, 'hosts');
    writeFileSync(hosts, '127.0.0.1 localhost\n127.0.0.1 healthy.test\n');
    const nsswitch = join(dir.path, 'nsswitch.conf');
    writeFileSync(nsswitch, 'hosts: files dns\n');
    const hanging = ['n1', 'n2', 'n3', 'n4', 'n5'].map((n) => `${n}.corp.internal`);
    const silentDns =
      "require('dgram').createSocket('udp4').bind(53, '127.0.0.1', () => process.stdout.write('up\\n'))";
    const node = shQuote(process.execPath);
    const script = [
      'set -e',
      'ip link set lo up',
      `mount --bind ${shQuote(resolvConf)} /etc/resolv.conf`,
      `mount --bind ${shQuote(hosts)} /etc/hosts`,
      `mount --bind ${shQuote(nsswitch)} /etc/nsswitch.conf`,
      `${node} -e ${shQuote(silentDns)} > ${shQuote(join(dir.path, 'dns-up'))} &`,
      'dns=$!',
      `while [ ! -s ${shQuote(join(dir.path, 'dns-up'))} ]; do sleep 0.05; done`,
      'set +e',
      `${node} ${shQuote(AGENT)} check --json --resources ${[...hanging, 'healthy.test'].join(',')} --count 2 --interval 0.2 --log-dir ${shQuote(join(dir.path, 'logs'))}`,
      'rc=$?',
      'kill $dns',
      'exit $rc',
    ].join('\n');
    // Act
    const started = Date.now();
    const run = spawnSync('unshare', ['--net', '--mount', '--propagation', 'private', 'sh', '-c', script], {
      encoding: 'utf8',
      cwd: ROOT,
      timeout: 4 * RESOLVER_HANG_MS,
    });
    const wallMs = Date.now() - started;
    // Assess
    assert.equal(run.status, 0, `${run.stderr}\n${run.stdout}`);
    const doc = parseResultDocument(run.stdout);
    const healthy = doc.resources.find((r) => r.target === 'healthy.test');
    assert.equal(healthy?.address, '127.0.0.1', JSON.stringify(healthy));
    assert.equal(healthy?.verdict, 'ok');
    for (const name of hanging) {
      const resource = doc.resources.find((r) => r.target === name);
      assert.equal(resource?.errors[0]?.code, 'E_RESOLVE', JSON.stringify(resource));
    }
    assert.ok(
      wallMs < RESOLVER_HANG_MS / 2,
      `the agent exited after ${wallMs} ms (round: ${doc.timings.totalMs} ms); a hung lookup lasts ${RESOLVER_HANG_MS} ms`,
    );
  });
});
