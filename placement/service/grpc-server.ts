// The placement node's gRPC server: PlacementService (clients) and RaftTransport (peers) on one
// port. The server binds before the node exists (so tests can learn every port first, and a port
// conflict fails start-up early); until a node is attached every call answers PC_UNREACHABLE.

import * as grpc from '@grpc/grpc-js';
import { create } from '@bufbuild/protobuf';
import { CodedError } from '../../common/errors.js';
import { grpcServiceDefinition } from '../../proto/grpc.js';
import { PlacementService, WatchResponseSchema, type WatchRequest, type WatchResponse } from '../../proto/gen/placement_pb.js';
import { RaftTransport, type Sender } from '../../proto/gen/raft_pb.js';
import type { Message } from '../raft/types.js';
import { raftServiceHandlers } from '../transport/raft-service.js';
import { toServiceError } from '../client/grpc-errors.js';
import { placementApi, type PlacementApi } from './placement-api.js';
import type { PlacementNode } from './placement-node.js';

export interface BoundServer {
  readonly host: string;
  readonly port: number;
  /** Starts serving `node`. */
  attach(node: PlacementNode): void;
  /** Ends every call (watch streams too) and releases the port. */
  close(): Promise<void>;
}

const serverOptions: grpc.ServerOptions = {
  'grpc.max_send_message_length': 64 * 1024 * 1024,
  'grpc.max_receive_message_length': 64 * 1024 * 1024,
};

export async function bindPlacementServer(host: string, port: number, clusterName: string): Promise<BoundServer> {
  let node: PlacementNode | undefined;
  let api: PlacementApi | undefined;
  const server = new grpc.Server(serverOptions);
  const unattached = () => new CodedError('PC_UNREACHABLE', 'placement node is starting');
  const watchCalls = new Set<grpc.ServerWritableStream<WatchRequest, WatchResponse>>();

  const unary: grpc.UntypedServiceImplementation = {};
  for (const m of PlacementService.methods) {
    if (m.methodKind !== 'unary') continue;
    const name = m.localName as keyof PlacementApi;
    unary[name] = (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      if (!api) return callback(toServiceError(unattached()));
      const fn = api[name] as (req: unknown) => Promise<unknown>;
      fn(call.request).then(
        (res) => callback(null, res),
        (err: unknown) => callback(toServiceError(err)),
      );
    };
  }
  unary.watch = (call: grpc.ServerWritableStream<WatchRequest, WatchResponse>) => {
    if (!node) {
      call.emit('error', toServiceError(unattached()));
      return;
    }
    let cancel: (() => void) | undefined;
    let ended = false;
    const end = (err?: CodedError) => {
      if (ended) return;
      ended = true;
      cancel?.();
      watchCalls.delete(call);
      if (err) call.emit('error', toServiceError(err));
      else call.end();
    };
    watchCalls.add(call);
    call.on('cancelled', () => end());
    call.on('error', () => end());
    try {
      cancel = node.subscribe(call.request.fromIndex, call.request.prefixes, {
        event: (e) => void call.write(create(WatchResponseSchema, { message: { case: 'event', value: e } })),
        progress: (index) => void call.write(create(WatchResponseSchema, { message: { case: 'progressIndex', value: index } })),
        fail: (err) => end(err),
      });
    } catch (err: unknown) {
      end(err instanceof CodedError ? err : new CodedError('INTERNAL', String(err)));
    }
  };
  server.addService(grpcServiceDefinition(PlacementService), unary);

  server.addService(
    grpcServiceDefinition(RaftTransport),
    raftServiceHandlers({
      clusterName,
      deliver(sender: Sender, messages: Message[]) {
        return node?.deliver(sender, messages) ?? 0;
      },
    }),
  );

  const bound = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${host.includes(':') ? `[${host}]` : host}:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) => {
      if (err) reject(new Error(`cannot listen on ${host}:${port}: ${err.message}`, { cause: err }));
      else resolve(p);
    });
  });

  return {
    host,
    port: bound,
    attach(n) {
      node = n;
      api = placementApi(n);
    },
    async close() {
      for (const c of [...watchCalls]) {
        watchCalls.delete(c);
        c.emit('error', toServiceError(new CodedError('PC_UNREACHABLE', 'placement node stopping')));
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 2000);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
  };
}
