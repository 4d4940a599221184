/**
 * Linux gives each bound source address its own ephemeral-port range (about 28k ports by
 * default), so N connections to one broker port need ceil(N / PORTS_PER_ADDRESS) addresses.
 * All of 127.0.0.0/8 is loopback on Linux, so 127.0.0.x works without configuration.
 */
export const PORTS_PER_ADDRESS = 25_000;

export function sourceAddressCount(connections: number): number {
  return Math.max(1, Math.min(254, Math.ceil(connections / PORTS_PER_ADDRESS)));
}

/** Source address of connection i, round-robin over `count` addresses 127.0.0.1 .. 127.0.0.count. */
export function sourceAddress(i: number, count: number): string {
  return `127.0.0.${1 + (i % count)}`;
}
