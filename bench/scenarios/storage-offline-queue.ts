// Offline-queue throughput of one StorageDriver, measured at the driver (no MQTT in the way):
// what the broker asks of storage while persistent sessions are offline and when they come back.
//
// write: `messages` messages arrive; each is queued for every one of `sessions` offline sessions.
//   The broker's persister commits one tick's ops as one apply() and keeps one in flight, so the
//   messages go in apply() calls of `batch` messages, one after another: per message one msg.put
//   (the body, stored once) and one out.put per session.
// drain: each session reconnects: its whole queue is read (listOutbound, what a reconnect does)
//   and delivered; the acknowledgements remove the entries, `batch` out.delete a call (the last
//   session's deletes also drop the bodies).

import type { StorageDriver, StorageOp } from '../../broker/storage/driver.js';

export interface OfflineQueueParams {
  messages: number;
  sessions: number;
  payloadBytes: number;
  /** Messages per apply() call while writing; acknowledgements per apply() while draining. */
  batch: number;
}

export interface OfflineQueueResult {
  /** Messages stored per second (each queued for every session). */
  writeMsgPerSec: number;
  /** Entries (message x session) written per second. */
  writeEntriesPerSec: number;
  writeP50Ms: number;
  writeP99Ms: number;
  /** Queue entries read and removed per second, over all sessions. */
  drainEntriesPerSec: number;
  /** Time to read one session's whole queue (listOutbound), mean over sessions. */
  readQueueMs: number;
  /** Entries left after the drain (0 expected) and entries the reads returned (messages x sessions expected). */
  leftOver: number;
  readEntries: number;
}

const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;

export async function measureOfflineQueue(driver: StorageDriver, p: OfflineQueueParams): Promise<OfflineQueueResult> {
  const clients = Array.from({ length: p.sessions }, (_, i) => `bench-client-${i}`);
  await driver.apply(clients.map((clientId) => ({ op: 'session.put', session: { clientId, protocolVersion: 5, expiryInterval: 3600, disconnectedAt: Date.now() } })));
  const payload = Buffer.alloc(p.payloadBytes, 0x61);
  const latencies: number[] = [];
  const t0 = performance.now();
  for (let start = 0; start < p.messages; start += p.batch) {
    const ops: StorageOp[] = [];
    for (let i = start; i < Math.min(p.messages, start + p.batch); i++) {
      const id = `m${i}`;
      ops.push({ op: 'msg.put', message: { id, topic: `bench/offline/${i % 16}`, payload, qos: 1, retain: false, createdAt: Date.now() } });
      for (const clientId of clients) ops.push({ op: 'out.put', entry: { clientId, seq: i + 1, messageId: id, qos: 1, state: 'queued' } });
    }
    const a = performance.now();
    await driver.apply(ops);
    latencies.push(performance.now() - a);
  }
  const writeMs = performance.now() - t0;
  latencies.sort((a, b) => a - b);

  let readEntries = 0;
  let readMs = 0;
  const t1 = performance.now();
  for (const clientId of clients) {
    const r0 = performance.now();
    const queue = await driver.listOutbound(clientId);
    readMs += performance.now() - r0;
    readEntries += queue.length;
    for (let i = 0; i < queue.length; i += p.batch) {
      await driver.apply(queue.slice(i, i + p.batch).map((e) => ({ op: 'out.delete', clientId, seq: e.seq })));
    }
  }
  const drainMs = performance.now() - t1;
  let leftOver = 0;
  for (const s of (await driver.outboundSummary()).values()) leftOver += s.count;
  return {
    writeMsgPerSec: (p.messages / writeMs) * 1000,
    writeEntriesPerSec: ((p.messages * p.sessions) / writeMs) * 1000,
    writeP50Ms: percentile(latencies, 0.5),
    writeP99Ms: percentile(latencies, 0.99),
    drainEntriesPerSec: (readEntries / drainMs) * 1000,
    readQueueMs: readMs / p.sessions,
    leftOver,
    readEntries,
  };
}
