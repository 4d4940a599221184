// The leveldb driver's key layout (README.md, "Key layout"). Keys are UTF-8 strings; LevelDB
// orders them bytewise, so a one-letter namespace prefix groups each kind of record, U+0000
// separates a client id from what follows (MQTT strings never contain it, [MQTT-1.5.4-2], and
// validation refuses it), and numbers are fixed-width lowercase hex so that byte order is
// numeric order.

export const NS = {
  session: 's/',
  subscription: 'u/',
  outbound: 'o/',
  message: 'm/',
  inbound2: 'i/',
  retained: 'r/',
  delayed: 'd/',
} as const;

const SEP = '\u0000';

/** Bounds for an iterator over every key that starts with `prefix`. */
export function prefixRange(prefix: string): { gte: string; lt: string } {
  // Every prefix used here ends in '/' or U+0000; the next code unit bounds it from above, and
  // neither '/' nor U+0000 is a surrogate, so incrementing stays well-formed.
  const last = prefix.charCodeAt(prefix.length - 1);
  return { gte: prefix, lt: prefix.slice(0, -1) + String.fromCharCode(last + 1) };
}

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, '0');
}

export const sessionKey = (clientId: string): string => NS.session + clientId;

export const subscriptionPrefix = (clientId: string): string => NS.subscription + clientId + SEP;
export const subscriptionKey = (clientId: string, filter: string): string => subscriptionPrefix(clientId) + filter;

export const outboundPrefix = (clientId: string): string => NS.outbound + clientId + SEP;
/** seq <= 2^53 - 1 fits in 14 hex digits; 16 leaves room and reads as a 64-bit number. */
export const outboundKey = (clientId: string, seq: number): string => outboundPrefix(clientId) + hex(seq, 16);

export const messageKey = (id: string): string => NS.message + id;

export const inbound2Prefix = (clientId: string): string => NS.inbound2 + clientId + SEP;
export const inbound2Key = (clientId: string, packetId: number): string => inbound2Prefix(clientId) + hex(packetId, 4);

export const retainedKey = (topic: string): string => NS.retained + topic;
export const delayedKey = (id: string): string => NS.delayed + id;

/** Splits `<ns><clientId>\0<rest>`; clientIds never hold U+0000, so the first one separates. */
export function splitClientKey(key: string): { clientId: string; rest: string } {
  const sep = key.indexOf(SEP, 2);
  if (sep < 0) throw new Error(`malformed storage key ${JSON.stringify(key)}`);
  return { clientId: key.slice(2, sep), rest: key.slice(sep + 1) };
}

export function parseHex(s: string, what: string): number {
  if (!/^[0-9a-f]+$/.test(s)) throw new Error(`malformed ${what} ${JSON.stringify(s)} in a storage key`);
  return parseInt(s, 16);
}

/** The part of a key after its namespace prefix. */
export const afterNs = (key: string): string => key.slice(2);
