// Entry of a worker process (forked by the primary, see worker-pool.ts): waits for its config
// over IPC, runs an ordinary clustered broker with no MQTT port of its own, and serves the
// sockets the primary hands it. It stops on the primary's `stop`, on SIGTERM, and when the IPC
// channel closes (the primary died: nobody hands it sockets any more).

import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { createLogger, type Logger } from '../../common/log.js';
import type { SocketAcceptor } from '../listeners/listener.js';
import { tcpAcceptor } from '../listeners/tcp.js';
import { tlsAcceptor, type TlsFiles } from '../listeners/tls.js';
import { wsAcceptor } from '../listeners/ws.js';
import type { MqttBroker } from '../mqtt/broker.js';
import type { RunningBroker } from '../server.js';
import { isToWorker, type FromWorker, type ListenerKind, type ToWorker } from './messages.js';
import type { BrokerConfig } from '../../common/config/index.js';

let running: RunningBroker | null = null;
let acceptors = new Map<ListenerKind, SocketAcceptor>();
let stopping: Promise<void> | null = null;
let log: Logger | null = null;

function send(m: FromWorker): void {
  process.send?.(m);
}

function tlsFilesOf(config: BrokerConfig): TlsFiles | undefined {
  if (config.tls.cert_file === '') return undefined;
  return {
    cert: readFileSync(config.tls.cert_file),
    key: readFileSync(config.tls.key_file),
    ca: config.tls.ca_file !== '' ? readFileSync(config.tls.ca_file) : undefined,
    requireClientCert: config.tls.require_client_cert,
  };
}

function makeAcceptors(broker: MqttBroker, config: BrokerConfig, kinds: readonly ListenerKind[]): Map<ListenerKind, SocketAcceptor> {
  const files = tlsFilesOf(config);
  const out = new Map<ListenerKind, SocketAcceptor>();
  for (const kind of kinds) {
    if (kind === 'mqtt-tcp') out.set(kind, tcpAcceptor(broker));
    else if (kind === 'mqtt-ws') out.set(kind, wsAcceptor(broker, config.mqtt.ws_path));
    else if (files === undefined) continue;
    else if (kind === 'mqtt-tls') out.set(kind, tlsAcceptor(broker, files));
    else out.set(kind, wsAcceptor(broker, config.mqtt.ws_path, files));
  }
  return out;
}

async function start(m: Extract<ToWorker, { type: 'start' }>): Promise<void> {
  log = createLogger(m.config.log.level, `broker-w${m.index}`);
  try {
    const { startBroker } = await import('../server.js');
    running = await startBroker(m.config, log);
    acceptors = makeAcceptors(running.broker, m.config, m.kinds);
    const port = (name: string): number | null => running?.listeners.find((l) => l.name === name)?.port ?? null;
    send({ type: 'ready', adminPort: port('admin-http'), linkPort: port('broker-grpc') });
    log.info('worker ready', { worker: m.index, nodeId: m.config.node_id, pid: process.pid });
  } catch (err: unknown) {
    // startBroker released what it had opened; exit once the primary has the reason.
    const failed: FromWorker = { type: 'failed', message: err instanceof Error ? err.message : String(err) };
    if (process.send === undefined) process.exit(1);
    process.send(failed, () => process.exit(1));
  }
}

function accept(kind: ListenerKind, socket: Socket | undefined): void {
  if (socket === undefined) return;
  const a = acceptors.get(kind);
  // Not ready yet or stopping: the client sees its connection closed and reconnects.
  if (a === undefined || stopping !== null) socket.destroy();
  else a.accept(socket);
}

function stop(why: string): Promise<void> {
  stopping ??= (async () => {
    log?.info('worker stopping', { why });
    // With the primary gone, leaving placement may wait on calls nobody answers; give up in time
    // (the primary itself kills a worker 15 s after `stop`).
    setTimeout(() => {
      log?.warn('worker did not stop within 14 s; exiting');
      process.exit(1);
    }, 14_000).unref();
    try {
      // The broker closes its clients first (DISCONNECT 0x8B to MQTT 5 clients), then the
      // acceptors end whatever is left (connections still in a TLS or WebSocket handshake).
      await running?.close();
      for (const a of acceptors.values()) await a.close();
    } catch (err: unknown) {
      log?.error('worker failed to stop cleanly', { error: err instanceof Error ? err.message : String(err) });
      process.exitCode = 1;
    }
    // Handles of sockets still queued in the IPC channel would keep the loop alive.
    process.exit();
  })();
  return stopping;
}

process.on('message', (m: unknown, handle: unknown) => {
  if (!isToWorker(m)) return;
  if (m.type === 'start') void start(m);
  else if (m.type === 'socket') accept(m.kind, handle as Socket | undefined);
  else void stop('asked by the primary');
});
process.on('disconnect', () => void stop('the primary is gone'));
process.on('SIGTERM', () => void stop('SIGTERM'));
// Ctrl-C reaches the whole process group; the primary decides the order of shutdown.
process.on('SIGINT', () => undefined);
