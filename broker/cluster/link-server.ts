// The dialed side of inter-broker links: a gRPC server on `grpc_port` serving BrokerLink.Link.
// Each stream starts with Hello (a broker of another cluster is refused); then every ForwardBatch
// is handed to `onBatch` in arrival order and answered with ForwardAck once its durable part is
// written, and every TakeoverRequest is answered with the session's state.

import * as grpc from '@grpc/grpc-js';
import { create } from '@bufbuild/protobuf';
import { grpcServiceDefinition } from '../../proto/grpc.js';
import { BrokerLink, LinkFrameSchema, type ForwardBatch, type LinkFrame, type LinkMessage } from '../../proto/gen/broker_pb.js';
import type { Logger } from '../../common/log.js';

export interface LinkHandlers {
  /**
   * Routes the batch locally; calls `done` once what it needs is durable (err: storage failed).
   * `flow` stops and restarts reading this link's stream (HTTP/2 flow control then holds the sender).
   */
  onBatch(from: number, batch: ForwardBatch, done: (err: Error | null) => void, flow: LinkFlow): void;
  /** Hands the session over; undefined when this broker does not hold it. */
  onTakeover(from: number, clientId: string): Uint8Array | undefined;
  /** Every retained message this broker holds, for a broker catching up. */
  onRetained(from: number): LinkMessage[];
}

export interface LinkFlow {
  pause(): void;
  resume(): void;
}

export interface BoundLinkServer {
  readonly port: number;
  close(): Promise<void>;
}

export async function startLinkServer(host: string, port: number, clusterName: string, handlers: LinkHandlers, log: Logger): Promise<BoundLinkServer> {
  const server = new grpc.Server({
    'grpc.max_receive_message_length': 256 * 1024 * 1024,
    'grpc.max_send_message_length': 256 * 1024 * 1024,
  });
  const calls = new Set<grpc.ServerDuplexStream<LinkFrame, LinkFrame>>();
  server.addService(grpcServiceDefinition(BrokerLink), {
    link: (call: grpc.ServerDuplexStream<LinkFrame, LinkFrame>) => {
      calls.add(call);
      let from = 0;
      const flow: LinkFlow = { pause: () => call.pause(), resume: () => call.resume() };
      const reply = (frame: LinkFrame) => {
        if (!call.cancelled && call.writable) call.write(frame);
      };
      call.on('data', (f: LinkFrame) => {
        switch (f.frame.case) {
          case 'hello':
            if (f.frame.value.clusterName !== clusterName) {
              log.warn('link from a broker of another cluster refused', { broker: f.frame.value.brokerId, cluster: f.frame.value.clusterName });
              call.emit('error', { code: grpc.status.FAILED_PRECONDITION, details: `cluster ${clusterName}, not ${f.frame.value.clusterName}` });
              return;
            }
            from = f.frame.value.brokerId;
            return;
          case 'batch': {
            if (from === 0) return;
            const seq = f.frame.value.seq;
            handlers.onBatch(from, f.frame.value, (err) => {
              reply(create(LinkFrameSchema, { frame: { case: 'ack', value: { seq, error: err === null ? '' : err.message } } }));
            }, flow);
            return;
          }
          case 'takeover': {
            if (from === 0) return;
            const { requestId, clientId } = f.frame.value;
            let state: Uint8Array | undefined;
            let error = '';
            try {
              state = handlers.onTakeover(from, clientId);
            } catch (err: unknown) {
              error = err instanceof Error ? err.message : String(err);
            }
            reply(create(LinkFrameSchema, {
              frame: { case: 'takeoverResult', value: { requestId, found: state !== undefined, state: state ?? new Uint8Array(), error } },
            }));
            return;
          }
          case 'retained': {
            if (from === 0) return;
            const { requestId } = f.frame.value;
            reply(create(LinkFrameSchema, { frame: { case: 'retainedResult', value: { requestId, messages: handlers.onRetained(from) } } }));
            return;
          }
          default:
            return;
        }
      });
      const done = () => {
        calls.delete(call);
        if (!call.writableEnded) call.end();
      };
      call.on('end', done);
      call.on('error', done);
      call.on('cancelled', done);
    },
  });
  const bound = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p)));
  });
  return {
    port: bound,
    async close() {
      for (const c of calls) if (!c.writableEnded) c.end();
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 1000);
        server.tryShutdown(() => {
          clearTimeout(t);
          resolve();
        });
      });
    },
  };
}
