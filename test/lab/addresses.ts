/**
 * The lab's address plan. One private range, used only inside the lab's own
 * namespaces; labs are isolated from each other, so every lab reuses it.
 *
 *   host ──veth── under ══relay══ gw ~~OpenVPN~~ (tunnel to host)
 *                                  gw ──veth── r1 ══relay══ r2 ──bridge── res1..resN
 *                                               └─veth─ alt ─veth─┘   (Lab.routeVia)
 */

export const LAB_RANGE = '10.199.0.0/16';
/** Resources sit on one /24 behind r2; the first is .11. */
export const MAX_RESOURCES = 200;
const RESOURCE_BASE = 10;

export const PLAN = {
  hostUnderlay: '10.199.1.1',
  underHost: '10.199.1.2',
  underGw: '10.199.2.1',
  gwUnderlay: '10.199.2.2',
  gwR1: '10.199.3.1',
  r1: '10.199.3.2',
  r1R2: '10.199.4.1',
  r2: '10.199.4.2',
  resourceGateway: '10.199.128.1',
  /**
   * The second router between r1 and r2 (Lab.routeVia), on two /30s carved out
   * of the r1–r2 network, which the server already pushes to the client: its
   * replies reach the host without a new route.
   */
  r1Alt: '10.199.4.9',
  alt: '10.199.4.10',
  altR2: '10.199.4.13',
  r2Alt: '10.199.4.14',
  tunnelNetwork: '10.199.100.0',
  tunnelMask: '255.255.255.0',
  gwTunnel: '10.199.100.1',
  /** Networks behind the gateway that the server pushes to the client. */
  pushed: [
    ['10.199.3.0', '255.255.255.0'],
    ['10.199.4.0', '255.255.255.0'],
    ['10.199.128.0', '255.255.255.0'],
  ] as Array<[string, string]>,
  openvpnPort: 1194,
  managementPort: 7505,
} as const;

/** Address of resource `index` (0-based). */
export function resourceAddress(index: number): string {
  return `10.199.128.${RESOURCE_BASE + 1 + index}`;
}
