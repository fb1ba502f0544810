/**
 * Gateway discovery with stand-in `openvpn3` / `openvpn3-admin` executables
 * (test/fixtures/bin/openvpn3-*) printing what the real tools print, run
 * through the real process runner.
 */
import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { discoverGateway, type GatewayDiscoveryOptions } from '../../../agent/gateway/discover-gateway.ts';
import { runProcess } from '../../../agent/process/run-process.ts';
import type { RunProcess } from '../../../agent/process/types.ts';
import { GATEWAY_DISCOVERY_TIMEOUT_MS } from '../../../common/round-budget.ts';

const BIN = path.join(__dirname, '..', '..', 'fixtures', 'bin');
const MISSING = path.join(os.tmpdir(), 'no-such-dir-for-gateway-tests', 'openvpn3');

function options(overrides: Partial<GatewayDiscoveryOptions>): GatewayDiscoveryOptions {
  return {
    gatewayIp: null,
    openvpnManagement: null,
    openvpnLog: null,
    timeoutMs: GATEWAY_DISCOVERY_TIMEOUT_MS,
    openvpn3Binary: MISSING,
    openvpn3AdminBinary: MISSING,
    ...overrides,
  };
}

/** The stand-ins of one directory as openvpn3 and openvpn3-admin. */
function standIn(dir: string): Partial<GatewayDiscoveryOptions> {
  return {
    openvpn3Binary: path.join(BIN, dir, 'openvpn3'),
    openvpn3AdminBinary: path.join(BIN, dir, 'openvpn3-admin'),
  };
}

function recordingRun(): { run: RunProcess; commands: string[][] } {
  const commands: string[][] = [];
  const run: RunProcess = (file, args, runOptions) => {
    commands.push([file, ...args]);
    return runProcess(file, args, runOptions);
  };
  return { run, commands };
}

/** A resolver that knows one name and records what it was asked; nothing leaves the machine. */
function fakeResolver(known: Record<string, string>): {
  resolve: (host: string) => Promise<{ address: string; family: 4 | 6 }>;
  asked: string[];
} {
  const asked: string[] = [];
  return {
    asked,
    resolve: async (host) => {
      asked.push(host);
      const address = known[host];
      if (address === undefined) throw new Error(`unexpected lookup of ${host}`);
      return { address, family: address.includes(':') ? 6 : 4 };
    },
  };
}

describe('discoverGateway: --gateway-ip', () => {
  it('uses --gateway-ip without running any command', async () => {
    const { run, commands } = recordingRun();

    const result = await discoverGateway(
      options({ gatewayIp: ' 198.51.100.1 ', ...standIn('openvpn3-v24') }),
      { run },
    );

    assert.deepEqual(result, { ip: '198.51.100.1', source: 'option', warnings: [], errors: [] });
    assert.deepEqual(commands, []);
  });

  it('records an invalid --gateway-ip and discovers the gateway instead', async () => {
    const result = await discoverGateway(
      options({ gatewayIp: 'gw.example.com', ...standIn('openvpn3-v24') }),
      {
        run: runProcess,
      },
    );

    assert.equal(result.ip, '203.0.113.10');
    assert.equal(result.errors[0]?.code, 'E_INVALID_INPUT');
  });
});

describe('discoverGateway: OpenVPN 3 sessions (stand-in executables)', () => {
  it('takes the address from the v24 Connected to line of openvpn3 sessions-list', async () => {
    const { run, commands } = recordingRun();

    const result = await discoverGateway(options(standIn('openvpn3-v24')), { run });

    assert.deepEqual(result, { ip: '203.0.113.10', source: 'openvpn3', warnings: [], errors: [] });
    assert.deepEqual(commands, [[path.join(BIN, 'openvpn3-v24', 'openvpn3'), 'sessions-list']]);
  });

  it('finds openvpn3 and openvpn3-admin through PATH and reads the v23 session journal', async () => {
    // Prepare: the default binary names, resolved through PATH like on a host.
    const savedPath = process.env.PATH;
    process.env.PATH = `${path.join(BIN, 'openvpn3-v23-journal')}:${savedPath ?? ''}`;
    const { run, commands } = recordingRun();
    try {
      // Act
      const result = await discoverGateway(
        {
          gatewayIp: null,
          openvpnManagement: null,
          openvpnLog: null,
          timeoutMs: GATEWAY_DISCOVERY_TIMEOUT_MS,
        },
        { run },
      );

      // Assess
      assert.deepEqual(result, { ip: '77.61.186.235', source: 'openvpn3', warnings: [], errors: [] });
      assert.deepEqual(commands, [
        ['openvpn3', 'sessions-list'],
        [
          'openvpn3-admin',
          'journal',
          '--path',
          '/net/openvpn/v3/sessions/3293277a9210jnjka992929hhnajk423837a',
        ],
      ]);
    } finally {
      process.env.PATH = savedPath;
    }
  });

  it('picks the one connected CloudConnexa session among connecting, paused and reconnecting ones (IPv6, DCO)', async () => {
    const result = await discoverGateway(options(standIn('openvpn3-one-connected-ipv6-dco')), {
      run: runProcess,
    });

    assert.deepEqual(result, { ip: '2001:db8:c0::44', source: 'openvpn3', warnings: [], errors: [] });
  });

  it('uses the first of several connected CloudConnexa sessions and names all of them', async () => {
    const result = await discoverGateway(options(standIn('openvpn3-several-connected')), { run: runProcess });

    assert.equal(result.ip, '203.0.113.21');
    assert.equal(result.warnings.length, 1);
    const [warning] = result.warnings;
    assert.match(
      warning ?? '',
      /^2 connected CloudConnexa sessions: "CloudConnexa" \(.*udp:203\.0\.113\.21:1194\), "OpenVPNCloud" \(.*udp:198\.51\.100\.22:443\); using the first, "CloudConnexa": pass --gateway-ip to trace another$/,
    );
    assert.doesNotMatch(warning ?? '', /home/);
  });

  it('uses the only connected session when no profile name is recognised, with a warning', async () => {
    const result = await discoverGateway(options(standIn('openvpn3-unknown-one-connected')), {
      run: runProcess,
    });

    assert.equal(result.ip, '203.0.113.31');
    assert.match(
      result.warnings[0] ?? '',
      /the only connected openvpn3 session, "prod-connector" .* does not look like CloudConnexa; using it: pass --gateway-ip/,
    );
  });

  it('gives the last known server of a reconnecting session from its journal, with warnings', async () => {
    const result = await discoverGateway(options(standIn('openvpn3-reconnecting')), { run: runProcess });

    assert.equal(result.ip, '198.51.100.40');
    assert.equal(result.source, 'openvpn3');
    assert.match(
      result.warnings[0] ?? '',
      /CloudConnexa session "CloudConnexa" .*status "Connection, Client reconnect".* is not connected/,
    );
    assert.match(result.warnings[1] ?? '', /its journal gives the last known server, 198\.51\.100\.40/);
  });

  it('resolves the server behind an HTTP proxy that the journal names, not the proxy in Connected to', async () => {
    // Prepare
    const { resolve, asked } = fakeResolver({ 'de-fra.gw.openvpn.com': '203.0.113.80' });

    // Act
    const result = await discoverGateway(options(standIn('openvpn3-v24-http-proxy')), {
      run: runProcess,
      resolve,
    });

    // Assess
    assert.equal(result.ip, '203.0.113.80');
    assert.deepEqual(asked, ['de-fra.gw.openvpn.com']);
    assert.match(
      result.warnings[0] ?? '',
      /^openvpn3 session "CloudConnexa" connects through HTTP proxy 10\.0\.0\.8 to de-fra\.gw\.openvpn\.com:1194, a name the proxy resolves on its side: de-fra\.gw\.openvpn\.com resolves on this host to 203\.0\.113\.80/,
    );
  });

  it('takes an IP literal server behind an HTTP proxy as is', async () => {
    const result = await discoverGateway(options(standIn('openvpn3-v24-http-proxy-ip')), {
      run: runProcess,
      resolve: fakeResolver({}).resolve,
    });

    assert.equal(result.ip, '203.0.113.70');
    assert.match(
      result.warnings[0] ?? '',
      /through HTTP proxy 10\.0\.0\.8 to 203\.0\.113\.70:443; 203\.0\.113\.70 is traced directly/,
    );
  });

  it('refuses the proxy address when the journal that names the server cannot be read, and says what to pass', async () => {
    const result = await discoverGateway(options(standIn('openvpn3-v24-http-proxy-no-admin')), {
      run: runProcess,
    });

    assert.equal(result.ip, null);
    assert.match(
      result.warnings.at(-1) ?? '',
      /^no gateway found: openvpn3 session "CloudConnexa" connects through HTTP proxy 10\.0\.0\.8, and only the session journal names the server: .*openvpn3-admin is not installed; no --openvpn-management or --openvpn-log given; pass --gateway-ip$/,
    );
  });

  it('warns that only the beginning of a journal longer than the output bound was read', async () => {
    const result = await discoverGateway(options(standIn('openvpn3-long-journal')), { run: runProcess });

    assert.equal(result.ip, '198.51.100.1');
    assert.match(
      result.warnings[0] ?? '',
      /journal is longer than 16 MiB and only its beginning was read; the address may be out of date/,
    );
  });

  it('records a failing journal with its evidence and resolves the v23 session name instead', async () => {
    const { resolve, asked } = fakeResolver({ 'de-fra.gw.openvpn.com': '203.0.113.90' });

    const result = await discoverGateway(options(standIn('openvpn3-v23-journal-denied')), {
      run: runProcess,
      resolve,
    });

    assert.equal(result.ip, '203.0.113.90');
    assert.deepEqual(asked, ['de-fra.gw.openvpn.com']);
    const [error] = result.errors;
    assert.equal(error?.code, 'E_GATEWAY');
    assert.equal(error?.exitCode, 1);
    assert.equal(error?.command?.[1], 'journal');
    assert.match(error?.message ?? '', /openvpn3-admin journal exited with 1: \*\* ERROR \*\* Access denied/);
    assert.match(result.warnings[0] ?? '', /names its server de-fra\.gw\.openvpn\.com but no address/);
  });

  it('records a non-zero sessions-list exit with its evidence', async () => {
    const result = await discoverGateway(
      options({ openvpn3Binary: path.join(BIN, 'openvpn3-failing', 'openvpn3') }),
      {
        run: runProcess,
      },
    );

    assert.equal(result.ip, null);
    assert.equal(result.errors[0]?.exitCode, 1);
    assert.match(result.errors[0]?.stderr ?? '', /D-Bus/);
    assert.match(result.warnings.at(-1) ?? '', /openvpn3 sessions-list failed \(see errors\)/);
  });

  it('ends by the one discovery deadline when openvpn3 hangs, and records it', async () => {
    // Prepare: the stand-in sleeps 30 s; the whole discovery gets 2.5 s.
    const budgetMs = 2500;
    const started = Date.now();

    // Act
    const result = await discoverGateway(
      options({ openvpn3Binary: path.join(BIN, 'openvpn3-hanging', 'openvpn3'), timeoutMs: budgetMs }),
      { run: runProcess },
    );

    // Assess
    const elapsed = Date.now() - started;
    assert.ok(elapsed < budgetMs + 1500, `discovery took ${elapsed} ms for a ${budgetMs} ms budget`);
    assert.equal(result.ip, null);
    assert.equal(result.errors[0]?.code, 'E_GATEWAY');
    assert.match(result.errors[0]?.message ?? '', /openvpn3 sessions-list did not finish within \d+ ms/);
  });

  it('explains what was tried when openvpn3 is missing and no OpenVPN 2 source is given', async () => {
    const result = await discoverGateway(options({}), { run: runProcess });

    assert.deepEqual(result, {
      ip: null,
      source: null,
      warnings: [
        `no gateway found: ${MISSING} not installed; no --openvpn-management or --openvpn-log given; pass --gateway-ip`,
      ],
      errors: [],
    });
  });

  it('reports no sessions only in the final warning', async () => {
    const result = await discoverGateway(options(standIn('openvpn3-none')), { run: runProcess });

    assert.equal(result.ip, null);
    assert.equal(result.warnings.length, 1);
    assert.match(
      result.warnings[0] ?? '',
      /^no gateway found: openvpn3: openvpn3 lists no sessions; no --openvpn/,
    );
  });

  it('does not guess between several unknown connected sessions', async () => {
    const result = await discoverGateway(options(standIn('openvpn3-several-unknown')), { run: runProcess });

    assert.equal(result.ip, null);
    assert.match(result.warnings[0] ?? '', /2 openvpn3 sessions and none looks like CloudConnexa/);
  });
});
