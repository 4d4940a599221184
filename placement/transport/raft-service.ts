// The receiving side of the Raft transport: grpc-js handlers for raft.proto's RaftTransport.
// Batches from another cluster are refused (FAILED_PRECONDITION); messages that do not decode are
// refused as a whole (INVALID_ARGUMENT) so a half-decoded batch never reaches the core. A batch
// from a node this member knows was removed is answered with `removed_at`, so the removed node
// learns it even though the leader no longer sends it the commit of its own removal.

import * as grpc from '@grpc/grpc-js';
import { create } from '@bufbuild/protobuf';
import { isRaftError } from '../raft/errors.js';
import type { Message } from '../raft/types.js';
import {
  SendResponseSchema,
  SnapshotResponseSchema,
  type MessageBatch,
  type Sender,
  type SendResponse,
  type SnapshotChunk,
  type SnapshotResponse,
} from '../../proto/gen/raft_pb.js';
import { messageFromPb } from './raft-codec.js';

export interface RaftReceiver {
  readonly clusterName: string;
  /**
   * Steps the messages into the local node; throws only for a bug. Returns the log index at
   * which the sender was removed from the cluster (its messages were not stepped), else 0.
   */
  deliver(sender: Sender, messages: Message[]): number;
}

function refuse(code: grpc.status, details: string): grpc.ServiceError {
  return Object.assign(new Error(details), { code, details, metadata: new grpc.Metadata() });
}

function checkSender(receiver: RaftReceiver, sender: Sender | undefined): grpc.ServiceError | undefined {
  if (!sender) return refuse(grpc.status.INVALID_ARGUMENT, 'raft batch without sender');
  if (sender.clusterName !== receiver.clusterName) {
    return refuse(grpc.status.FAILED_PRECONDITION, `sender belongs to cluster ${JSON.stringify(sender.clusterName)}, not ${JSON.stringify(receiver.clusterName)}`);
  }
  return undefined;
}

export function raftServiceHandlers(receiver: RaftReceiver): grpc.UntypedServiceImplementation {
  return {
    send(call: grpc.ServerUnaryCall<MessageBatch, SendResponse>, callback: grpc.sendUnaryData<SendResponse>) {
      const bad = checkSender(receiver, call.request.sender);
      if (bad) return callback(bad);
      let msgs: Message[];
      try {
        msgs = call.request.messages.map((m) => messageFromPb(m));
      } catch (err: unknown) {
        return callback(refuse(grpc.status.INVALID_ARGUMENT, isRaftError(err) ? err.message : String(err)));
      }
      const removedAt = receiver.deliver(call.request.sender!, msgs);
      callback(null, create(SendResponseSchema, { removedAt }));
    },
    installSnapshot(call: grpc.ServerReadableStream<SnapshotChunk, SnapshotResponse>, callback: grpc.sendUnaryData<SnapshotResponse>) {
      let header: Extract<SnapshotChunk['chunk'], { case: 'header' }>['value'] | undefined;
      const parts: Uint8Array[] = [];
      let size = 0;
      let failed = false;
      call.on('data', (chunk: SnapshotChunk) => {
        if (failed) return;
        if (chunk.chunk.case === 'header') header = chunk.chunk.value;
        else if (chunk.chunk.case === 'data') {
          parts.push(chunk.chunk.value);
          size += chunk.chunk.value.byteLength;
        }
      });
      call.on('error', () => {
        failed = true;
      });
      call.on('end', () => {
        if (failed) return;
        if (!header?.message) return callback(refuse(grpc.status.INVALID_ARGUMENT, 'snapshot stream without header'));
        const bad = checkSender(receiver, header.sender);
        if (bad) return callback(bad);
        if (size !== header.totalBytes) return callback(refuse(grpc.status.INVALID_ARGUMENT, `snapshot of ${size} bytes, header says ${header.totalBytes}`));
        const data = new Uint8Array(size);
        let off = 0;
        for (const p of parts) {
          data.set(p, off);
          off += p.byteLength;
        }
        let msg: Message;
        try {
          msg = messageFromPb(header.message, data);
        } catch (err: unknown) {
          return callback(refuse(grpc.status.INVALID_ARGUMENT, isRaftError(err) ? err.message : String(err)));
        }
        receiver.deliver(header.sender!, [msg]);
        callback(null, create(SnapshotResponseSchema));
      });
    },
  };
}
