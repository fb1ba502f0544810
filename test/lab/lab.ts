/**
 * A network lab of Linux namespaces standing in for an EC2 connector host, its
 * CloudConnexa gateway (a real OpenVPN 2.x server) and private resources behind
 * it, with impairments that can be changed while probes run.
 *
 * Nothing is created in the machine's own namespace and no lab namespace has an
 * interface to the outside, so a probe sent by mistake cannot leave the machine.
 */
import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { InvalidInputError, ProcessError } from '../../common/errors.ts';
import { MAX_RESOURCES, PLAN, resourceAddress } from './addresses.ts';
import { Tunnel } from './openvpn.ts';
import { cleanupStaleLabs, labNamespaces, registerLab, removeNamespaces } from './registry.ts';
import { Relay } from './relay.ts';
import { type ProcessResult, type RunOptions, run, runChecked, terminate } from './run.ts';

export type { ProcessResult, RunOptions } from './run.ts';

export type RouterName = 'under' | 'gw' | 'r1' | 'r2';
export type ResourceName = `res${number}`;
export type NodeName = 'host' | RouterName | ResourceName;
/** Links that are TUN relays and so can carry added latency. */
export type LatencyLink = 'under-gw' | 'r1-r2';
/** Which router r1 hands a resource's traffic to: r2 (the usual path) or the second router, alt. */
export type RouteVia = 'r2' | 'alt';

export const ROUTERS: readonly RouterName[] = ['under', 'gw', 'r1', 'r2'];
export const LATENCY_LINKS: readonly LatencyLink[] = ['under-gw', 'r1-r2'];

export interface LabOptions {
  /** Resource namespaces res1..resN behind r2; default 3. */
  resources?: number;
  /** How long to wait for the OpenVPN client to connect; default 20 s. */
  connectTimeoutMs?: number;
  /** Remove labs of crashed earlier runs first (owner process dead); default true. */
  cleanupStale?: boolean;
}

export interface LabAddresses {
  hostUnderlay: string;
  /** The OpenVPN server's underlay address: what the agent must discover as GATEWAY_IP. */
  gwUnderlay: string;
  /** The server's tunnel address: hop 1 of every path through the tunnel. */
  gwTunnel: string;
  /** The client's tunnel address, as assigned by the server. */
  hostTunnel: string;
  underHost: string;
  r1: string;
  r2: string;
  resources: string[];
  /** Hops before a resource, in order: gw (tunnel), r1, r2. */
  hopsToResource: string[];
  /** Hops to the gateway's underlay address: under, gw. */
  hopsToGateway: string[];
  /** The second router's address as a hop (Lab.routeVia): after r1, before r2. */
  alt: string;
}

interface FirewallState {
  lossPct: number;
  blockIcmp: boolean;
  unreachable: boolean;
}

/** Interface a router receives host-side traffic on: loss is injected there. */
const UPSTREAM_INTERFACE: Record<RouterName, string> = { under: 'host', gw: 'ovpn0', r1: 'gw', r2: 'r1' };

const RELAY_ENDS: Record<LatencyLink, [RouterName, string, RouterName, string]> = {
  'under-gw': ['under', 'gw', 'gw', 'under'],
  'r1-r2': ['r1', 'r2', 'r2', 'r1'],
};

const TCP_SERVICE_SCRIPT = path.join(__dirname, 'tcp_service.py');

export class Lab {
  readonly id: string;
  /** The lab's own directory: keys, configurations, OpenVPN logs. */
  readonly dir: string;
  readonly resourceNames: ResourceName[];
  readonly addr: LabAddresses;
  readonly managementEndpoint = { host: '127.0.0.1', port: PLAN.managementPort } as const;
  /** `--openvpn-management` value for the agent. */
  readonly management = `127.0.0.1:${PLAN.managementPort}`;
  private readonly relays = new Map<LatencyLink, Relay>();
  private readonly latency = new Map<LatencyLink, number>();
  private readonly variations = new Map<
    LatencyLink,
    { timer: NodeJS.Timeout; baseMs: number; inFlight: () => Promise<void>; failure: () => unknown }
  >();
  private readonly firewall = new Map<NodeName, FirewallState>();
  private readonly rateLimits = new Map<RouterName, number>();
  private readonly services = new Map<string, ChildProcess>();
  private tunnel: Tunnel | null = null;
  private destroying: Promise<void> | null = null;
  private altRouter: Promise<void> | null = null;
  private readonly routedViaAlt = new Set<ResourceName>();

  constructor(id: string, dir: string, resources: number) {
    this.id = id;
    this.dir = dir;
    this.resourceNames = Array.from({ length: resources }, (_, i): ResourceName => `res${i + 1}`);
    const resourceAddresses = this.resourceNames.map((_, i) => resourceAddress(i));
    this.addr = {
      hostUnderlay: PLAN.hostUnderlay,
      gwUnderlay: PLAN.gwUnderlay,
      gwTunnel: PLAN.gwTunnel,
      hostTunnel: '',
      underHost: PLAN.underHost,
      r1: PLAN.r1,
      r2: PLAN.r2,
      resources: resourceAddresses,
      hopsToResource: [PLAN.gwTunnel, PLAN.r1, PLAN.r2],
      hopsToGateway: [PLAN.underHost, PLAN.gwUnderlay],
      alt: PLAN.alt,
    };
  }

  /** Every node of this lab: host, routers, resources. */
  get nodes(): NodeName[] {
    return ['host', ...ROUTERS, ...this.resourceNames];
  }

  /** Full namespace name of a node, e.g. `ccmAb12Cd-host`. */
  ns(node: NodeName): string {
    if (!this.nodes.includes(node)) {
      throw new InvalidInputError('lab node', node, `one of ${this.nodes.join(', ')}`);
    }
    return `${this.id}-${node}`;
  }

  get hostNamespace(): string {
    return this.ns('host');
  }

  get openvpnLogPath(): string {
    return this.requireTunnel().clientLog;
  }

  get openvpnServerLogPath(): string {
    return this.requireTunnel().serverLog;
  }

  /** The argv that runs `command` inside a node's namespace (for callers that spawn it themselves). */
  command(node: NodeName, command: string, args: readonly string[] = []): string[] {
    return ['ip', 'netns', 'exec', this.ns(node), command, ...args];
  }

  /** Runs a command to completion inside a node's namespace; a non-zero exit is a result, not an error. */
  exec(
    node: NodeName,
    command: string,
    args: readonly string[] = [],
    options: RunOptions = {},
  ): Promise<ProcessResult> {
    const [ip, ...rest] = this.command(node, command, args);
    return run(ip ?? 'ip', rest, options);
  }

  /** Starts a long-running command inside a node's namespace; destroy() ends it if still running. */
  spawn(
    node: NodeName,
    command: string,
    args: readonly string[] = [],
    options: SpawnOptions = {},
  ): ChildProcess {
    const [ip, ...rest] = this.command(node, command, args);
    return spawn(ip ?? 'ip', rest, options);
  }

  // ---- impairments ------------------------------------------------------------------

  /** Adds `rttMs` of round-trip time on a relay link (half each way); 0 removes it. */
  async setLatency(link: LatencyLink, rttMs: number): Promise<void> {
    const relay = this.relays.get(link);
    if (relay === undefined) throw new InvalidInputError('latency link', link, LATENCY_LINKS.join(' or '));
    checkRange('latency (ms)', rttMs, 0, 10_000);
    await relay.setDelay(rttMs / 2, rttMs / 2);
    this.latency.set(link, rttMs);
  }

  /**
   * Varies a relay link's round-trip delay while probes run, for jitter:
   * cycles through `rttsMs` (e.g. [5, 45]), one value every `everyMs`, until
   * stopVaryingLatency() or clear(), which put back the delay set before.
   * Each change applies to the packets the relay reads after it; a machine too
   * busy to make a change in time skips steps rather than queueing them. A
   * change that fails ends the variation; stopVaryingLatency() throws it.
   */
  async varyLatency(link: LatencyLink, rttsMs: readonly number[], everyMs: number): Promise<void> {
    if (rttsMs.length < 2) throw new InvalidInputError('latency pattern', rttsMs, 'at least two values');
    for (const rtt of rttsMs) checkRange('latency (ms)', rtt, 0, 10_000);
    checkRange('period (ms)', everyMs, 10, 60_000);
    await this.stopVaryingLatency(link);
    const baseMs = this.latency.get(link) ?? 0;
    let step = 0;
    let inFlight: Promise<void> | null = this.setLatency(link, rttsMs[0] ?? baseMs);
    await inFlight;
    inFlight = null;
    // Kept for stopVaryingLatency(): a test must not pass on a delay that stopped varying.
    let failure: unknown = null;
    const timer = setInterval(() => {
      if (inFlight !== null) return;
      step = (step + 1) % rttsMs.length;
      inFlight = this.setLatency(link, rttsMs[step] ?? baseMs)
        .catch((error: unknown) => {
          failure = error;
          clearInterval(timer);
        })
        .finally(() => {
          inFlight = null;
        });
    }, everyMs);
    timer.unref();
    this.variations.set(link, {
      timer,
      baseMs,
      inFlight: () => inFlight ?? Promise.resolve(),
      failure: () => failure,
    });
  }

  /**
   * Ends varyLatency on a link and puts back the delay it started from; nothing
   * when none runs. Throws the error of a change that failed meanwhile (the
   * delay stopped varying then), after putting the delay back.
   */
  async stopVaryingLatency(link: LatencyLink): Promise<void> {
    const variation = this.variations.get(link);
    if (variation === undefined) return;
    this.variations.delete(link);
    clearInterval(variation.timer);
    await variation.inFlight();
    await this.setLatency(link, variation.baseMs);
    const failure = variation.failure();
    if (failure !== null)
      throw new Error(`the delay on ${link} stopped varying: a change failed`, { cause: failure });
  }

  /**
   * Random loss of `pct` percent. On a router: packets it forwards away from the
   * host, so every hop beyond it shows the loss. On a resource: everything it receives.
   */
  async setLoss(node: RouterName | ResourceName, pct: number): Promise<void> {
    checkRange('loss (%)', pct, 0, 100);
    if (
      !(ROUTERS as readonly string[]).includes(node) &&
      !this.resourceNames.includes(node as ResourceName)
    ) {
      throw new InvalidInputError('loss node', node, `a router (${ROUTERS.join(', ')}) or a resource`);
    }
    await this.updateFirewall(node, { lossPct: pct });
  }

  /** Sets net.ipv4.icmp_ratelimit of a router: 0 (lab default) or 1000 (kernel default). */
  async setIcmpRateLimit(router: RouterName, ms: number): Promise<void> {
    if (!ROUTERS.includes(router)) throw new InvalidInputError('router', router, ROUTERS.join(', '));
    checkRange('icmp_ratelimit (ms)', ms, 0, 60_000);
    await runChecked('ip', [
      'netns',
      'exec',
      this.ns(router),
      'sysctl',
      '-q',
      '-w',
      `net.ipv4.icmp_ratelimit=${ms}`,
    ]);
    this.rateLimits.set(router, ms);
  }

  /** Drops ICMP echo requests at a resource; its TCP services keep answering. */
  async blockIcmp(resource: ResourceName, blocked = true): Promise<void> {
    this.requireResource(resource);
    await this.updateFirewall(resource, { blockIcmp: blocked });
  }

  /** A resource that silently drops everything it receives (a dead host). */
  async makeUnreachable(resource: ResourceName, unreachable = true): Promise<void> {
    this.requireResource(resource);
    await this.updateFirewall(resource, { unreachable });
  }

  /** Starts a TCP listener (accept, close) on the resource's address; idempotent. */
  async startTcpService(resource: ResourceName, port: number, mode: 'tcp' | 'http' = 'tcp'): Promise<void> {
    this.requireResource(resource);
    checkRange('TCP port', port, 1, 65_535);
    const key = `${resource}:${port}`;
    const existing = this.services.get(key);
    if (existing !== undefined && existing.exitCode === null) return;
    const address = this.addr.resources[this.resourceNames.indexOf(resource)] ?? '';
    const child = this.spawn(resource, 'python3', [TCP_SERVICE_SCRIPT, address, String(port), mode], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    child.unref();
    for (const stream of [child.stdin, child.stdout, child.stderr])
      (stream as { unref?: () => void } | null)?.unref?.();
    this.services.set(key, child);
    const ready = await new Promise<boolean>((resolve) => {
      let out = '';
      const timer = setTimeout(() => resolve(false), 10_000);
      child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
        out += chunk;
        if (out.includes('listening')) {
          clearTimeout(timer);
          resolve(true);
        }
      });
      child.on('exit', () => {
        clearTimeout(timer);
        resolve(false);
      });
    });
    if (!ready) {
      this.services.delete(key);
      if (child.pid !== undefined) await terminate([child.pid], 500);
      throw new ProcessError(
        'E_PROCESS',
        `TCP service on ${address}:${port} in ${this.ns(resource)} did not start`,
        {
          command: this.command(resource, 'python3', [TCP_SERVICE_SCRIPT, address, String(port), mode]),
          exitCode: child.exitCode,
          signal: child.signalCode,
          stderr: '',
        },
      );
    }
  }

  async stopTcpService(resource: ResourceName, port: number): Promise<void> {
    const key = `${resource}:${port}`;
    const child = this.services.get(key);
    this.services.delete(key);
    if (child?.pid !== undefined && child.exitCode === null) await terminate([child.pid], 1000);
  }

  /**
   * Routes one resource's traffic from r1 through the second router `alt`,
   * which hands it on to r2 (a path one hop longer, `alt` at hop 3), or back
   * the usual way (`r2`). Replies keep the usual way back (r2 → r1), as on an
   * asymmetric real route. The alt router is built on first use; clear()
   * routes every resource the usual way again.
   */
  async routeVia(resource: ResourceName, via: RouteVia): Promise<void> {
    this.requireResource(resource);
    const address = this.addr.resources[this.resourceNames.indexOf(resource)] ?? '';
    if (via === 'r2') {
      if (this.routedViaAlt.delete(resource)) {
        await runChecked('ip', ['-n', this.ns('r1'), 'route', 'del', `${address}/32`]);
      }
      return;
    }
    if (via !== 'alt') throw new InvalidInputError('route via', via, 'r2 or alt');
    this.altRouter ??= this.buildAltRouter();
    await this.altRouter;
    await runChecked('ip', ['-n', this.ns('r1'), 'route', 'replace', `${address}/32`, 'via', PLAN.alt]);
    this.routedViaAlt.add(resource);
  }

  /** The `alt` namespace, linked to r1 and r2 by veths; its name shares the lab's prefix, so teardown removes it. */
  private async buildAltRouter(): Promise<void> {
    const alt = `${this.id}-alt`;
    await runChecked('ip', ['netns', 'add', alt]);
    const veth = (nsA: string, ifA: string, nsB: string, ifB: string): string =>
      `link add ${ifA} netns ${nsA} type veth peer name ${ifB} netns ${nsB}`;
    await runChecked('ip', ['-batch', '-'], {
      input: `${[veth(this.ns('r1'), 'alt', alt, 'r1'), veth(alt, 'r2', this.ns('r2'), 'alt')].join('\n')}\n`,
    });
    const configure = async (ns: string, lines: string[]): Promise<void> => {
      await runChecked('ip', ['-n', ns, '-batch', '-'], { input: `${lines.join('\n')}\n` });
    };
    await configure(alt, [
      'link set lo up',
      `addr add ${PLAN.alt}/30 dev r1`,
      'link set r1 up',
      `addr add ${PLAN.altR2}/30 dev r2`,
      'link set r2 up',
      `route add 10.199.128.0/24 via ${PLAN.r2Alt}`,
      `route add default via ${PLAN.r1Alt}`,
    ]);
    await configure(this.ns('r1'), [`addr add ${PLAN.r1Alt}/30 dev alt`, 'link set alt up']);
    await configure(this.ns('r2'), [`addr add ${PLAN.r2Alt}/30 dev alt`, 'link set alt up']);
    // Forwarding, no ICMP rate limit (as the other routers), and no reverse-path filter:
    // traffic goes r1 → alt → r2 and comes back r2 → r1.
    const open = ['net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.default.rp_filter=0'];
    await Promise.all([
      runChecked('ip', [
        'netns',
        'exec',
        alt,
        'sysctl',
        '-q',
        '-w',
        'net.ipv4.ip_forward=1',
        'net.ipv4.icmp_ratelimit=0',
        'net.ipv4.icmp_msgs_per_sec=100000',
        ...open,
        'net.ipv4.conf.r1.rp_filter=0',
        'net.ipv4.conf.r2.rp_filter=0',
      ]),
      ...(['r1', 'r2'] as const).map((router) =>
        runChecked('ip', [
          'netns',
          'exec',
          this.ns(router),
          'sysctl',
          '-q',
          '-w',
          ...open,
          'net.ipv4.conf.alt.rp_filter=0',
        ]),
      ),
    ]);
  }

  /** Stops the OpenVPN client (the tunnel is down until startTunnel). */
  async stopTunnel(): Promise<void> {
    await this.requireTunnel().stopClient();
  }

  /** Starts the OpenVPN client and resolves once it is connected again and every resource answers. */
  async startTunnel(timeoutMs = 20_000): Promise<void> {
    await this.requireTunnel().startClient(timeoutMs);
    await this.warmUp();
  }

  /** Restarts the OpenVPN client: a fresh log, a new connection, the same gateway. */
  async restartTunnel(options: { downMs?: number; timeoutMs?: number } = {}): Promise<void> {
    await this.stopTunnel();
    if (options.downMs !== undefined) await new Promise((resolve) => setTimeout(resolve, options.downMs));
    await this.startTunnel(options.timeoutMs);
  }

  /**
   * Makes the OpenVPN client restart its connection now (SIGUSR1, what ping-restart does):
   * it closes the tun device and reconnects, which takes until the server answers again
   * (with `setLoss('under', 100)`, until the loss is removed). Does not wait.
   */
  reconnectTunnel(): void {
    if (!this.requireTunnel().signalClient('SIGUSR1')) {
      throw new ProcessError('E_PROCESS', `lab ${this.id}: no OpenVPN client is running to reconnect`, {
        command: [],
        exitCode: null,
        signal: null,
        stderr: '',
      });
    }
  }

  /** Removes every impairment (latency, loss, blocks, rate limits, routes via alt); TCP services keep running. */
  async clear(): Promise<void> {
    for (const link of [...this.variations.keys()]) await this.stopVaryingLatency(link);
    const work: Array<Promise<void>> = [];
    for (const link of this.relays.keys()) work.push(this.setLatency(link, 0));
    for (const node of [...this.firewall.keys()]) {
      this.firewall.delete(node);
      work.push(this.applyFirewall(node));
    }
    for (const router of ROUTERS)
      if ((this.rateLimits.get(router) ?? 0) !== 0) work.push(this.setIcmpRateLimit(router, 0));
    for (const resource of [...this.routedViaAlt]) work.push(this.routeVia(resource, 'r2'));
    await Promise.all(work);
  }

  /** Packets each relay forwarded, to prove traffic took the expected path. */
  async relayStats(link: LatencyLink): Promise<{ aToB: number; bToA: number; queued: number }> {
    const relay = this.relays.get(link);
    if (relay === undefined) throw new InvalidInputError('latency link', link, LATENCY_LINKS.join(' or '));
    return relay.stats();
  }

  /** Pids of the lab's own long-running processes: OpenVPN server and client, relays, TCP services. */
  processIds(): number[] {
    const pids = [
      this.tunnel?.serverPid,
      this.tunnel?.clientPid,
      ...[...this.relays.values()].map((r) => r.pid),
    ];
    for (const child of this.services.values()) pids.push(child.pid);
    return pids.filter((pid): pid is number => typeof pid === 'number');
  }

  /** Ends every process of the lab and deletes its namespaces and directory; safe to call twice. */
  destroy(): Promise<void> {
    this.destroying ??= this.teardown();
    return this.destroying;
  }

  // ---- set-up -----------------------------------------------------------------------

  /** Builds the namespaces, links, relays and tunnel. Called once by createLab. */
  async build(options: LabOptions): Promise<void> {
    const tunnelReady = Tunnel.prepare({
      dir: this.dir,
      serverNamespace: this.ns('gw'),
      clientNamespace: this.ns('host'),
      serverAddress: PLAN.gwUnderlay,
      port: PLAN.openvpnPort,
      tunnelNetwork: PLAN.tunnelNetwork,
      tunnelMask: PLAN.tunnelMask,
      pushRoutes: PLAN.pushed,
      managementPort: PLAN.managementPort,
    });
    // keep a rejection from going unhandled while the network is built
    tunnelReady.catch(() => {});
    await this.createNamespacesAndVeths();
    await Promise.all(
      LATENCY_LINKS.map(async (link) => {
        const [a, ifA, b, ifB] = RELAY_ENDS[link];
        const relay = await Relay.start(
          { namespace: this.ns(a), ifname: ifA },
          { namespace: this.ns(b), ifname: ifB },
        );
        this.relays.set(link, relay);
      }),
    );
    await Promise.all([
      ...this.nodes.map((node) => this.configureNode(node)),
      ...ROUTERS.map((r) => this.tuneRouter(r)),
    ]);
    this.tunnel = await tunnelReady;
    await this.tunnel.startServer();
    await this.tunnel.startClient(options.connectTimeoutMs ?? 20_000);
    this.addr.hostTunnel = await this.readHostTunnelAddress();
    await this.warmUp();
  }

  /**
   * One ping to every resource through the tunnel: proves the lab works end to end
   * before anyone measures it, and resolves ARP on the bridge so the first probe
   * of a test does not carry a neighbour-resolution delay.
   */
  private async warmUp(): Promise<void> {
    const pending = [...this.addr.resources];
    const worker = async (): Promise<void> => {
      for (let address = pending.shift(); address !== undefined; address = pending.shift()) {
        // Right after CONNECTED the first packets can still be lost while the
        // client installs its routes: readiness is the first answer of a few tries.
        const args = ['-n', '-q', '-c', '1', '-W', '1', '--', address];
        let result = await this.exec('host', 'ping', args, { timeoutMs: 10_000 });
        for (let attempt = 1; attempt < 8 && result.exitCode !== 0; attempt++) {
          result = await this.exec('host', 'ping', args, { timeoutMs: 10_000 });
        }
        if (result.exitCode !== 0) {
          throw new ProcessError(
            'E_PROCESS',
            `lab ${this.id}: ${address} does not answer through the tunnel`,
            {
              command: result.command,
              exitCode: result.exitCode,
              signal: result.signal,
              stderr: `${result.stdout}${result.stderr}`,
            },
          );
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(8, pending.length) }, worker));
  }

  private async createNamespacesAndVeths(): Promise<void> {
    const lines = this.nodes.map((node) => `netns add ${this.ns(node)}`);
    // each veth is created straight into its two namespaces, never in the machine's own
    const veth = (nsA: string, ifA: string, nsB: string, ifB: string): string =>
      `link add ${ifA} netns ${nsA} type veth peer name ${ifB} netns ${nsB}`;
    lines.push(veth(this.ns('host'), 'under', this.ns('under'), 'host'));
    lines.push(veth(this.ns('gw'), 'r1', this.ns('r1'), 'gw'));
    for (const res of this.resourceNames) lines.push(veth(this.ns('r2'), res, this.ns(res), 'eth0'));
    await runChecked('ip', ['-batch', '-'], { input: `${lines.join('\n')}\n`, timeoutMs: 60_000 });
  }

  private nodeCommands(node: NodeName): string[] {
    const up = (ifname: string): string => `link set ${ifname} up`;
    const addr = (address: string, ifname: string): string => `addr add ${address}/24 dev ${ifname}`;
    const lines = [up('lo')];
    switch (node) {
      case 'host':
        lines.push(
          addr(PLAN.hostUnderlay, 'under'),
          up('under'),
          `route add 10.199.2.0/24 via ${PLAN.underHost}`,
        );
        break;
      case 'under':
        lines.push(addr(PLAN.underHost, 'host'), up('host'), addr(PLAN.underGw, 'gw'), up('gw'));
        break;
      case 'gw':
        lines.push(addr(PLAN.gwUnderlay, 'under'), up('under'), addr(PLAN.gwR1, 'r1'), up('r1'));
        lines.push(`route add 10.199.1.0/24 via ${PLAN.underGw}`);
        lines.push(`route add 10.199.4.0/24 via ${PLAN.r1}`, `route add 10.199.128.0/24 via ${PLAN.r1}`);
        break;
      case 'r1':
        lines.push(addr(PLAN.r1, 'gw'), up('gw'), addr(PLAN.r1R2, 'r2'), up('r2'));
        lines.push(`route add default via ${PLAN.gwR1}`, `route add 10.199.128.0/24 via ${PLAN.r2}`);
        break;
      case 'r2':
        lines.push(addr(PLAN.r2, 'r1'), up('r1'), 'link add br0 type bridge');
        for (const res of this.resourceNames) lines.push(`link set ${res} master br0`, up(res));
        lines.push(addr(PLAN.resourceGateway, 'br0'), up('br0'), `route add default via ${PLAN.r1R2}`);
        break;
      default: {
        const address = this.addr.resources[this.resourceNames.indexOf(node)] ?? '';
        lines.push(addr(address, 'eth0'), up('eth0'), `route add default via ${PLAN.resourceGateway}`);
      }
    }
    return lines;
  }

  private async configureNode(node: NodeName): Promise<void> {
    const input = `${this.nodeCommands(node).join('\n')}\n`;
    await runChecked('ip', ['-n', this.ns(node), '-batch', '-'], { input, timeoutMs: 30_000 });
  }

  private async tuneRouter(router: RouterName): Promise<void> {
    // icmp_ratelimit 0: otherwise mtr reports "loss" that is only ICMP rate limiting
    const settings = [
      'net.ipv4.ip_forward=1',
      'net.ipv4.icmp_ratelimit=0',
      'net.ipv4.icmp_msgs_per_sec=100000',
    ];
    await runChecked('ip', ['netns', 'exec', this.ns(router), 'sysctl', '-q', '-w', ...settings]);
    this.rateLimits.set(router, 0);
  }

  private async readHostTunnelAddress(): Promise<string> {
    const result = await runChecked('ip', [
      '-n',
      this.ns('host'),
      '-4',
      '-o',
      'addr',
      'show',
      'dev',
      'ovpn0',
    ]);
    const match = /inet (\d+\.\d+\.\d+\.\d+)\//.exec(result.stdout);
    if (match?.[1] === undefined) {
      throw new ProcessError('E_PROCESS', `no IPv4 address on ovpn0 in ${this.ns('host')}`, {
        command: result.command,
        exitCode: result.exitCode,
        signal: result.signal,
        stderr: result.stdout,
      });
    }
    return match[1];
  }

  // ---- firewall -----------------------------------------------------------------------

  private async updateFirewall(node: NodeName, change: Partial<FirewallState>): Promise<void> {
    const current = this.firewall.get(node) ?? { lossPct: 0, blockIcmp: false, unreachable: false };
    this.firewall.set(node, { ...current, ...change });
    await this.applyFirewall(node);
  }

  /** Replaces the node's whole filter table, so any sequence of calls ends in the same rules. */
  private async applyFirewall(node: NodeName): Promise<void> {
    const state = this.firewall.get(node);
    const rules: string[] = [];
    if (state !== undefined) {
      const drop = (pct: number): string =>
        `-m statistic --mode random --probability ${(pct / 100).toFixed(4)} -j DROP`;
      const isRouter = (ROUTERS as readonly string[]).includes(node);
      if (state.unreachable) rules.push('-A INPUT -j DROP');
      if (state.blockIcmp) rules.push('-A INPUT -p icmp --icmp-type echo-request -j DROP');
      if (state.lossPct >= 100)
        rules.push(isRouter ? `-A FORWARD -i ${upstream(node)} -j DROP` : '-A INPUT -j DROP');
      else if (state.lossPct > 0) {
        rules.push(
          isRouter
            ? `-A FORWARD -i ${upstream(node)} ${drop(state.lossPct)}`
            : `-A INPUT ${drop(state.lossPct)}`,
        );
      }
    }
    const table = [
      '*filter',
      ':INPUT ACCEPT [0:0]',
      ':FORWARD ACCEPT [0:0]',
      ':OUTPUT ACCEPT [0:0]',
      ...rules,
      'COMMIT',
    ];
    await runChecked('ip', ['netns', 'exec', this.ns(node), 'iptables-restore'], {
      input: `${table.join('\n')}\n`,
    });
  }

  // ---- tear-down ----------------------------------------------------------------------

  private async teardown(): Promise<void> {
    for (const variation of this.variations.values()) clearInterval(variation.timer);
    this.variations.clear();
    const pids: number[] = [];
    for (const child of this.services.values())
      if (child.pid !== undefined && child.exitCode === null) pids.push(child.pid);
    this.services.clear();
    await Promise.all([
      terminate(pids, 500),
      this.tunnel?.stop() ?? Promise.resolve(),
      ...[...this.relays.values()].map((relay) => relay.stop()),
    ]);
    this.relays.clear();
    // also whatever a caller started in the namespaces, and namespaces of a half-built lab
    const namespaces = new Set([
      ...this.nodes.map((node) => this.ns(node)),
      ...(await labNamespaces(this.id)),
    ]);
    const existing = new Set(await labNamespaces(this.id));
    await removeNamespaces([...namespaces].filter((name) => existing.has(name)));
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  private requireTunnel(): Tunnel {
    if (this.tunnel === null)
      throw new ProcessError('E_PROCESS', `lab ${this.id} has no tunnel (not built or destroyed)`, {
        command: [],
        exitCode: null,
        signal: null,
        stderr: '',
      });
    return this.tunnel;
  }

  private requireResource(resource: ResourceName): void {
    if (!this.resourceNames.includes(resource)) {
      throw new InvalidInputError('resource', resource, `one of ${this.resourceNames.join(', ')}`);
    }
  }
}

function upstream(node: NodeName): string {
  return UPSTREAM_INTERFACE[node as RouterName];
}

function checkRange(field: string, value: number, min: number, max: number): void {
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new InvalidInputError(field, value, `a number from ${min} to ${max}`);
  }
}

/**
 * Builds a lab and waits until the OpenVPN client is connected. On any failure the
 * half-built lab is torn down before the error is thrown.
 */
export async function createLab(options: LabOptions = {}): Promise<Lab> {
  const resources = options.resources ?? 3;
  if (!Number.isInteger(resources) || resources < 1 || resources > MAX_RESOURCES) {
    throw new InvalidInputError('resources', resources, `an integer from 1 to ${MAX_RESOURCES}`);
  }
  if (options.cleanupStale !== false) {
    // a failure here must not stop this lab: the stale one is in its own namespaces
    await cleanupStaleLabs().catch(() => {});
  }
  const { id, dir } = registerLab();
  const lab = new Lab(id, dir, resources);
  try {
    await lab.build(options);
  } catch (error) {
    await lab.destroy().catch(() => {});
    throw error;
  }
  return lab;
}
