// Outgoing Raft traffic to one peer: messages are queued and sent as batches, one Send RPC in
// flight at a time so they arrive in order; snapshots go through their own InstallSnapshot stream.
//
// Raft tolerates lost messages, so a failed batch is dropped (and reported, which makes the
// leader stop pipelining to that peer) instead of being retried: the core resends what matters.
// grpc-js reconnects by itself; its backoff is capped low so that a restarted peer is reached
// again within a second.

import * as grpc from '@grpc/grpc-js';
import { create } from '@bufbuild/protobuf';
import { grpcMethod } from '../../proto/grpc.js';
import {
  MessageBatchSchema,
  RaftTransport,
  SenderSchema,
  SnapshotChunkSchema,
  type MessageBatch,
  type SendResponse,
  type SnapshotChunk,
  type SnapshotResponse,
} from '../../proto/gen/raft_pb.js';
import type { Message, MsgSnap, NodeId } from '../raft/types.js';
import { messageToPb } from './raft-codec.js';

export interface PeerSenderOptions {
  readonly selfId: NodeId;
  readonly clusterName: string;
  /** This node's advertised client address, carried in every batch. */
  readonly selfAddress: string;
  readonly peerId: NodeId;
  readonly address: string;
  /** A batch could not be delivered. */
  readonly onUnreachable: (peer: NodeId) => void;
  readonly onSnapshotStatus: (peer: NodeId, delivered: boolean) => void;
  /** The peer answered that this node was removed from the cluster at log index `removedAt`. */
  readonly onRemoved?: (peer: NodeId, removedAt: number) => void;
  /** Deadline of one Send; default 2 s. */
  readonly sendTimeoutMs?: number;
  /** Queue bound; the oldest messages are dropped beyond it. Default 4096. */
  readonly maxQueue?: number;
}

const MAX_BATCH_MESSAGES = 512;
const MAX_BATCH_BYTES = 2 * 1024 * 1024;
const SNAPSHOT_CHUNK = 512 * 1024;

export const channelOptions: grpc.ChannelOptions = {
  'grpc.initial_reconnect_backoff_ms': 100,
  'grpc.min_reconnect_backoff_ms': 100,
  'grpc.max_reconnect_backoff_ms': 1000,
  'grpc.max_send_message_length': 64 * 1024 * 1024,
  'grpc.max_receive_message_length': 64 * 1024 * 1024,
};

const sendMethod = grpcMethod(RaftTransport, RaftTransport.method.send);
const snapMethod = grpcMethod(RaftTransport, RaftTransport.method.installSnapshot);

function messageBytes(m: Message): number {
  if (m.type === 'MsgApp' || m.type === 'MsgProp') {
    let n = 64;
    for (const e of m.entries) n += e.data.byteLength + 24;
    return n;
  }
  return 64;
}

export class PeerSender {
  private client: grpc.Client;
  private address: string;
  private queue: Message[] = [];
  private inFlight = false;
  private snapshotInFlight = false;
  private failures = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly opts: PeerSenderOptions;

  constructor(opts: PeerSenderOptions) {
    this.opts = opts;
    this.address = opts.address;
    this.client = new grpc.Client(opts.address, grpc.credentials.createInsecure(), channelOptions);
  }

  get peerAddress(): string {
    return this.address;
  }

  private sender() {
    return create(SenderSchema, { clusterName: this.opts.clusterName, nodeId: this.opts.selfId, address: this.opts.selfAddress });
  }

  send(m: Message): void {
    if (this.closed) return;
    if (m.type === 'MsgSnap') {
      this.sendSnapshot(m);
      return;
    }
    this.queue.push(m);
    const max = this.opts.maxQueue ?? 4096;
    if (this.queue.length > max) this.queue.splice(0, this.queue.length - max);
    this.pump();
  }

  private pump(): void {
    if (this.inFlight || this.closed || this.retryTimer !== undefined || this.queue.length === 0) return;
    let n = 0;
    let bytes = 0;
    while (n < this.queue.length && n < MAX_BATCH_MESSAGES && (n === 0 || bytes + messageBytes(this.queue[n]!) <= MAX_BATCH_BYTES)) {
      bytes += messageBytes(this.queue[n]!);
      n++;
    }
    const batch = this.queue.splice(0, n);
    const req: MessageBatch = create(MessageBatchSchema, { sender: this.sender(), messages: batch.map(messageToPb) });
    this.inFlight = true;
    const deadline = Date.now() + (this.opts.sendTimeoutMs ?? 2000);
    this.client.makeUnaryRequest<MessageBatch, SendResponse>(
      sendMethod.path,
      sendMethod.requestSerialize as (m: MessageBatch) => Buffer,
      sendMethod.responseDeserialize as (b: Buffer) => SendResponse,
      req,
      new grpc.Metadata(),
      { deadline },
      (err, res) => {
        this.inFlight = false;
        if (this.closed) return;
        if (!err && res !== undefined && res.removedAt > 0) this.opts.onRemoved?.(this.opts.peerId, res.removedAt);
        if (err) {
          this.failures++;
          // What was queued behind a failed batch is stale by the time the peer is back.
          this.queue = [];
          this.opts.onUnreachable(this.opts.peerId);
          const backoff = Math.min(1000, 50 * 2 ** Math.min(this.failures, 5));
          this.retryTimer = setTimeout(() => {
            this.retryTimer = undefined;
            this.pump();
          }, backoff);
          return;
        }
        this.failures = 0;
        this.pump();
      },
    );
  }

  private sendSnapshot(m: MsgSnap): void {
    if (this.snapshotInFlight) {
      // The leader resends after reportSnapshot(failure); one snapshot at a time is enough.
      this.opts.onSnapshotStatus(this.opts.peerId, false);
      return;
    }
    this.snapshotInFlight = true;
    const data = m.snapshot.data;
    const call = this.client.makeClientStreamRequest<SnapshotChunk, SnapshotResponse>(
      snapMethod.path,
      snapMethod.requestSerialize as (m: SnapshotChunk) => Buffer,
      snapMethod.responseDeserialize as (b: Buffer) => SnapshotResponse,
      new grpc.Metadata(),
      { deadline: Date.now() + 60_000 },
      (err) => {
        this.snapshotInFlight = false;
        if (!this.closed) this.opts.onSnapshotStatus(this.opts.peerId, !err);
      },
    );
    call.on('error', () => {
      // Reported through the callback above.
    });
    call.write(
      create(SnapshotChunkSchema, {
        chunk: { case: 'header', value: { sender: this.sender(), message: messageToPb(m), totalBytes: data.byteLength } },
      }),
    );
    for (let off = 0; off < data.byteLength; off += SNAPSHOT_CHUNK) {
      call.write(create(SnapshotChunkSchema, { chunk: { case: 'data', value: data.subarray(off, Math.min(data.byteLength, off + SNAPSHOT_CHUNK)) } }));
    }
    call.end();
  }

  /** The peer moved (a restarted process on another port). */
  setAddress(address: string): void {
    if (address === this.address || this.closed) return;
    this.client.close();
    this.address = address;
    this.client = new grpc.Client(address, grpc.credentials.createInsecure(), channelOptions);
  }

  close(): void {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.queue = [];
    this.client.close();
  }
}
