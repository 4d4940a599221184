// PlacementClient over gRPC to a placement cluster. It keeps one channel per member address and
// retries transparently: PC_NOT_LEADER -> straight to the leader named in the error's metadata;
// unreachable member, no leader yet, a dropped proposal or a timed-out attempt -> the next
// address after a short backoff. Writes keep their request id across retries, so a write whose
// first attempt had an unknown outcome still takes effect once. Gives up with the last error (or
// PC_TIMEOUT) when the call's deadline passes.

import * as grpc from '@grpc/grpc-js';
import { create } from '@bufbuild/protobuf';
import { CodedError, isCodedError, type ErrorCode } from '../../common/errors.js';
import { grpcServiceDefinition } from '../../proto/grpc.js';
import { PlacementService, WatchRequestSchema, type WatchResponse } from '../../proto/gen/placement_pb.js';
import type { ApiRequest, ApiResponse, UnaryMethodName } from './api-types.js';
import { fromServiceError } from './grpc-errors.js';
import { PlacementClientBase, WatchQueue, type PlacementWatch, type WatchOptions } from './placement-client.js';

export interface GrpcPlacementClientOptions {
  /** Member addresses ("host:port"); any one that answers leads to the rest. */
  readonly addresses: readonly string[];
  /** Whole-call deadline including retries; default 10 s. */
  readonly timeoutMs?: number;
  /** Deadline of one attempt; default 3 s. */
  readonly attemptTimeoutMs?: number;
}

const RETRY_ELSEWHERE: ReadonlySet<ErrorCode> = new Set(['PC_UNREACHABLE', 'PC_NO_LEADER', 'PC_PROPOSAL_DROPPED', 'PC_TIMEOUT', 'PC_NODE_REMOVED']);

const definition = grpcServiceDefinition(PlacementService);

const channelOptions: grpc.ChannelOptions = {
  'grpc.initial_reconnect_backoff_ms': 100,
  'grpc.min_reconnect_backoff_ms': 100,
  'grpc.max_reconnect_backoff_ms': 1000,
  'grpc.max_receive_message_length': 64 * 1024 * 1024,
};

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class GrpcPlacementClient extends PlacementClientBase {
  private readonly addresses: string[];
  private readonly channels = new Map<string, grpc.Client>();
  private current = 0;
  /** Where the last write succeeded or was redirected to. */
  private leader: string | undefined;
  private readonly timeoutMs: number;
  private readonly attemptTimeoutMs: number;
  private closed = false;
  private readonly watches = new Set<WatchQueue>();

  constructor(opts: GrpcPlacementClientOptions) {
    super();
    if (opts.addresses.length === 0) throw new CodedError('PC_INVALID_ARGUMENT', 'a placement client needs at least one address');
    this.addresses = [...opts.addresses];
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.attemptTimeoutMs = opts.attemptTimeoutMs ?? 3000;
  }

  private channel(address: string): grpc.Client {
    let c = this.channels.get(address);
    if (!c) {
      c = new grpc.Client(address, grpc.credentials.createInsecure(), channelOptions);
      this.channels.set(address, c);
    }
    return c;
  }

  private nextAddress(after: string | undefined): string {
    if (after !== undefined) {
      const i = this.addresses.indexOf(after);
      this.current = i >= 0 ? (i + 1) % this.addresses.length : this.current;
    }
    return this.addresses[this.current]!;
  }

  private once<K extends UnaryMethodName>(address: string, method: K, req: ApiRequest<K>, deadline: number): Promise<ApiResponse<K>> {
    const m = definition[method]!;
    return new Promise((resolve, reject) => {
      this.channel(address).makeUnaryRequest(
        m.path,
        m.requestSerialize,
        m.responseDeserialize,
        req,
        new grpc.Metadata(),
        { deadline },
        (err, res) => (err ? reject(fromServiceError(err, address)) : resolve(res as ApiResponse<K>)),
      );
    });
  }

  protected async call<K extends UnaryMethodName>(method: K, req: ApiRequest<K>, write: boolean): Promise<ApiResponse<K>> {
    const deadline = Date.now() + this.timeoutMs;
    let address = (write ? this.leader : undefined) ?? this.leader ?? this.addresses[this.current]!;
    let lastError: CodedError | undefined;
    let attempt = 0;
    // A status request is about the member asked, never redirected.
    const pinned = method === 'status';
    while (!this.closed) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) break;
      try {
        const res = await this.once(address, method, req, Date.now() + Math.min(remaining, this.attemptTimeoutMs));
        if (write) this.leader = address;
        return res;
      } catch (err: unknown) {
        const e = isCodedError(err) ? err : new CodedError('INTERNAL', String(err));
        lastError = e;
        attempt++;
        if (pinned) throw e;
        if (e.code === 'PC_NOT_LEADER' && typeof e.details.leaderAddress === 'string' && e.details.leaderAddress !== '' && e.details.leaderAddress !== address) {
          address = e.details.leaderAddress;
          this.leader = address;
          if (attempt > 3) await sleep(Math.min(200, 20 * attempt));
          continue;
        }
        if (e.code === 'PC_NOT_LEADER' || RETRY_ELSEWHERE.has(e.code)) {
          if (this.leader === address) this.leader = undefined;
          address = this.nextAddress(address);
          await sleep(Math.min(500, 25 * 2 ** Math.min(attempt, 5)));
          continue;
        }
        throw e;
      }
    }
    if (this.closed) throw new CodedError('PC_UNREACHABLE', 'placement client closed');
    throw new CodedError('PC_TIMEOUT', `placement ${method} did not complete within ${this.timeoutMs} ms${lastError ? `: ${lastError.message}` : ''}`, {
      details: lastError ? { lastCode: lastError.code } : {},
      cause: lastError,
    });
  }

  /**
   * A watch that follows the cluster: on a broken stream it resumes at another member from the
   * last index it fully delivered, skipping events it already passed on.
   */
  watch(options: WatchOptions = {}): PlacementWatch {
    let stream: grpc.ClientReadableStream<WatchResponse> | undefined;
    const q = new WatchQueue(() => {
      stream?.cancel();
      this.watches.delete(q);
    });
    this.watches.add(q);
    const m = definition.watch!;
    // Resume point: events at `resume` may have been partly delivered (`seenAtResume` of them).
    let resume = options.fromIndex ?? 0;
    let seenAtResume = 0;
    let address = this.addresses[this.current]!;
    let failures = 0;
    const open = () => {
      if (q.isClosed || this.closed) return;
      let skip = seenAtResume;
      const s = this.channel(address).makeServerStreamRequest(
        m.path,
        m.requestSerialize,
        m.responseDeserialize,
        create(WatchRequestSchema, { fromIndex: resume, prefixes: [...(options.prefixes ?? [])] }),
        new grpc.Metadata(),
        {},
      ) as grpc.ClientReadableStream<WatchResponse>;
      stream = s;
      let done = false;
      const retry = () => {
        if (done) return;
        done = true;
        failures++;
        address = this.nextAddress(address);
        setTimeout(open, Math.min(1000, 50 * 2 ** Math.min(failures, 5)));
      };
      s.on('data', (res: WatchResponse) => {
        failures = 0;
        if (res.message.case === 'event') {
          const idx = res.message.value.index;
          if (idx === resume && skip > 0) {
            skip--;
            return;
          }
          if (idx !== resume) {
            resume = idx;
            seenAtResume = 0;
          }
          seenAtResume++;
        } else if (res.message.case === 'progressIndex') {
          if (res.message.value + 1 > resume) {
            resume = res.message.value + 1;
            seenAtResume = 0;
          }
          skip = 0;
        }
        q.push(res);
      });
      s.on('error', (err: unknown) => {
        if (q.isClosed || this.closed) return;
        const e = fromServiceError(err, address);
        if (e.code === 'PC_WATCH_COMPACTED' || e.code === 'PC_INVALID_ARGUMENT') {
          done = true;
          q.fail(e);
          return;
        }
        retry();
      });
      s.on('end', () => {
        // The server ended the stream without an error (it is stopping): resume elsewhere.
        if (q.isClosed || this.closed) return;
        retry();
      });
    };
    open();
    return q;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const q of [...this.watches]) q.close();
    for (const c of this.channels.values()) c.close();
    this.channels.clear();
  }
}
