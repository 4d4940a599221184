// The link to one other broker: a gRPC bidi stream this broker dials (BrokerLink.Link), carrying
// forwarded publishes in batches (one batch per event-loop turn) and takeover requests; the peer
// answers acks and takeover results on the same stream. A batch stays until acknowledged: after
// a broken stream the link dials again and resends the unacknowledged batches in order (a peer
// may see a batch twice; QoS 1 allows the duplicate). Back-pressure: past `maxUnackedBytes` the
// link reports itself congested and the cluster pauses the publishers feeding it.

import * as grpc from '@grpc/grpc-js';
import { create } from '@bufbuild/protobuf';
import { grpcMethod } from '../../proto/grpc.js';
import { BrokerLink, LinkFrameSchema, type LinkFrame, type LinkMessage } from '../../proto/gen/broker_pb.js';
import { encodeForwarded, type Forwarded } from './link-batch-codec.js';
import type { Logger } from '../../common/log.js';
import { ClusterError } from './cluster-error.js';

export type Waiter = (err: Error | null) => void;

/** A batch being gathered or sent; its waiters run when the peer acknowledges it. */
export interface PendingBatch {
  wait(w: Waiter): void;
}

class Batch implements PendingBatch {
  readonly messages: Forwarded[] = [];
  readonly released: string[] = [];
  bytes = 0;
  /** Waiting for `beforeSend`: not on the wire yet (not resent by a reconnect either). */
  held = false;
  readonly waiters: Waiter[] = [];
  constructor(readonly seq: number) {}
  wait(w: Waiter): void {
    this.waiters.push(w);
  }
}

/** Stands for a broker that placement marks dead while it still has routes: nothing may be acknowledged. */
export class UnreachableBatch implements PendingBatch {
  constructor(private readonly err: Error) {}
  wait(w: Waiter): void {
    queueMicrotask(() => w(this.err));
  }
}

export interface PeerLinkOptions {
  selfId: number;
  peerId: number;
  address: string;
  clusterName: string;
  maxUnackedBytes: number;
  log: Logger;
  /** Called when the unacknowledged bytes fall back under the limit. */
  onDrained(): void;
  /**
   * Gate before a batch goes out, called once per batch in order: the cluster opens it once
   * local storage holds what the batch's publishes need here (a QoS 2 packet id, above all), so a
   * peer never holds a message its publisher's broker could forget in a crash.
   */
  beforeSend?: (go: (err: Error | null) => void) => void;
}

/** Largest batch gathered before it is sent (more messages in the same turn start another). */
const MAX_BATCH_BYTES = 256 * 1024;

const linkMethod = grpcMethod(BrokerLink, BrokerLink.methods.find((m) => m.localName === 'link')!);
const channelOptions: grpc.ChannelOptions = {
  'grpc.initial_reconnect_backoff_ms': 100,
  'grpc.min_reconnect_backoff_ms': 100,
  'grpc.max_reconnect_backoff_ms': 1000,
  'grpc.max_receive_message_length': 256 * 1024 * 1024,
  'grpc.max_send_message_length': 256 * 1024 * 1024,
};

export class PeerLink {
  private client: grpc.Client;
  private stream: grpc.ClientDuplexStream<LinkFrame, LinkFrame> | null = null;
  private gathering: Batch | null = null;
  private readonly unacked = new Map<number, Batch>();
  private unackedBytes = 0;
  private nextSeq = 1;
  private nextRequest = 1;
  private readonly takeovers = new Map<number, { resolve(state: Uint8Array | undefined): void; reject(err: Error): void; timer: NodeJS.Timeout }>();
  private readonly retainedAsks = new Map<number, { resolve(messages: LinkMessage[]): void; reject(err: Error): void; timer: NodeJS.Timeout }>();
  private closed = false;
  private reconnectTimer: NodeJS.Timeout | null = null;
  address: string;

  constructor(private readonly opts: PeerLinkOptions) {
    this.address = opts.address;
    this.client = new grpc.Client(opts.address, grpc.credentials.createInsecure(), channelOptions);
    this.dial();
  }

  get peerId(): number {
    return this.opts.peerId;
  }

  get congested(): boolean {
    return this.unackedBytes > this.opts.maxUnackedBytes;
  }

  /** Queues a message for the batch of this turn; returns that batch (for waiting on its ack). */
  send(m: Forwarded): PendingBatch {
    const b = this.gatheringBatch();
    b.messages.push(m);
    b.bytes += m.message.payload.length + m.message.topic.length + 32;
    // A batch is delivered on the receiver in one go: past this size it goes now, so a burst
    // reaches a slow subscriber there in pieces its flow control can stop between.
    if (b.bytes >= MAX_BATCH_BYTES) this.flush();
    return b;
  }

  /** Asks the peer for a session; resolves with its state (undefined: the peer does not hold it). */
  takeover(clientId: string, timeoutMs: number): Promise<Uint8Array | undefined> {
    const requestId = this.nextRequest++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.takeovers.delete(requestId);
        reject(new ClusterError('PEER_UNREACHABLE', `broker ${this.opts.peerId} did not hand session ${clientId} over within ${timeoutMs} ms`));
      }, timeoutMs);
      this.takeovers.set(requestId, { resolve, reject, timer });
      this.write(create(LinkFrameSchema, { frame: { case: 'takeover', value: { requestId, clientId } } }));
    });
  }

  /** Tells the peer a QoS 2 exchange it was forwarded is over (rides in the next batch). */
  release(key: string): void {
    const b = this.gatheringBatch();
    b.released.push(key);
    b.bytes += key.length + 8;
  }

  /** The batch of this event-loop turn (it goes out at the end of the turn, or when full). */
  private gatheringBatch(): Batch {
    let b = this.gathering;
    if (b === null) {
      b = this.gathering = new Batch(this.nextSeq++);
      setImmediate(() => this.flush());
    }
    return b;
  }

  /**
   * Closes the batch being gathered (it goes out as usual) and returns the last batch sequence
   * number used: whatever is sent after this call travels in a later batch.
   */
  seal(): number {
    if (this.gathering !== null) this.flush();
    return this.nextSeq - 1;
  }

  /** Asks the peer for every retained message it holds. */
  retained(timeoutMs: number): Promise<LinkMessage[]> {
    const requestId = this.nextRequest++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.retainedAsks.delete(requestId);
        reject(new ClusterError('PEER_UNREACHABLE', `broker ${this.opts.peerId} did not send its retained messages within ${timeoutMs} ms`));
      }, timeoutMs);
      this.retainedAsks.set(requestId, { resolve, reject, timer });
      this.write(create(LinkFrameSchema, { frame: { case: 'retained', value: { requestId } } }));
    });
  }

  /** The peer moved (new address): dial there and resend what is unacknowledged. */
  retarget(address: string): void {
    if (address === this.address) return;
    this.address = address;
    this.stream?.cancel();
    this.stream = null;
    this.client.close();
    this.client = new grpc.Client(address, grpc.credentials.createInsecure(), channelOptions);
    this.dial();
  }

  /** The peer is dead: every waiter fails, the link closes. */
  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    const err = new ClusterError('PEER_UNREACHABLE', `broker ${this.opts.peerId}: ${reason}`);
    if (this.gathering !== null) {
      for (const w of this.gathering.waiters) w(err);
      this.gathering = null;
    }
    for (const b of this.unacked.values()) for (const w of b.waiters) w(err);
    this.unacked.clear();
    this.unackedBytes = 0;
    for (const t of [...this.takeovers.values(), ...this.retainedAsks.values()]) {
      clearTimeout(t.timer);
      t.reject(err);
    }
    this.takeovers.clear();
    this.retainedAsks.clear();
    this.stream?.cancel();
    this.stream = null;
    this.client.close();
    this.opts.onDrained();
  }

  private flush(): void {
    const b = this.gathering;
    this.gathering = null;
    if (b === null || this.closed) return;
    this.unacked.set(b.seq, b);
    this.unackedBytes += b.bytes;
    const gate = this.opts.beforeSend;
    if (gate === undefined) {
      this.writeBatch(b);
      return;
    }
    b.held = true;
    gate((err) => {
      b.held = false;
      if (this.closed || this.unacked.get(b.seq) !== b) return;
      if (err === null) {
        this.writeBatch(b);
        return;
      }
      const wasCongested = this.congested;
      this.unacked.delete(b.seq);
      this.unackedBytes -= b.bytes;
      for (const w of b.waiters) w(err);
      if (wasCongested && !this.congested) this.opts.onDrained();
    });
  }

  private writeBatch(b: Batch): void {
    this.write(create(LinkFrameSchema, { frame: { case: 'batch', value: { seq: b.seq, packed: encodeForwarded(b.messages), released: b.released } } }));
  }

  private write(frame: LinkFrame): void {
    // Without a stream the frame is dropped: batches are resent from `unacked` on reconnect,
    // a takeover request times out.
    this.stream?.write(frame);
  }

  private dial(): void {
    if (this.closed) return;
    const stream = this.client.makeBidiStreamRequest(
      linkMethod.path, linkMethod.requestSerialize as (m: LinkFrame) => Buffer, linkMethod.responseDeserialize as (b: Buffer) => LinkFrame,
    );
    this.stream = stream;
    stream.on('data', (f: LinkFrame) => this.onFrame(f));
    const broken = (why: string) => {
      if (this.stream !== stream) return;
      this.stream = null;
      if (this.closed) return;
      this.opts.log.debug('link to broker broke; dialing again', { peer: this.opts.peerId, why });
      this.reconnectTimer = setTimeout(() => {
        this.reconnectTimer = null;
        this.dial();
      }, 200);
      this.reconnectTimer.unref();
    };
    stream.on('error', (e: Error) => broken(e.message));
    stream.on('end', () => broken('ended'));
    stream.write(create(LinkFrameSchema, { frame: { case: 'hello', value: { brokerId: this.opts.selfId, clusterName: this.opts.clusterName } } }));
    for (const b of this.unacked.values()) if (!b.held) this.writeBatch(b);
  }

  private onFrame(f: LinkFrame): void {
    switch (f.frame.case) {
      case 'ack': {
        const b = this.unacked.get(f.frame.value.seq);
        if (b === undefined) return;
        const wasCongested = this.congested;
        this.unacked.delete(b.seq);
        this.unackedBytes -= b.bytes;
        const err = f.frame.value.error === '' ? null : new ClusterError('PEER_STORAGE_FAILED', `broker ${this.opts.peerId}: ${f.frame.value.error}`);
        for (const w of b.waiters) w(err);
        if (wasCongested && !this.congested) this.opts.onDrained();
        return;
      }
      case 'takeoverResult': {
        const r = f.frame.value;
        const t = this.takeovers.get(r.requestId);
        if (t === undefined) return;
        this.takeovers.delete(r.requestId);
        clearTimeout(t.timer);
        if (r.error !== '') t.reject(new ClusterError('PEER_UNREACHABLE', `broker ${this.opts.peerId}: ${r.error}`));
        else t.resolve(r.found ? r.state : undefined);
        return;
      }
      case 'retainedResult': {
        const r = f.frame.value;
        const t = this.retainedAsks.get(r.requestId);
        if (t === undefined) return;
        this.retainedAsks.delete(r.requestId);
        clearTimeout(t.timer);
        t.resolve(r.messages);
        return;
      }
      default:
        return;
    }
  }
}
