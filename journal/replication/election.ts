// Choosing a new shard leader when the current one is gone (or fenced).
//
// 1. Fence: ask every replica to stop following any leader below epoch E+1 (durably) and to
//    report its log position (last epoch, log end offset). The old leader, if it answers, steps
//    down too.
// 2. With answers from a majority of the replicas, pick the most complete log: highest last epoch,
//    then highest log end offset (Raft's up-to-date rule); ties go to a member of the in-sync set,
//    then to the lowest node id.
// 3. Compare-and-set the shard metadata to {leader, epoch E+1, isr} at the version read in step 0;
//    a concurrent elector that wrote first makes this a no-op.
//
// Why this keeps every acks=quorum/all record: such a record was on a majority when it was
// acknowledged (and written in its leader's own epoch), the fenced majority intersects that
// majority, and a fenced replica no longer accepts records from the old leader, so the most
// complete log of the fenced majority holds the record (Raft's leader completeness argument).

import { isCodedError } from '../../common/errors.js';
import { quorumOf, type ShardMeta } from './metadata-store.js';
import type { FenceResult } from './shard-replica.js';

export interface ElectionDeps {
  readonly selfId: number;
  /** Fences one replica (this node's own replica included); rejects when it cannot be reached. */
  fence(nodeId: number, epoch: number): Promise<FenceResult>;
  update(expectedVersion: number, change: { leader: number; leaderEpoch: number; isr: number[] }): Promise<ShardMeta | null>;
}

export type ElectionOutcome =
  | { kind: 'elected'; meta: ShardMeta; votes: FenceResult[] }
  | { kind: 'no-quorum'; answered: number[]; needed: number; epoch: number }
  | { kind: 'stale'; fencedEpoch: number }
  | { kind: 'lost-race' };

export function betterLog(a: FenceResult, b: FenceResult, isr: readonly number[]): boolean {
  if (a.lastEpoch !== b.lastEpoch) return a.lastEpoch > b.lastEpoch;
  if (a.logEndOffset !== b.logEndOffset) return a.logEndOffset > b.logEndOffset;
  const ai = isr.includes(a.nodeId);
  if (ai !== isr.includes(b.nodeId)) return ai;
  return a.nodeId < b.nodeId;
}

/** `minEpoch`: never propose an epoch below this (this node's own fence, so retries move up). */
export async function electLeader(meta: ShardMeta, deps: ElectionDeps, minEpoch = 0): Promise<ElectionOutcome> {
  const epoch = Math.max(meta.leaderEpoch, minEpoch) + 1;
  const settled = await Promise.allSettled(meta.replicas.map((id) => deps.fence(id, epoch)));
  const votes: FenceResult[] = [];
  let higher = 0;
  for (const s of settled) {
    if (s.status !== 'fulfilled') continue;
    if (s.value.fencedEpoch > epoch) higher = Math.max(higher, s.value.fencedEpoch);
    else votes.push(s.value);
  }
  if (higher > 0) return { kind: 'stale', fencedEpoch: higher };
  const needed = quorumOf(meta.replicas.length);
  if (votes.length < needed) return { kind: 'no-quorum', answered: votes.map((v) => v.nodeId), needed, epoch };
  let best = votes[0]!;
  for (const v of votes) if (betterLog(v, best, meta.isr)) best = v;
  const isr = votes.filter((v) => v.lastEpoch === best.lastEpoch && v.logEndOffset === best.logEndOffset).map((v) => v.nodeId);
  isr.sort((a, b) => a - b);
  try {
    const next = await deps.update(meta.version, { leader: best.nodeId, leaderEpoch: epoch, isr });
    return next === null ? { kind: 'lost-race' } : { kind: 'elected', meta: next, votes };
  } catch (e: unknown) {
    if (isCodedError(e)) return { kind: 'lost-race' };
    throw e;
  }
}
