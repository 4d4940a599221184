// Shared test helpers: an in-process broker on free ports, mqtt.js clients, raw sockets and
// condition polling. Tests wait for conditions, never for fixed times.

import net from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { loadConfig, brokerSchema } from '../../common/config/index.js';
import { createLogger } from '../../common/log.js';
import { startBroker, type RunningBroker } from '../server.js';
import { encode, MqttParser } from '../mqtt/codec/index.js';
import type { IConnackPacket, IPublishPacket, Packet } from '../mqtt/packets.js';

export const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');
export const tlsDir = path.join(fixtures, 'tls');
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface TestBroker extends RunningBroker {
  port(name: 'mqtt-tcp' | 'mqtt-tls' | 'mqtt-ws' | 'mqtt-wss' | 'admin-http'): number;
  url(transport: 'mqtt' | 'mqtts' | 'ws' | 'wss'): string;
  dataDir: string;
  stop(): Promise<void>;
}

/** A broker on 127.0.0.1 with every listener on a free port, memory storage unless `sets` say otherwise. */
export async function startTestBroker(sets: string[] = [], opts: { tls?: boolean; dataDir?: string } = {}): Promise<TestBroker> {
  const dataDir = opts.dataDir ?? mkdtempSync(path.join(tmpdir(), 'robustmq-test-'));
  const base = [
    'mqtt.host=127.0.0.1', 'admin.host=127.0.0.1',
    'mqtt.tcp_port=0', 'mqtt.ws_port=0', 'mqtt.tls_port=0', 'mqtt.wss_port=0', 'admin.http_port=0',
    `data_dir=${dataDir}`, 'storage.driver=memory', 'log.level=error',
  ];
  if (opts.tls) {
    base.push(`tls.cert_file=${path.join(tlsDir, 'server.crt')}`, `tls.key_file=${path.join(tlsDir, 'server.key')}`,
      `tls.ca_file=${path.join(tlsDir, 'ca.crt')}`);
  }
  const config = loadConfig(brokerSchema, { sets: [...base, ...sets] });
  const running = await startBroker(config, createLogger(config.log.level, 'broker'), { embeddedPlacementTickMs: 10 });
  const port = (name: string): number => {
    const l = running.listeners.find((x) => x.name === name);
    if (!l) throw new Error(`no listener ${name}`);
    return l.port;
  };
  return {
    ...running,
    dataDir,
    port,
    url: (t) => {
      switch (t) {
        case 'mqtt': return `mqtt://127.0.0.1:${port('mqtt-tcp')}`;
        case 'mqtts': return `mqtts://localhost:${port('mqtt-tls')}`;
        case 'ws': return `ws://127.0.0.1:${port('mqtt-ws')}/mqtt`;
        case 'wss': return `wss://localhost:${port('mqtt-wss')}/mqtt`;
      }
    },
    stop: async () => {
      await running.close();
      if (opts.dataDir === undefined) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export const tlsClientOptions = (): Pick<IClientOptions, 'ca' | 'rejectUnauthorized'> => ({
  ca: readFileSync(path.join(tlsDir, 'ca.crt')),
  rejectUnauthorized: true,
});

/** An mqtt.js client, connected (resolves on CONNACK, rejects on error). */
export function connectClient(url: string, options: IClientOptions = {}): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...options });
    const onError = (err: Error): void => {
      client.end(true);
      reject(err);
    };
    client.once('error', onError);
    client.once('connect', () => {
      client.removeListener('error', onError);
      resolve(client);
    });
  });
}

export function endClient(client: MqttClient, force = false): Promise<void> {
  return new Promise((resolve) => client.end(force, {}, () => resolve()));
}

/** Polls `cond` until it is truthy or the deadline passes (then throws with `what`). */
export async function waitFor<T>(cond: () => T | Promise<T>, what: string, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A raw MQTT connection for edge cases: send exact bytes, read decoded packets. */
export class RawClient {
  readonly packets: Packet[] = [];
  closed = false;
  private readonly parser: MqttParser;
  private waiters: Array<() => void> = [];

  private constructor(readonly socket: net.Socket, version: 3 | 4 | 5) {
    this.parser = new MqttParser({ maxPacketSize: 1 << 28 });
    this.parser.protocolVersion = version;
    socket.on('data', (chunk: Buffer) => {
      this.parser.parse(chunk, (p) => this.packets.push(p as Packet));
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  static connect(port: number, version: 3 | 4 | 5 = 4): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => resolve(new RawClient(socket, version)));
      socket.once('error', reject);
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  sendRaw(bytes: Buffer | number[]): void {
    this.socket.write(Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes));
  }

  send(packet: Packet, version: 3 | 4 | 5 = 4): void {
    this.socket.write(encode(packet as never, version));
  }

  /** Waits for the next packet of type `cmd` (consuming it), or throws. */
  async next(cmd: Packet['cmd'], timeoutMs = 5000): Promise<Packet> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.packets.findIndex((p) => p.cmd === cmd);
      if (i >= 0) return this.packets.splice(i, 1)[0]!;
      if (this.closed) throw new Error(`connection closed while waiting for ${cmd}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${cmd}; got ${this.packets.map((p) => p.cmd).join(',') || 'nothing'}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => { clearTimeout(t); r(); });
      });
    }
  }

  /** Resolves when the server has closed the connection. */
  async waitClosed(timeoutMs = 5000): Promise<void> {
    await waitFor(() => this.closed, 'the server to close the connection', timeoutMs);
  }

  close(): void {
    this.socket.destroy();
  }
}

/** A short random suffix that keeps topics and client ids of one test apart from the others. */
export const uid = (): string => Math.random().toString(36).slice(2, 10);

export interface Received {
  topic: string;
  payload: string;
  packet: IPublishPacket;
}

/** Collects every message an mqtt.js client receives. */
export function collect(client: MqttClient): Received[] {
  const got: Received[] = [];
  client.on('message', (topic, payload, packet) => got.push({ topic, payload: payload.toString(), packet: packet as unknown as IPublishPacket }));
  return got;
}

/** A raw connection that has sent CONNECT and read CONNACK. */
export async function rawConnect(port: number, version: 4 | 5, fields: Record<string, unknown> = {}): Promise<{ c: RawClient; ack: IConnackPacket }> {
  const c = await RawClient.connect(port, version);
  c.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: version, clean: true, keepalive: 60, clientId: `r-${uid()}`, ...fields } as never, version);
  const ack = (await c.next('connack')) as IConnackPacket;
  return { c, ack };
}

/** rawConnect that insists on success. */
export async function rawConnected(port: number, version: 4 | 5, fields: Record<string, unknown> = {}): Promise<RawClient> {
  const { c, ack } = await rawConnect(port, version, fields);
  const code = ack.reasonCode ?? ack.returnCode;
  if (code !== 0) throw new Error(`CONNACK refused with ${code}`);
  return c;
}

/** A process's state letter from /proc/<pid>/stat (R running, S sleeping, T stopped, ...). */
export function processState(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const end = stat.lastIndexOf(')');
  return stat.slice(end + 2, end + 3);
}
