/**
 * The OpenVPN 2.x pair that plays the CloudConnexa tunnel: a server in the gw
 * namespace (the gateway) and a client in the host namespace (the connector).
 * Authentication is OpenVPN 2.6 `peer-fingerprint` with two self-signed EC
 * certificates: no CA, no DH parameters, two quick openssl runs.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ProcessError } from '../../common/errors.ts';
import { runChecked, sleep, terminate } from './run.ts';

export interface TunnelPlan {
  dir: string;
  serverNamespace: string;
  clientNamespace: string;
  serverAddress: string;
  port: number;
  /** Tunnel subnet, e.g. 10.199.100.0 with mask 255.255.255.0. */
  tunnelNetwork: string;
  tunnelMask: string;
  /** Routes the server pushes to the client: [network, mask]. */
  pushRoutes: Array<[string, string]>;
  managementPort: number;
}

const READY_LINE = 'Initialization Sequence Completed';

async function makeIdentity(
  dir: string,
  name: string,
): Promise<{ cert: string; key: string; fingerprint: string }> {
  const cert = path.join(dir, `${name}.crt`);
  const key = path.join(dir, `${name}.key`);
  // biome-ignore format: one openssl flag and its value per line
  await runChecked('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
    '-nodes', '-days', '2', '-subj', `/CN=ccm-lab-${name}`, '-keyout', key, '-out', cert,
  ], { timeoutMs: 20_000 });
  const fingerprint = new X509Certificate(fs.readFileSync(cert)).fingerprint256;
  return { cert, key, fingerprint };
}

export class Tunnel {
  readonly plan: TunnelPlan;
  readonly serverLog: string;
  readonly clientLog: string;
  private server: ChildProcess | null = null;
  private client: ChildProcess | null = null;
  private readonly serverConfig: string;
  private readonly clientConfig: string;

  private constructor(plan: TunnelPlan, serverConfig: string, clientConfig: string) {
    this.plan = plan;
    this.serverConfig = serverConfig;
    this.clientConfig = clientConfig;
    this.serverLog = path.join(plan.dir, 'openvpn-server.log');
    this.clientLog = path.join(plan.dir, 'openvpn-client.log');
  }

  /** Generates the certificates and writes both configurations. */
  static async prepare(plan: TunnelPlan): Promise<Tunnel> {
    const [server, client] = await Promise.all([
      makeIdentity(plan.dir, 'server'),
      makeIdentity(plan.dir, 'client'),
    ]);
    const common = [
      'dev ovpn0',
      'dev-type tun',
      'proto udp4',
      // data-channel offload would need a kernel module; the userspace path is what we test
      'disable-dco',
      'verb 3',
      'persist-key',
    ];
    const serverConfig = [
      ...common,
      `local ${plan.serverAddress}`,
      `port ${plan.port}`,
      'topology subnet',
      `server ${plan.tunnelNetwork} ${plan.tunnelMask}`,
      'dh none',
      // short keepalive so a restarted peer is noticed within seconds
      'keepalive 2 10',
      ...plan.pushRoutes.map(([network, mask]) => `push "route ${network} ${mask}"`),
      `cert ${server.cert}`,
      `key ${server.key}`,
      `peer-fingerprint ${client.fingerprint}`,
    ];
    const clientConfig = [
      ...common,
      'client',
      'nobind',
      `remote ${plan.serverAddress} ${plan.port}`,
      'connect-retry 1 1',
      'resolv-retry infinite',
      `cert ${client.cert}`,
      `key ${client.key}`,
      `peer-fingerprint ${server.fingerprint}`,
      `management 127.0.0.1 ${plan.managementPort}`,
    ];
    const serverPath = path.join(plan.dir, 'server.conf');
    const clientPath = path.join(plan.dir, 'client.conf');
    fs.writeFileSync(serverPath, `${serverConfig.join('\n')}\n`);
    fs.writeFileSync(clientPath, `${clientConfig.join('\n')}\n`);
    return new Tunnel(plan, serverPath, clientPath);
  }

  get serverPid(): number | null {
    return this.server?.pid ?? null;
  }

  get clientPid(): number | null {
    return this.client?.pid ?? null;
  }

  async startServer(timeoutMs = 15_000): Promise<void> {
    if (this.server !== null) return;
    this.server = this.launch(this.plan.serverNamespace, this.serverConfig, this.serverLog);
    await this.waitFor(this.serverLog, this.server, timeoutMs, 'server', this.serverConfig);
  }

  /** Starts the client and resolves once it is connected (routes pushed, tun up). */
  async startClient(timeoutMs = 15_000): Promise<void> {
    if (this.client !== null) return;
    this.client = this.launch(this.plan.clientNamespace, this.clientConfig, this.clientLog);
    await this.waitFor(this.clientLog, this.client, timeoutMs, 'client', this.clientConfig);
  }

  async stopClient(): Promise<void> {
    const child = this.client;
    this.client = null;
    if (child?.pid !== undefined && child.exitCode === null) await terminate([child.pid], 3000);
  }

  /** Sends `signal` to the running client (SIGUSR1: a soft restart, as ping-restart does); false when none runs. */
  signalClient(signal: NodeJS.Signals): boolean {
    const child = this.client;
    return child !== null && child.exitCode === null && child.kill(signal);
  }

  async stopServer(): Promise<void> {
    const child = this.server;
    this.server = null;
    if (child?.pid !== undefined && child.exitCode === null) await terminate([child.pid], 3000);
  }

  async stop(): Promise<void> {
    await Promise.all([this.stopClient(), this.stopServer()]);
  }

  private launch(namespace: string, config: string, log: string): ChildProcess {
    // --log truncates: each start begins a fresh log, as a restarted connector would
    const args = ['netns', 'exec', namespace, 'openvpn', '--config', config, '--log', log];
    fs.writeFileSync(log, '');
    const child = spawn('ip', args, { stdio: 'ignore' });
    child.on('error', () => {});
    // never keeps the test process alive; an orphan is removed by cleanupStaleLabs
    child.unref();
    return child;
  }

  private async waitFor(
    log: string,
    child: ChildProcess,
    timeoutMs: number,
    role: 'client' | 'server',
    config: string,
  ): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const text = readText(log);
      if (text.includes(READY_LINE)) return;
      const exited = child.exitCode !== null || child.signalCode !== null;
      if (exited || Date.now() > deadline) {
        const why = exited
          ? `exited with ${child.exitCode ?? child.signalCode}`
          : `not connected after ${timeoutMs} ms`;
        if (!exited && child.pid !== undefined) await terminate([child.pid], 1000);
        if (role === 'client') this.client = null;
        else this.server = null;
        throw new ProcessError('E_PROCESS', `OpenVPN ${role} in namespace ${this.namespaceOf(role)} ${why}`, {
          command: [
            'ip',
            'netns',
            'exec',
            this.namespaceOf(role),
            'openvpn',
            '--config',
            config,
            '--log',
            log,
          ],
          exitCode: child.exitCode,
          signal: child.signalCode,
          stderr: `--- client log ---\n${tail(readText(this.clientLog))}\n--- server log ---\n${tail(readText(this.serverLog))}`,
        });
      }
      await sleep(25);
    }
  }

  private namespaceOf(role: 'client' | 'server'): string {
    return role === 'client' ? this.plan.clientNamespace : this.plan.serverNamespace;
  }
}

function readText(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function tail(text: string, lines = 25): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}
