// One client connection over any byte stream (TCP, TLS, WebSocket): incremental parsing, the
// connection state machine that the dispatcher enforces, and encoding/writing of outgoing packets.
// Session state lives in Session; protocol decisions live in handlers/.

import type { Duplex } from 'node:stream';
import { MqttParser, encode, encodePublish } from './codec/index.js';
import { sharedPublish } from './publish-cache.js';
import type { Packet, PublishProperties } from './packets.js';
import type { StoredMessage, WillRecord } from '../storage/driver.js';
import type { MqttBroker } from './broker.js';
import type { OutMsg, Session } from './session.js';
import { RC } from './reason-codes.js';
import { dispatch } from './handlers/dispatch.js';

export interface ConnectionInfo {
  transport: 'tcp' | 'tls' | 'ws' | 'wss';
  remoteAddress: string;
  remotePort: number;
  /** Subject CN of a verified TLS client certificate. */
  certCommonName?: string;
}

type State = 'awaiting-connect' | 'connecting' | 'connected' | 'closed';

let nextConnectionId = 1;

/** How long a backed-up subscriber may hold its publishers before its progress is judged. */
const SLOW_CONSUMER_MS = 1000;
/** A subscriber that takes fewer bytes than this per SLOW_CONSUMER_MS is slow (64 KiB/s). */
const SLOW_CONSUMER_BYTES = 64 * 1024;

/**
 * Where the PUBLISH being delivered came from, as flow control sees it: a client connection, or
 * an inter-broker link (broker/cluster/), whose input a backed-up subscriber holds until it drains.
 */
export interface PublishSource {
  /** Stops taking input; false when it already was held (or is closed): nothing to release then. */
  holdInput(): boolean;
  releaseInput(): void;
}

export class Connection implements PublishSource {
  readonly id = nextConnectionId++;
  state: State = 'awaiting-connect';
  protocolVersion: 3 | 4 | 5 = 4;
  session: Session | null = null;
  clientId = '';
  username: string | undefined;
  readonly connectedAt = Date.now();
  lastSeen = Date.now();
  keepaliveMs = 0;
  /** Session Expiry Interval as the CONNECT set it. */
  connectExpiryInterval = 0;
  /** The client's limits (MQTT 5 CONNECT properties). */
  clientReceiveMaximum = 65535;
  clientMaxPacketSize = 0;
  clientTopicAliasMaximum = 0;
  requestProblemInformation = true;
  /** Topic aliases the client set up towards us [MQTT-3.3.2-12]. */
  readonly aliasesIn = new Map<number, string>();
  private aliasesOut: Map<string, number> | null = null;
  /** Inbound QoS 1/2 publishes not yet acknowledged, checked against our receive maximum. */
  inboundPending = 0;
  will: WillRecord | null = null;
  /** Set when the client ended with DISCONNECT 0x00: the will is discarded [MQTT-3.14.4-3]. */
  willDiscarded = false;
  /** Packets that arrived while an asynchronous step (CONNECT) was in progress. */
  private held: Packet[] | null = null;
  private readonly parser: MqttParser;
  private corked = false;
  /** Reading from this client is paused until some subscriber it publishes to drains. */
  private readPaused = false;
  /** Publishers paused because this connection's socket is backed up; resumed on 'drain'. */
  private heldPublishers: Set<PublishSource> | null = null;
  private slowTimer: NodeJS.Timeout | null = null;
  /**
   * Set when this client took fewer than SLOW_CONSUMER_BYTES off its socket buffer within
   * SLOW_CONSUMER_MS while holding publishers: it no longer holds them back, and QoS 0 messages
   * to it are dropped once its buffer passes maxOutboundBuffer. Cleared when it drains, or when
   * it reads at least SLOW_CONSUMER_BYTES in a sweep period again.
   */
  slow = false;
  /** Bytes handed to the socket; minus its writableLength, what the client has taken. */
  private bytesQueued = 0;
  private flushedMark = 0;
  closeReason = '';
  messagesIn = 0;
  messagesOut = 0;

  constructor(
    readonly broker: MqttBroker,
    readonly stream: Duplex,
    readonly info: ConnectionInfo,
  ) {
    this.parser = new MqttParser({ maxPacketSize: broker.options.maxPacketSize });
    stream.on('data', (chunk: Buffer) => this.onData(chunk));
    stream.on('error', (err: Error) => this.close(`socket error: ${err.message}`));
    stream.on('close', () => this.close('socket closed'));
    stream.on('end', () => this.close('client closed the connection'));
    stream.on('drain', () => this.onDrain());
  }

  /** How many QoS 1/2 messages may be in flight towards the client [MQTT-3.3.4-9]. */
  get sendWindow(): number {
    const max = this.broker.options.maxInflightOutbound;
    return this.clientReceiveMaximum < max ? this.clientReceiveMaximum : max;
  }

  get closed(): boolean {
    return this.state === 'closed';
  }

  private onData(chunk: Buffer): void {
    if (this.state === 'closed') return;
    this.lastSeen = Date.now();
    this.broker.stats.bytesIn += chunk.length;
    const err = this.parser.parse(chunk, (packet) => this.onPacket(packet));
    if (this.stream.writableNeedDrain && !this.readPaused) {
      // The client pipelines requests but does not read our answers (PUBACKs are 4 bytes, so a
      // byte cap alone would let millions of them pile up): stop reading until it drains.
      this.readPaused = true;
      this.stream.pause();
    }
    if (err !== null && !this.closed) {
      this.broker.stats.malformed++;
      if (this.state === 'awaiting-connect' && (err.kind === 'unsupported_protocol_version' || err.kind === 'unsupported_protocol_name')) {
        // [MQTT-3.1.2-2] answer in the CONNACK format the client can read, then close; a wrong
        // protocol name may just be closed [MQTT-3.1.2-1].
        if (err.answerVersion !== undefined) {
          const v5 = err.answerVersion === 5;
          this.protocolVersion = v5 ? 5 : 4;
          this.writePacket(v5
            ? { cmd: 'connack', sessionPresent: false, reasonCode: RC.UNSUPPORTED_PROTOCOL_VERSION }
            : { cmd: 'connack', sessionPresent: false, returnCode: 1 });
        }
        this.end(`refused CONNECT: ${err.message}`);
        return;
      }
      if (this.state === 'connected' && this.protocolVersion === 5) {
        this.disconnect(err.reasonCode, err.message);
      } else {
        this.destroy(`bad packet: ${err.message}`);
      }
    }
  }

  private onPacket(packet: Packet): void {
    if (this.state === 'closed') return;
    if (this.held !== null) {
      this.held.push(packet);
      return;
    }
    dispatch(this, packet);
  }

  /** Holds incoming packets until resume(): CONNECT waits for storage before CONNACK. */
  hold(): void {
    this.held ??= [];
  }

  resume(): void {
    const held = this.held;
    this.held = null;
    if (held === null) return;
    for (let i = 0; i < held.length; i++) {
      if (this.closed) return;
      const again = this.held as Packet[] | null;
      if (again !== null) {
        // A held packet started another asynchronous step: keep the rest in order.
        again.push(...held.slice(i));
        return;
      }
      dispatch(this, held[i]!);
    }
  }

  // ---- writing ----

  write(buf: Buffer): void {
    if (this.state === 'closed' && !this.stream.writable) return;
    if (!this.corked) {
      // Gather every packet written in this tick into one syscall.
      this.corked = true;
      this.stream.cork();
      process.nextTick(() => {
        this.corked = false;
        this.stream.uncork();
      });
    }
    this.broker.stats.bytesOut += buf.length;
    this.bytesQueued += buf.length;
    this.stream.write(buf);
  }

  writePacket(packet: Packet): void {
    if (this.protocolVersion === 5 && !this.requestProblemInformation) stripProblemInfo(packet);
    this.write(encode(packet, this.protocolVersion));
  }

  sendPubrel(packetId: number): void {
    this.writePacket({ cmd: 'pubrel', messageId: packetId });
  }

  /** QoS 0 delivery; dropped when the client's socket is backed up (documented overload policy). */
  sendQos0(message: StoredMessage, retain: boolean, subIds: number[] | undefined): void {
    if (this.stream.writableLength > this.broker.options.maxOutboundBuffer) {
      // Documented overload policy: a client that does not read loses QoS 0 messages, counted.
      this.broker.stats.droppedSlow++;
      return;
    }
    this.writePublish(message, 0, retain, false, undefined, subIds);
  }

  /** QoS 1/2 delivery of an in-flight entry. False when it cannot be delivered at all (too large). */
  sendPublish(e: OutMsg, dup: boolean): boolean {
    return this.writePublish(e.message, e.qos, e.retain, dup, e.packetId, e.subIds);
  }

  private writePublish(
    m: StoredMessage, qos: 0 | 1 | 2, retain: boolean, dup: boolean, packetId: number | undefined, subIds: number[] | undefined,
  ): boolean {
    const v5 = this.protocolVersion === 5;
    let properties: PublishProperties | undefined;
    let topic = m.topic;
    let buf: Buffer;
    if (!v5 || (subIds === undefined && m.expiresAt === undefined && this.clientTopicAliasMaximum === 0)) {
      buf = sharedPublish(m, v5, qos, retain, dup, packetId);
    } else {
      if (m.properties !== undefined || subIds !== undefined || m.expiresAt !== undefined) {
        properties = { ...m.properties };
        if (m.expiresAt !== undefined) {
          // [MQTT-3.3.2-6] the interval sent on is what is left of it.
          properties.messageExpiryInterval = Math.max(0, Math.ceil((m.expiresAt - Date.now()) / 1000));
        }
        if (subIds !== undefined && subIds.length > 0) properties.subscriptionIdentifier = subIds.length === 1 ? subIds[0]! : subIds;
      }
      buf = encodePublish({ topic, payload: m.payload, qos, retain, dup, messageId: packetId, properties }, 5);
    }
    if (this.clientMaxPacketSize > 0 && buf.length > this.clientMaxPacketSize) {
      // [MQTT-3.1.2-24] never send a packet larger than the client's Maximum Packet Size.
      this.broker.stats.droppedTooLarge++;
      return false;
    }
    if (this.clientTopicAliasMaximum > 0) {
      this.aliasesOut ??= new Map();
      const alias = this.aliasesOut.get(topic);
      if (alias !== undefined) {
        topic = '';
        properties = { ...properties, topicAlias: alias };
        buf = encodePublish({ topic, payload: m.payload, qos, retain, dup, messageId: packetId, properties }, 5);
      } else if (this.aliasesOut.size < this.clientTopicAliasMaximum) {
        // [MQTT-3.3.2-9] alias values stay within the client's Topic Alias Maximum.
        const next = this.aliasesOut.size + 1;
        this.aliasesOut.set(topic, next);
        properties = { ...properties, topicAlias: next };
        buf = encodePublish({ topic, payload: m.payload, qos, retain, dup, messageId: packetId, properties }, 5);
      }
    }
    this.messagesOut++;
    this.broker.stats.messagesOut++;
    this.write(buf);
    if (this.stream.writableNeedDrain && !this.slow) this.holdPublisher(this.broker.currentPublisher);
    return true;
  }

  // ---- flow control between publishers and subscribers ----

  /**
   * Our socket is backed up: stop reading from the client whose PUBLISH we are delivering until
   * we drain, so a fast publisher is slowed to what its subscribers absorb (as TCP would slow it
   * against a broker that reads no faster than it writes), instead of filling memory.
   */
  private holdPublisher(src: PublishSource | null): void {
    if (src === null || src === this || !src.holdInput()) return;
    (this.heldPublishers ??= new Set()).add(src);
    if (this.slowTimer === null) this.armSlowTimer();
  }

  /** PublishSource: stop reading this client until released. False when already held or closed. */
  holdInput(): boolean {
    if (this.readPaused || this.closed) return false;
    this.readPaused = true;
    this.stream.pause();
    return true;
  }

  releaseInput(): void {
    this.resumeReading();
  }

  /** Bytes the client has taken off its socket buffer so far. */
  private flushed(): number {
    return this.bytesQueued - this.stream.writableLength;
  }

  /**
   * While publishers are held for this client: a client that keeps reading (merely slower than
   * its publishers) keeps them held; one that reads almost nothing is marked slow and lets go.
   */
  private armSlowTimer(): void {
    this.flushedMark = this.flushed();
    this.slowTimer = setTimeout(() => {
      this.slowTimer = null;
      if (this.closed) return;
      if (this.flushed() - this.flushedMark >= SLOW_CONSUMER_BYTES) {
        this.armSlowTimer();
        return;
      }
      this.slow = true;
      this.broker.stats.slowConsumers++;
      this.releasePublishers();
    }, SLOW_CONSUMER_MS);
    this.slowTimer.unref();
  }

  private releasePublishers(): void {
    const held = this.heldPublishers;
    if (held === null) return;
    this.heldPublishers = null;
    for (const src of held) src.releaseInput();
  }

  private resumeReading(): void {
    if (!this.readPaused || this.closed) return;
    this.readPaused = false;
    this.stream.resume();
  }

  private onDrain(): void {
    this.slow = false;
    if (this.slowTimer !== null) {
      clearTimeout(this.slowTimer);
      this.slowTimer = null;
    }
    this.releasePublishers();
    this.resumeReading();
  }

  // ---- closing ----

  /** MQTT 5: send DISCONNECT with a reason code, then close [MQTT-4.13.2-1]; v3: just close. */
  disconnect(reasonCode: number, reasonString?: string): void {
    if (this.state === 'closed') return;
    if (this.protocolVersion === 5 && this.state !== 'awaiting-connect') {
      const properties = reasonString ? { reasonString } : undefined;
      this.write(encode({ cmd: 'disconnect', reasonCode, properties }, 5));
    }
    this.end(reasonString ?? `server disconnect 0x${reasonCode.toString(16)}`);
  }

  /** Flushes what was written, then closes. */
  end(reason: string): void {
    if (this.state === 'closed') return;
    this.close(reason);
    this.stream.end();
    setTimeout(() => this.stream.destroy(), 2000).unref();
  }

  destroy(reason: string): void {
    this.close(reason);
    this.stream.destroy();
  }

  close(reason: string): void {
    if (this.state === 'closed') return;
    const wasConnected = this.state === 'connected' || this.state === 'connecting';
    this.state = 'closed';
    this.closeReason = reason;
    this.held = null;
    if (this.slowTimer !== null) clearTimeout(this.slowTimer);
    this.releasePublishers();
    if (!this.stream.destroyed && !this.stream.writableEnded) {
      // Give written packets (DISCONNECT, CONNACK refusals) a chance to leave.
      this.stream.end();
      setTimeout(() => this.stream.destroy(), 2000).unref();
    }
    this.broker.onConnectionClosed(this, wasConnected);
  }

  /** Called by the broker's sweep: keep alive [MQTT-3.1.2-22] and connect timeout. */
  checkTimeouts(now: number): void {
    if (this.slow) {
      // A slow client that reads at a useful rate again holds its publishers back again.
      const flushed = this.flushed();
      if (flushed - this.flushedMark >= SLOW_CONSUMER_BYTES) this.slow = false;
      this.flushedMark = flushed;
    }
    if (this.state === 'awaiting-connect') {
      if (now - this.connectedAt > this.broker.options.connectTimeoutMs) this.destroy('no CONNECT in time');
      return;
    }
    if (this.keepaliveMs > 0 && now - this.lastSeen > this.keepaliveMs * 1.5) {
      this.disconnect(RC.KEEP_ALIVE_TIMEOUT, 'keep alive timeout');
    }
  }
}

/** [MQTT-3.1.2-29] without Request Problem Information, no reason string or user properties. */
function stripProblemInfo(packet: Packet): void {
  if (packet.cmd === 'publish' || packet.cmd === 'connack' || packet.cmd === 'disconnect') return;
  const p = packet as { properties?: { reasonString?: string; userProperties?: unknown } };
  if (p.properties) {
    delete p.properties.reasonString;
    delete p.properties.userProperties;
  }
}
