/**
 * ReadIndex bookkeeping on the leader (Raft dissertation, section 6.4): a read request records
 * the commit index when it arrived, and is answered once a quorum has acknowledged a heartbeat
 * that carried its context, proving this node was still leader after the request arrived.
 */
import type { NodeId } from './types.js';

export interface ReadRequest {
  readonly from: NodeId;
  readonly context: Uint8Array;
  readonly index: number;
}

interface Pending {
  readonly req: ReadRequest;
  readonly acks: Set<NodeId>;
}

export function contextKey(ctx: Uint8Array): string {
  let s = '';
  for (let i = 0; i < ctx.length; i++) s += (ctx[i]! < 16 ? '0' : '') + ctx[i]!.toString(16);
  return s;
}

export class ReadOnlyQueue {
  private readonly pending = new Map<string, Pending>();
  private queue: string[] = [];

  add(req: ReadRequest, self: NodeId): void {
    const key = contextKey(req.context);
    if (this.pending.has(key)) return;
    this.pending.set(key, { req, acks: new Set([self]) });
    this.queue.push(key);
  }

  /** Records a heartbeat acknowledgement; returns the acks for that context, if pending. */
  recvAck(from: NodeId, ctx: Uint8Array): ReadonlySet<NodeId> | undefined {
    const p = this.pending.get(contextKey(ctx));
    if (!p) return undefined;
    p.acks.add(from);
    return p.acks;
  }

  /**
   * Releases every request queued up to and including `ctx`: a quorum acknowledging a later
   * heartbeat also confirms leadership for the earlier requests.
   */
  advance(ctx: Uint8Array): ReadRequest[] {
    const key = contextKey(ctx);
    const at = this.queue.indexOf(key);
    if (at < 0) return [];
    const done = this.queue.slice(0, at + 1);
    this.queue = this.queue.slice(at + 1);
    const out: ReadRequest[] = [];
    for (const k of done) {
      const p = this.pending.get(k);
      this.pending.delete(k);
      if (p) out.push(p.req);
    }
    return out;
  }

  lastPendingContext(): Uint8Array | undefined {
    const key = this.queue[this.queue.length - 1];
    return key === undefined ? undefined : this.pending.get(key)?.req.context;
  }

  clear(): void {
    this.pending.clear();
    this.queue = [];
  }
}
