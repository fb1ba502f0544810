/**
 * Gateway discovery inside the built bundle, as a host runs it, under the
 * current Node and Node 12.22: a proxied connector whose log was rotated and
 * compressed, and a management interface on loopback. A stand-in `mtr` first
 * on PATH answers for any target (nothing is probed), so the round completes.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { parseResultDocument, type ResultDocument } from '../../../common/result-schema.ts';
import { AGENT, NODE12, ROOT, standInBin, tempDir } from '../../helpers/run-agent.ts';
import { answer, startFakeManagement } from './fake-management.ts';

const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'openvpn');
const NODES: Array<[string, string, string | false]> = [
  ['current Node', process.execPath, false],
  ['Node 12.22', NODE12, fs.existsSync(NODE12) ? false : `Node 12 binary not installed at ${NODE12}`],
];

/** mtr 0.95 `--json` with one hop: the target itself, answering in 1 ms. */
const STAND_IN_MTR = `#!/bin/sh
if [ "$1" = "--version" ]; then echo "mtr 0.95"; exit 0; fi
eval "target=\\\${$#}"
cat <<EOF
{"report":{"mtr":{"src":"h","dst":"$target","tos":0,"tests":3,"psize":"64","bitpattern":"0x00"},
"hubs":[{"count":1,"host":"$target","Loss%":0.0,"Snt":3,"Last":1.0,"Avg":1.0,"Best":1.0,"Wrst":1.0,"StDev":0.0}]}}
EOF
`;

const dir = tempDir('gateway-bundle-test-');
after(() => dir.cleanup());
const bin = standInBin(dir.path, { mtr: STAND_IN_MTR });

/** Runs `check --json` without blocking this process (the loopback management server lives here). */
function check(node: string, name: string, args: string[]): Promise<ResultDocument> {
  const logDir = path.join(dir.path, `logs-${name}`);
  return new Promise((resolve, reject) => {
    const child = spawn(
      node,
      [
        AGENT,
        'check',
        '--json',
        '--resources',
        '127.0.0.1',
        '--count',
        '3',
        '--interval',
        '1',
        '--log-dir',
        logDir,
        ...args,
      ],
      { cwd: ROOT, env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` } },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      try {
        assert.equal(status, 0, `exit ${status}\n${stderr}\n${stdout}`);
        resolve(parseResultDocument(stdout));
      } catch (error) {
        reject(error);
      }
    });
  });
}

for (const [label, node, skip] of NODES) {
  describe(`the agent bundle under ${label}: gateway discovery`, { skip }, () => {
    const name = label.replace(/\W+/g, '-');

    it('finds the server behind the HTTP proxy in a gzip-rotated log (copytruncate left the log empty)', async () => {
      // Prepare: a real 2.6 client log through an HTTP proxy, rotated and compressed.
      const logs = path.join(dir.path, `openvpn-${name}`);
      fs.mkdirSync(logs);
      const log = path.join(logs, 'client.log');
      fs.writeFileSync(log, '');
      fs.writeFileSync(
        `${log}.1.gz`,
        gzipSync(fs.readFileSync(path.join(FIXTURES, 'client-real-2.6-http-proxy.log'))),
      );

      // Act
      const doc = await check(node, `log-${name}`, ['--openvpn-log', log]);

      // Assess
      assert.equal(doc.gateway?.ip, '127.0.0.3', JSON.stringify(doc.gateway));
      assert.equal(doc.gateway?.source, 'openvpn2-log');
      assert.equal(doc.gateway?.latencyMs, 1);
      assert.ok(
        doc.warnings.some((warning) =>
          /through HTTP proxy 127\.0\.0\.2:18080 to 127\.0\.0\.3:11194/.test(warning),
        ),
        JSON.stringify(doc.warnings),
      );
    });

    it('uses the last connected server of a reconnecting client from its management interface', async () => {
      const server = await startFakeManagement({
        answers: {
          'state all': answer(
            '1712345600,CONNECTED,SUCCESS,10.8.0.2,127.0.0.5,1194,,',
            '1712345670,RECONNECTING,ping-restart,,,,,',
          ),
          'log 500': answer('1712345600,I,UDPv4 link remote: [AF_INET]127.0.0.5:1194'),
        },
      });
      try {
        const doc = await check(node, `management-${name}`, ['--openvpn-management', server.endpoint]);

        assert.equal(doc.gateway?.ip, '127.0.0.5', JSON.stringify(doc.gateway));
        assert.equal(doc.gateway?.source, 'openvpn2-management');
        assert.ok(
          doc.warnings.some((warning) => /reports state RECONNECTING/.test(warning)),
          JSON.stringify(doc.warnings),
        );
        await server.receivedLine('quit');
        // `status` reads the tunnel's byte counters (the result's `tunnel`) in the same session.
        assert.deepEqual(server.received, ['state all', 'log 500', 'status', 'quit']);
      } finally {
        await server.close();
      }
    });
  });
}
