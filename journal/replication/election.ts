// Choosing a new shard leader when the current one is gone (or fenced).
//
// 1. Fence: ask every replica to stop following any leader below epoch E+1 (durably) and to
//    report its log position (last epoch, log end offset). The old leader, if it answers, steps
//    down too. The election goes on as soon as every replica answered or failed, or a majority
//    answered and a short grace for the rest passed: an unreachable replica would otherwise hold it
//    for a whole RPC deadline, and a Raft candidate also wins with a majority of votes.
// 2. With answers from a majority of the replicas, pick the most complete log: highest last epoch,
//    then highest log end offset (Raft's up-to-date rule); ties go to a member of the in-sync set,
//    then to the lowest node id.
// 3. Compare-and-set the shard metadata to {leader, epoch E+1, isr} at the version read in step 0;
//    a concurrent elector that wrote first makes this a no-op. When the metadata changed without
//    reaching epoch E+1 (typically the old leader shrinking its in-sync set as its followers fall
//    silent), the CAS is retried on the new version: the fenced majority is a valid vote for
//    E+1 whatever happened at lower epochs, as a Raft vote for term T is.
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
  /** The shard's metadata as stored now (null: deleted). */
  current(): Promise<ShardMeta | null>;
}

/** After a majority answered, how long the others may still answer (their positions help pick the longest log). */
export const FENCE_GRACE_MS = 50;
/** CAS attempts when the metadata changed only below the new epoch. */
const CAS_ATTEMPTS = 3;

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
  const needed = quorumOf(meta.replicas.length);
  const answers = await fenceMajority(meta.replicas, (id) => deps.fence(id, epoch), needed);
  const votes: FenceResult[] = [];
  let higher = 0;
  for (const a of answers) {
    if (a.fencedEpoch > epoch) higher = Math.max(higher, a.fencedEpoch);
    else votes.push(a);
  }
  if (higher > 0) return { kind: 'stale', fencedEpoch: higher };
  if (votes.length < needed) return { kind: 'no-quorum', answered: votes.map((v) => v.nodeId), needed, epoch };
  let best = votes[0]!;
  for (const v of votes) if (betterLog(v, best, meta.isr)) best = v;
  const isr = votes.filter((v) => v.lastEpoch === best.lastEpoch && v.logEndOffset === best.logEndOffset).map((v) => v.nodeId);
  isr.sort((a, b) => a - b);
  try {
    let version = meta.version;
    for (let attempt = 1; ; attempt++) {
      const next = await deps.update(version, { leader: best.nodeId, leaderEpoch: epoch, isr });
      if (next !== null) return { kind: 'elected', meta: next, votes };
      const now = await deps.current();
      if (now === null || now.uid !== meta.uid || now.leaderEpoch >= epoch || attempt >= CAS_ATTEMPTS) return { kind: 'lost-race' };
      version = now.version;
    }
  } catch (e: unknown) {
    if (isCodedError(e)) return { kind: 'lost-race' };
    throw e;
  }
}

/**
 * Fences every replica; resolves with the answers once all settled, or once `needed` answered
 * and FENCE_GRACE_MS more passed. Failures (unreachable replicas) are left out.
 */
function fenceMajority(replicas: readonly number[], fence: (id: number) => Promise<FenceResult>, needed: number): Promise<FenceResult[]> {
  return new Promise((resolve) => {
    const answers: FenceResult[] = [];
    let pending = replicas.length;
    let grace: NodeJS.Timeout | null = null;
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      if (grace !== null) clearTimeout(grace);
      resolve([...answers]);
    };
    const settled = (): void => {
      pending--;
      if (pending === 0) finish();
      else if (answers.length >= needed && grace === null) grace = setTimeout(finish, FENCE_GRACE_MS);
    };
    if (pending === 0) finish();
    for (const id of replicas) {
      fence(id).then(
        (r) => {
          if (!done) answers.push(r);
          settled();
        },
        () => settled(),
      );
    }
  });
}
