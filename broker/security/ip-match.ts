// Addresses and CIDR blocks for ACL rules and blacklist entries, on node:net's BlockList.

import { BlockList, isIP } from 'node:net';

/** `::ffff:10.0.0.1` (an IPv4 client on a dual-stack socket) is `10.0.0.1`. */
export function normalizeAddress(address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

export class IpMatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IpMatchError';
  }
}

/** A matcher for one address or CIDR block (`10.0.0.0/8`, `fd00::/8`); throws IpMatchError on bad input. */
export function ipMatcher(spec: string): (address: string) => boolean {
  const list = new BlockList();
  const slash = spec.indexOf('/');
  const base = slash < 0 ? spec : spec.slice(0, slash);
  const family = isIP(base);
  if (family === 0) throw new IpMatchError(`${JSON.stringify(spec)} is not an IP address or CIDR block`);
  const type = family === 4 ? 'ipv4' : 'ipv6';
  if (slash < 0) {
    list.addAddress(base, type);
  } else {
    const bits = spec.slice(slash + 1);
    const prefix = /^\d{1,3}$/.test(bits) ? Number(bits) : -1;
    if (prefix < 0 || prefix > (family === 4 ? 32 : 128)) throw new IpMatchError(`${JSON.stringify(spec)} has a bad prefix length`);
    list.addSubnet(base, prefix, type);
  }
  return (address: string) => {
    const a = normalizeAddress(address);
    const f = isIP(a);
    return f !== 0 && list.check(a, f === 4 ? 'ipv4' : 'ipv6');
  };
}
