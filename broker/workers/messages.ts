// The IPC messages between the primary process and a worker (child_process channel, JSON).
//
//   primary -> worker: start (once, first), socket (with the accepted socket as the handle), stop
//   worker -> primary: ready (with its internal ports), failed (start-up error, then it exits)

import type { BrokerConfig } from '../../common/config/index.js';

/** The MQTT listeners the primary binds and hands sockets from; the names of `listening` lines. */
export const listenerKinds = ['mqtt-tcp', 'mqtt-tls', 'mqtt-ws', 'mqtt-wss'] as const;
export type ListenerKind = (typeof listenerKinds)[number];

export type ToWorker =
  | { type: 'start'; index: number; config: BrokerConfig; kinds: ListenerKind[] }
  | { type: 'socket'; kind: ListenerKind }
  | { type: 'stop' };

export type FromWorker =
  | { type: 'ready'; adminPort: number | null; linkPort: number | null }
  | { type: 'failed'; message: string };

export function isToWorker(m: unknown): m is ToWorker {
  return typeof m === 'object' && m !== null && ['start', 'socket', 'stop'].includes((m as { type?: unknown }).type as string);
}

export function isFromWorker(m: unknown): m is FromWorker {
  return typeof m === 'object' && m !== null && ['ready', 'failed'].includes((m as { type?: unknown }).type as string);
}
