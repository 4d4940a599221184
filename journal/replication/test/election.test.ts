// electLeader against scripted replicas and store, and what a fence does to the replica that
// answers it (its election timer, the leader it names to clients).
import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../common/log.js';
import { Acks } from '../../../proto/gen/journal_pb.js';
import { ShardLog } from '../../storage/index.js';
import { tempDir } from '../../service/test/helpers.js';
import { electLeader, type ElectionDeps } from '../election.js';
import { EpochHistory } from '../epoch-history.js';
import type { ShardChange, ShardMeta } from '../metadata-store.js';
import { ShardReplica, type FenceResult } from '../shard-replica.js';
import { DEFAULT_TIMING } from '../timing.js';

const meta = (over: Partial<ShardMeta> = {}): ShardMeta => ({
  name: 's',
  uid: 'u1',
  replicationFactor: 3,
  replicas: [1, 2, 3],
  leader: 1,
  leaderEpoch: 1,
  isr: [1, 2, 3],
  keyIndex: false,
  createdAtMs: 0,
  version: 1,
  ...over,
});

/** A store holding one shard, with CAS on its version as the real stores do. */
function scriptedStore(initial: ShardMeta) {
  let cur: ShardMeta | null = initial;
  return {
    get now(): ShardMeta | null {
      return cur;
    },
    set(m: ShardMeta | null): void {
      cur = m;
    },
    update: async (expected: number, change: ShardChange): Promise<ShardMeta | null> => {
      if (cur === null || cur.version !== expected) return null;
      cur = { ...cur, ...change, isr: [...change.isr], version: cur.version + 1 };
      return cur;
    },
    current: async (): Promise<ShardMeta | null> => cur,
  };
}

const answer = (nodeId: number, epoch: number, logEndOffset: number, lastEpoch = 1): FenceResult => ({ nodeId, lastEpoch, logEndOffset, fencedEpoch: epoch });

describe('electLeader', () => {
  it('goes on with a majority instead of waiting out a replica that never answers', async () => {
    const store = scriptedStore(meta());
    const deps: ElectionDeps = {
      selfId: 2,
      // Node 1 sits behind a dropped link: its fence never settles.
      fence: (id, epoch) => (id === 1 ? new Promise<FenceResult>(() => undefined) : Promise.resolve(answer(id, epoch, id === 3 ? 7 : 5))),
      update: store.update,
      current: store.current,
    };
    const t0 = Date.now();
    const out = await electLeader(meta(), deps);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(out).toMatchObject({ kind: 'elected', meta: { leader: 3, leaderEpoch: 2, isr: [3] } });
  });

  it('retries its CAS when the metadata changed only below the new epoch (the old leader shrank its in-sync set)', async () => {
    const store = scriptedStore(meta());
    const deps: ElectionDeps = {
      selfId: 2,
      fence: async (id, epoch) => {
        // While the election runs, the cut-off leader drops its silent followers from the ISR.
        if (id === 1) {
          store.set(meta({ isr: [1], version: 2 }));
          throw new Error('unreachable');
        }
        return answer(id, epoch, 5);
      },
      update: store.update,
      current: store.current,
    };
    const out = await electLeader(meta(), deps);
    expect(out).toMatchObject({ kind: 'elected', meta: { leader: 2, leaderEpoch: 2, isr: [2, 3], version: 3 } });
  });

  it('gives way when another elector installed this epoch or a later one, or the shard was replaced', async () => {
    for (const concurrent of [meta({ leader: 3, leaderEpoch: 2, version: 2 }), meta({ leader: 3, leaderEpoch: 4, version: 2 }), meta({ uid: 'u2', leaderEpoch: 1, version: 2 }), null]) {
      const store = scriptedStore(meta());
      const deps: ElectionDeps = {
        selfId: 2,
        fence: async (id, epoch) => {
          if (id === 3) store.set(concurrent);
          return answer(id, epoch, 5);
        },
        update: store.update,
        current: store.current,
      };
      expect(await electLeader(meta(), deps)).toEqual({ kind: 'lost-race' });
      expect(store.now).toEqual(concurrent);
    }
  });

  it('reports a higher fence and a missing majority', async () => {
    const store = scriptedStore(meta());
    const stale = await electLeader(meta(), { selfId: 2, fence: async (id, epoch) => answer(id, id === 3 ? 9 : epoch, 5), update: store.update, current: store.current });
    expect(stale).toEqual({ kind: 'stale', fencedEpoch: 9 });
    const alone = await electLeader(meta(), {
      selfId: 2,
      fence: async (id, epoch) => {
        if (id !== 2) throw new Error('unreachable');
        return answer(id, epoch, 5);
      },
      update: store.update,
      current: store.current,
    });
    expect(alone).toEqual({ kind: 'no-quorum', answered: [2], needed: 2, epoch: 2 });
    expect(store.now).toEqual(meta());
  });
});

describe('a fenced replica', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  });

  async function replica(m: ShardMeta): Promise<ShardReplica> {
    const dir = tempDir('fenced-replica');
    dirs.push(dir);
    const log = await ShardLog.open(dir, { fsync: 'never' });
    const history = await EpochHistory.open(dir, m.uid, log.nextOffset());
    return new ShardReplica(log, history, m, {
      nodeId: 2,
      timing: DEFAULT_TIMING,
      log: silentLogger,
      peer: () => null,
      addrOf: (id) => `10.0.0.${id}:1778`,
      updateShard: async () => null,
      requestRefresh: () => undefined,
    });
  }

  it('restarts its election timer when it answers a current fence, as a Raft vote does', async () => {
    const r = await replica(meta());
    r.lastContactMs = 0;
    await r.fence(3);
    expect(Date.now() - r.lastContactMs).toBeLessThan(1000);
    r.lastContactMs = 0;
    await r.fence(2); // older than its fence: not a live election
    expect(r.lastContactMs).toBe(0);
    await r.close();
  });

  it('names the metadata leader to clients until an election above it fences this replica', async () => {
    const r = await replica(meta());
    await r.applyMeta(meta());
    await expect(r.write([{ value: Buffer.from('x') }], Acks.QUORUM, 1000)).rejects.toMatchObject({ code: 'JR_NOT_SHARD_LEADER', details: { leader_id: 1, leader_addr: '10.0.0.1:1778' } });
    await r.fence(2);
    await expect(r.write([{ value: Buffer.from('x') }], Acks.QUORUM, 1000)).rejects.toMatchObject({ code: 'JR_NOT_SHARD_LEADER', details: { leader_id: 0, leader_addr: '' } });
    await r.close();
  });
});
