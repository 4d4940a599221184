// One gRPC channel to one journal node, and typed unary calls on it. Errors come back as
// CodedError (grpc-errors.ts).

import { Client, credentials, Metadata, type ChannelOptions } from '@grpc/grpc-js';
import { create, type DescMessage, type DescMethod, type DescService, type MessageInitShape, type MessageShape } from '@bufbuild/protobuf';
import { grpcMethod } from '../../proto/grpc.js';
import { fromGrpcError } from './grpc-errors.js';

export const CHANNEL_OPTIONS: ChannelOptions = {
  'grpc.max_receive_message_length': 64 * 1024 * 1024,
  'grpc.max_send_message_length': 64 * 1024 * 1024,
  // After a peer restarts or a partition heals, reconnect within about a second.
  'grpc.initial_reconnect_backoff_ms': 100,
  'grpc.max_reconnect_backoff_ms': 1000,
  'grpc.keepalive_time_ms': 10_000,
  'grpc.keepalive_timeout_ms': 5_000,
};

export class JournalConnection {
  private readonly client: Client;

  constructor(readonly addr: string) {
    this.client = new Client(addr, credentials.createInsecure(), CHANNEL_OPTIONS);
  }

  /** One unary call; `timeoutMs` is the whole call's deadline. */
  call<I extends DescMessage, O extends DescMessage>(
    service: DescService,
    method: DescMethod & { input: I; output: O },
    request: MessageInitShape<I>,
    timeoutMs: number,
  ): Promise<MessageShape<O>> {
    const def = grpcMethod(service, method);
    const msg = create(method.input, request);
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest(
        def.path,
        def.requestSerialize,
        def.responseDeserialize,
        msg,
        new Metadata(),
        { deadline: Date.now() + timeoutMs },
        (err, value) => {
          if (err) reject(fromGrpcError(err));
          else resolve(value as MessageShape<O>);
        },
      );
    });
  }

  close(): void {
    this.client.close();
  }
}

/** Connections by address, created on first use. */
export class ConnectionPool {
  private readonly conns = new Map<string, JournalConnection>();

  get(addr: string): JournalConnection {
    let c = this.conns.get(addr);
    if (c === undefined) {
      c = new JournalConnection(addr);
      this.conns.set(addr, c);
    }
    return c;
  }

  /** Drops a connection (its address changed or its node is gone). */
  drop(addr: string): void {
    this.conns.get(addr)?.close();
    this.conns.delete(addr);
  }

  close(): void {
    for (const c of this.conns.values()) c.close();
    this.conns.clear();
  }
}
