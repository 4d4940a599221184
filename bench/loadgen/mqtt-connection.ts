import net from 'node:net';
import mqttPacket from 'mqtt-packet';
import type { Packet, QoS } from 'mqtt-packet';
import { BenchError, ConnackRefusedError } from './errors.js';
import { FrameReader } from './frame-reader.js';

// Control packet types [MQTT-2.2.1].
const CONNACK = 2;
const PUBLISH = 3;
const PUBACK = 4;
const PUBREC = 5;
const PUBREL = 6;
const PUBCOMP = 7;
const SUBACK = 9;
const UNSUBACK = 11;
const PINGRESP = 13;

const ACK_BUFFER_BYTES = 8192;
const DISCONNECT = Buffer.from([0xe0, 0x00]);

/** Per-connection counters; plain numbers so the hot path only increments. */
export interface ConnectionCounters {
  publishesOut: number;
  bytesOut: number;
  publishesIn: number;
  bytesIn: number;
  pubacksIn: number;
  pubrecsIn: number;
  pubrelsIn: number;
  pubcompsIn: number;
  acksOut: number;
  /** QoS 2 PUBLISH with DUP set for a packet id still awaiting PUBREL: not passed on [MQTT-4.3.3-2]. */
  qos2Redeliveries: number;
  /**
   * QoS 2 PUBLISH without DUP for a packet id still awaiting PUBREL: the sender reused an id that
   * is in use [MQTT-2.3.1-2]. Not passed on either, since the receiver cannot tell it from a resend.
   */
  qos2IdReuse: number;
}

export interface ConnectionHandlers {
  /** `buf[payloadStart, payloadEnd)` is the application message; valid only during the call. */
  onPublish?: (buf: Buffer, payloadStart: number, payloadEnd: number, qos: number, packetId: number, dup: boolean) => void;
  /** PUBACK (QoS 1) or PUBCOMP (QoS 2) for a message this connection published. */
  onDelivered?: (packetId: number) => void;
  onClose?: (hadError: boolean) => void;
}

/** Username and password sent in CONNECT [MQTT-3.1.2-18], [MQTT-3.1.2-20]. */
export interface Credentials {
  username: string;
  password: string;
}

export interface ConnectOptions {
  host: string;
  port: number;
  clientId: string;
  /** Sent in every CONNECT when set; absent means an anonymous client. */
  credentials?: Credentials;
  /** Source address, e.g. 127.0.0.3, to spread connections over more ephemeral-port ranges. */
  localAddress?: string;
  clean?: boolean;
  /** Seconds; 0 disables keep-alive so idle connections are never timed out [MQTT-3.1.2-10]. */
  keepalive?: number;
  timeoutMs?: number;
}

export interface Connack {
  sessionPresent: boolean;
  returnCode: number;
}

interface Waiter {
  resolve: (p: Packet) => void;
  reject: (e: Error) => void;
}

// One shared mqtt-packet parser decodes the rare setup packets (CONNACK, SUBACK, ...). Frames
// reach it whole, so it emits synchronously and needs no per-connection state.
const setupParser = mqttPacket.parser({ protocolVersion: 4 });
let decoded: Packet | null = null;
let decodeError: unknown = null;
setupParser.on('packet', (p: Packet) => {
  decoded = p;
});
setupParser.on('error', (e: unknown) => {
  decodeError = e;
});

function decodeFrame(frame: Buffer): Packet {
  decoded = null;
  decodeError = null;
  setupParser.parse(frame);
  const p = decoded as Packet | null;
  if (decodeError !== null || p === null) {
    throw new BenchError('BENCH_MALFORMED_PACKET', `cannot decode packet type ${frame[0] >> 4}: ${String(decodeError)}`);
  }
  return p;
}

/**
 * One MQTT 3.1.1 client connection on a raw socket. Setup (CONNECT, SUBSCRIBE) uses promises and
 * mqtt-packet; the publish path uses pre-encoded bytes, counters and callbacks, and batches the
 * acknowledgements it owes into one write per received chunk.
 */
export class MqttConnection {
  readonly socket: net.Socket;
  readonly counters: ConnectionCounters = {
    publishesOut: 0,
    bytesOut: 0,
    publishesIn: 0,
    bytesIn: 0,
    pubacksIn: 0,
    pubrecsIn: 0,
    pubrelsIn: 0,
    pubcompsIn: 0,
    acksOut: 0,
    qos2Redeliveries: 0,
    qos2IdReuse: 0,
  };
  handlers: ConnectionHandlers;
  closed = false;
  lastError: Error | null = null;

  private readonly reader: FrameReader;
  private ackBuf: Buffer | null = null;
  private ackLen = 0;
  private waiters = new Map<string, Waiter>();
  private nextSetupId = 1;
  /** Inbound QoS 2 packet ids received and not yet released by PUBREL. */
  private qos2Pending: Uint8Array | null = null;
  private lastConnackSessionPresent = false;

  private constructor(socket: net.Socket, handlers: ConnectionHandlers) {
    this.socket = socket;
    this.handlers = handlers;
    this.reader = new FrameReader((buf, type, flags, start, end, frameStart) =>
      this.onFrame(buf, type, flags, start, end, frameStart),
    );
    socket.on('data', (chunk: Buffer) => {
      this.counters.bytesIn += chunk.length;
      try {
        this.reader.push(chunk);
      } catch (err: unknown) {
        this.fail(err instanceof Error ? err : new Error(String(err)));
        return;
      }
      this.flushAcks();
    });
    socket.on('error', (err: Error) => {
      this.lastError = err;
    });
    socket.on('close', (hadError: boolean) => {
      this.closed = true;
      const err = this.lastError ?? new BenchError('BENCH_PROTOCOL', 'connection closed');
      for (const w of this.waiters.values()) w.reject(err);
      this.waiters.clear();
      this.handlers.onClose?.(hadError);
    });
  }

  /** Opens a TCP connection, sends CONNECT and resolves on CONNACK with return code 0. */
  static async open(opts: ConnectOptions, handlers: ConnectionHandlers = {}): Promise<MqttConnection> {
    const socket = net.connect({ host: opts.host, port: opts.port, localAddress: opts.localAddress, noDelay: true });
    const conn = new MqttConnection(socket, handlers);
    const connected = new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('close', () => reject(conn.lastError ?? new BenchError('BENCH_CONNECT_REFUSED', 'closed before connect')));
    });
    const connack = conn.expect('connack', opts.timeoutMs ?? 10_000);
    try {
      await connected;
      conn.socket.write(
        mqttPacket.generate({
          cmd: 'connect',
          protocolId: 'MQTT',
          protocolVersion: 4,
          clientId: opts.clientId,
          clean: opts.clean ?? true,
          keepalive: opts.keepalive ?? 0,
          // Only CONNECT carries them: the publish path is unchanged by authentication.
          username: opts.credentials?.username,
          password: opts.credentials === undefined ? undefined : Buffer.from(opts.credentials.password, 'utf8'),
        }),
      );
      const p = await connack;
      if (p.cmd !== 'connack') throw new BenchError('BENCH_PROTOCOL', `expected CONNACK for ${opts.clientId}, got ${p.cmd}`);
      if ((p.returnCode ?? 0) !== 0) throw new ConnackRefusedError(opts.clientId, p.returnCode ?? 0);
    } catch (err: unknown) {
      connack.catch(() => undefined);
      socket.destroy();
      throw err;
    }
    return conn;
  }

  /** Session Present flag of the CONNACK [MQTT-3.2.2-2]. */
  get sessionPresent(): boolean {
    return this.lastConnackSessionPresent;
  }

  /** SUBSCRIBE and resolve with the granted QoS list; a 0x80 entry is a refusal [MQTT-3.9.3-2]. */
  async subscribe(filters: Array<{ topic: string; qos: QoS }>, timeoutMs = 10_000): Promise<number[]> {
    const messageId = this.takeSetupId();
    const done = this.expect(`suback:${messageId}`, timeoutMs);
    this.socket.write(mqttPacket.generate({ cmd: 'subscribe', messageId, subscriptions: filters }));
    const p = await done;
    if (p.cmd !== 'suback') throw new BenchError('BENCH_PROTOCOL', 'expected SUBACK');
    // MQTT 3.1.1 SUBACK carries one return code byte per filter [MQTT-3.9.3-1].
    return (p.granted as unknown[]).map((g) => (typeof g === 'number' ? g : 0x80));
  }

  /** PINGREQ round trip: proves the broker still serves this connection. */
  async ping(timeoutMs = 5_000): Promise<void> {
    const done = this.expect('pingresp', timeoutMs);
    this.socket.write(mqttPacket.generate({ cmd: 'pingreq' }));
    await done;
  }

  /** Writes pre-encoded PUBLISH bytes holding `messages` packets; false means wait for 'drain'. */
  writePublishes(bytes: Buffer, messages: number): boolean {
    this.counters.publishesOut += messages;
    this.counters.bytesOut += bytes.length;
    return this.socket.write(bytes);
  }

  /** Sends DISCONNECT [MQTT-3.14.4-1] and closes; resolves when the socket is closed. */
  async disconnect(): Promise<void> {
    if (this.closed) return;
    const closed = new Promise<void>((resolve) => this.socket.once('close', () => resolve()));
    this.socket.end(DISCONNECT);
    const timer = setTimeout(() => this.socket.destroy(), 2_000);
    await closed;
    clearTimeout(timer);
  }

  destroy(): void {
    this.socket.destroy();
  }

  private takeSetupId(): number {
    const id = this.nextSetupId;
    this.nextSetupId = id >= 65535 ? 1 : id + 1;
    return id;
  }

  private expect(key: string, timeoutMs: number): Promise<Packet> {
    return new Promise<Packet>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(key);
        reject(new BenchError('BENCH_TIMEOUT', `no ${key.split(':')[0].toUpperCase()} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.set(key, {
        resolve: (p) => {
          clearTimeout(timer);
          resolve(p);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
    });
  }

  private settle(key: string, p: Packet): void {
    const w = this.waiters.get(key);
    if (w === undefined) return;
    this.waiters.delete(key);
    w.resolve(p);
  }

  private fail(err: Error): void {
    this.lastError = err;
    this.socket.destroy();
  }

  private onFrame(buf: Buffer, type: number, flags: number, start: number, end: number, frameStart: number): void {
    switch (type) {
      case PUBLISH: {
        const qos = (flags >> 1) & 3;
        let p = start + 2 + buf.readUInt16BE(start);
        let packetId = 0;
        if (qos > 0) {
          packetId = buf.readUInt16BE(p);
          p += 2;
        }
        this.counters.publishesIn++;
        if (qos === 1) {
          this.queueAck(0x40, packetId);
        } else if (qos === 2) {
          // Exactly-once receiver: a PUBLISH whose id awaits PUBREL is a redelivery; answer it
          // again but do not pass the message on a second time [MQTT-4.3.3-2].
          const pending = (this.qos2Pending ??= new Uint8Array(65536));
          this.queueAck(0x50, packetId);
          if (pending[packetId] === 1) {
            if ((flags & 0x08) !== 0) this.counters.qos2Redeliveries++;
            else this.counters.qos2IdReuse++;
            return;
          }
          pending[packetId] = 1;
        }
        this.handlers.onPublish?.(buf, p, end, qos, packetId, (flags & 0x08) !== 0);
        return;
      }
      case PUBACK:
        this.counters.pubacksIn++;
        this.handlers.onDelivered?.(buf.readUInt16BE(start));
        return;
      case PUBREC:
        this.counters.pubrecsIn++;
        // PUBREL has fixed header flags 0010 [MQTT-3.6.1-1].
        this.queueAck(0x62, buf.readUInt16BE(start));
        return;
      case PUBREL: {
        this.counters.pubrelsIn++;
        const id = buf.readUInt16BE(start);
        if (this.qos2Pending !== null) this.qos2Pending[id] = 0;
        this.queueAck(0x70, id);
        return;
      }
      case PUBCOMP:
        this.counters.pubcompsIn++;
        this.handlers.onDelivered?.(buf.readUInt16BE(start));
        return;
      case CONNACK: {
        const p = decodeFrame(buf.subarray(frameStart, end));
        if (p.cmd === 'connack') this.lastConnackSessionPresent = p.sessionPresent;
        this.settle('connack', p);
        return;
      }
      case SUBACK:
      case UNSUBACK: {
        const p = decodeFrame(buf.subarray(frameStart, end));
        this.settle(`${p.cmd}:${p.messageId ?? 0}`, p);
        return;
      }
      case PINGRESP:
        this.settle('pingresp', { cmd: 'pingresp' });
        return;
      default:
        throw new BenchError('BENCH_PROTOCOL', `unexpected packet type ${type} from broker`);
    }
  }

  private queueAck(header: number, packetId: number): void {
    if (this.ackBuf === null) this.ackBuf = Buffer.allocUnsafe(ACK_BUFFER_BYTES);
    else if (this.ackLen + 4 > ACK_BUFFER_BYTES) this.flushAcks();
    const b = this.ackBuf;
    const i = this.ackLen;
    b[i] = header;
    b[i + 1] = 2;
    b[i + 2] = packetId >> 8;
    b[i + 3] = packetId & 0xff;
    this.ackLen = i + 4;
    this.counters.acksOut++;
  }

  private flushAcks(): void {
    if (this.ackLen === 0 || this.ackBuf === null) return;
    // The ack buffer is reused at once, so the socket gets its own copy.
    const out = Buffer.allocUnsafe(this.ackLen);
    this.ackBuf.copy(out, 0, 0, this.ackLen);
    this.ackLen = 0;
    if (!this.closed) this.socket.write(out);
  }
}
