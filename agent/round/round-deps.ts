/**
 * Everything a round needs from the outside world. main.ts wires the real
 * edges; tests can swap any of them.
 */
import type { GatewayDiscovery, GatewayDiscoveryOptions } from '../gateway/discover-gateway.ts';
import type { MtrRunOptions } from '../probes/run-mtr.ts';
import type { ProbeSamples } from '../probes/tcp-probe.ts';

export type ProgressEvent =
  | { type: 'start'; resources: number; expectedMs: number }
  | { type: 'resource'; target: string; done: number; total: number }
  | { type: 'gateway'; ip: string | null };

export interface RoundDeps {
  agentVersion: string;
  hostname: () => string;
  now: () => Date;
  monotonicMs: () => number;
  resolve: (host: string) => Promise<{ address: string; family: 4 | 6 }>;
  checkMtr: () => Promise<{ version: string }>;
  runMtr: (options: MtrRunOptions) => Promise<string>;
  tcpProbe: (o: {
    address: string;
    port: number;
    count: number;
    intervalMs: number;
    timeoutMs: number;
  }) => Promise<ProbeSamples>;
  httpProbe: (o: {
    url: string;
    address: string;
    count: number;
    intervalMs: number;
    timeoutMs: number;
  }) => Promise<ProbeSamples>;
  discoverGateway: (options: GatewayDiscoveryOptions) => Promise<GatewayDiscovery>;
  onProgress: (event: ProgressEvent) => void;
  /** Stops every probe still running (a host-wide failure ended the round). */
  killProbes: () => void;
}
