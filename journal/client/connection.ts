// One gRPC channel to one journal node, and typed unary calls on it. Errors come back as
// CodedError (grpc-errors.ts).
//
// A call first waits (bounded) for the channel to be connected, and only then is handed to grpc.
// That way "no connection" is told apart from "sent, no answer": a node behind a dropped link
// (TCP connects, nothing answers) would otherwise hold the call in grpc's pick queue until its
// deadline and fail as DEADLINE_EXCEEDED, which for a write reads as "may have been appended",
// so the client could not send it to the node that now leads.

import { Client, connectivityState, credentials, Metadata, type ChannelOptions } from '@grpc/grpc-js';
import { CodedError } from '../../common/errors.js';
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

  /** `connectTimeoutMs`: longest wait for a connection before a call fails as not sent (default: the call's deadline). */
  constructor(
    readonly addr: string,
    private readonly connectTimeoutMs = Number.POSITIVE_INFINITY,
  ) {
    this.client = new Client(addr, credentials.createInsecure(), CHANNEL_OPTIONS);
  }

  /**
   * Resolves once the channel is connected. Rejects with JR_UNREACHABLE and `not_sent` when the
   * connection attempt fails (refused: at once, as grpc fails such calls) or does not complete
   * before `deadline` (a dropped link).
   */
  private connected(deadline: number): Promise<void> {
    const channel = this.client.getChannel();
    return new Promise((resolve, reject) => {
      const unreachable = (why: string): void =>
        reject(new CodedError('JR_UNREACHABLE', `no connection to journal node ${this.addr}: ${why}`, { details: { addr: this.addr, not_sent: true } }));
      const check = (): void => {
        let state: connectivityState;
        try {
          state = channel.getConnectivityState(true);
        } catch {
          unreachable('the connection is closed');
          return;
        }
        if (state === connectivityState.READY) resolve();
        else if (state === connectivityState.TRANSIENT_FAILURE) unreachable('connection failed');
        else if (state === connectivityState.SHUTDOWN) unreachable('the connection is closed');
        else if (Date.now() >= deadline) unreachable('not connected in time');
        else {
          try {
            channel.watchConnectivityState(state, deadline, (err?: Error) => (err ? unreachable('not connected in time') : check()));
          } catch {
            unreachable('the connection is closed');
          }
        }
      };
      check();
    });
  }

  /** One unary call; `timeoutMs` is the whole call's deadline, connecting included. */
  async call<I extends DescMessage, O extends DescMessage>(
    service: DescService,
    method: DescMethod & { input: I; output: O },
    request: MessageInitShape<I>,
    timeoutMs: number,
  ): Promise<MessageShape<O>> {
    const def = grpcMethod(service, method);
    const msg = create(method.input, request);
    const deadline = Date.now() + timeoutMs;
    await this.connected(Math.min(deadline, Date.now() + this.connectTimeoutMs));
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest(
        def.path,
        def.requestSerialize,
        def.responseDeserialize,
        msg,
        new Metadata(),
        { deadline },
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

  /** `connectTimeoutMs`: see JournalConnection. */
  constructor(private readonly connectTimeoutMs?: number) {}

  get(addr: string): JournalConnection {
    let c = this.conns.get(addr);
    if (c === undefined) {
      c = new JournalConnection(addr, this.connectTimeoutMs);
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
