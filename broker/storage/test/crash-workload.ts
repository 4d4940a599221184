// The deterministic workload of the leveldb crash test: batch k (k >= 1) touches every kind of
// record, so a batch that landed only in part shows up as a mismatch with the reference state.
// It imports types only, so the crash child can run a plain transpiled copy of it.

import type { StorageOp } from '../driver.js';

export const CRASH_CLIENTS = ['crash-0', 'crash-1', 'crash-2', 'crash-3/ü', 'crash-4/客户端'] as const;
/** The retained topic whose payload is the number of the last batch applied. */
export const CRASH_MARKER_TOPIC = 'crash/last';

function bytes(length: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(length);
  let x = seed * 2654435761;
  for (let i = 0; i < length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

const client = (k: number): string => CRASH_CLIENTS[k % CRASH_CLIENTS.length]!;
const packetId = (k: number): number => (k % 65535) + 1;

export function crashBatch(k: number): StorageOp[] {
  const c = client(k);
  const ops: StorageOp[] = [
    { op: 'session.put', session: { clientId: c, protocolVersion: 5, expiryInterval: k, disconnectedAt: k } },
    {
      op: 'msg.put',
      message: { id: `m${k}`, topic: `t/${k % 17}`, payload: bytes(100 + (k % 7) * 1000, k), qos: 1, retain: false, createdAt: k },
    },
    { op: 'out.put', entry: { clientId: c, seq: k, messageId: `m${k}`, qos: 1, state: 'queued' } },
    { op: 'sub.put', sub: { clientId: c, filter: `f/${k % 11}`, qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0 } },
    { op: 'in2.put', clientId: c, packetId: packetId(k) },
    { op: 'delayed.put', record: { id: `d${k}`, message: { id: `dm${k}`, topic: 'x', payload: bytes(10, k), qos: 0, retain: false, createdAt: k }, fireAt: k } },
  ];
  if (k > 3) {
    ops.push({ op: 'out.delete', clientId: client(k - 3), seq: k - 3 });
    // The previous entry of this client moves to "sent", so replacements happen under load too.
    ops.push({ op: 'in2.delete', clientId: client(k - 3), packetId: packetId(k - 3) });
  }
  if (k > 4) ops.push({ op: 'delayed.delete', id: `d${k - 4}` });
  if (k % 13 === 0) ops.push({ op: 'session.delete', clientId: client(k + 2) });
  ops.push({
    op: 'retain.put',
    message: { id: `r${k}`, topic: CRASH_MARKER_TOPIC, payload: Buffer.from(String(k)), qos: 1, retain: true, createdAt: k },
  });
  return ops;
}
