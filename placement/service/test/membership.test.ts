// Membership changes through the service, on real in-process nodes over gRPC on free ports:
// grow 3 -> 4 through a learner while clients keep reading and writing, remove a voter, hand
// leadership to the new member; the KV history stays linearizable (jepsen-like-tests checker).

import { performance } from 'node:perf_hooks';
import { afterEach, describe, expect, it } from 'vitest';
import { isCodedError, type ErrorCode } from '../../../common/errors.js';
import { checkOperations, kvModel, type KvOperation } from '../../../jepsen-like-tests/linearizability/index.js';
import { MemberRole } from '../../../proto/gen/placement_pb.js';
import { SeededRng } from '../../raft/rng.js';
import type { GrpcPlacementClient } from '../../client/grpc-client.js';
import { TestCluster, waitFor } from './cluster.js';

let cluster: TestCluster | undefined;
afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<ErrorCode | 'ok'> {
  try {
    await (typeof p === 'function' ? p() : p);
    return 'ok';
  } catch (err: unknown) {
    if (isCodedError(err)) return err.code;
    throw err;
  }
}

/** Clients doing random KV operations on a few keys, recording a history for the checker. */
function startWorkers(clients: readonly GrpcPlacementClient[], seed: number) {
  const history: KvOperation[] = [];
  let stopped = false;
  let acknowledged = 0;
  const keys = ['a', 'b', 'c', 'd'];
  const runs = clients.map(async (c, clientId) => {
    const rng = new SeededRng(seed + clientId);
    for (let n = 0; !stopped; n++) {
      const key = keys[rng.nextInt(keys.length)]!;
      const pick = rng.nextInt(10);
      const call = performance.now();
      if (pick < 4) {
        const value = `${clientId}-${n}`;
        try {
          await c.kvSet(`m/${key}`, value);
          history.push({ clientId, input: { op: 'put', key, value }, call, output: { op: 'put' }, return: performance.now() });
          acknowledged++;
        } catch {
          history.push({ clientId, input: { op: 'put', key, value }, call });
        }
      } else if (pick < 5) {
        try {
          const r = await c.kvDelete(`m/${key}`);
          history.push({ clientId, input: { op: 'delete', key }, call, output: { op: 'delete', existed: r.existed }, return: performance.now() });
        } catch {
          history.push({ clientId, input: { op: 'delete', key }, call });
        }
      } else {
        try {
          const e = await c.kvGet(`m/${key}`);
          const value = e === undefined ? null : new TextDecoder().decode(e.value);
          history.push({ clientId, input: { op: 'get', key }, call, output: { op: 'get', value }, return: performance.now() });
        } catch {
          // A failed read changes nothing; the checker would drop it anyway.
        }
      }
    }
  });
  return {
    history,
    get acknowledged() {
      return acknowledged;
    },
    async stop() {
      stopped = true;
      await Promise.all(runs);
    },
  };
}

describe('membership changes through the placement service', () => {
  it('grows 3 -> 4 through a learner, removes a voter, transfers leadership, while clients keep a linearizable history', async () => {
    const seed = Number(process.env.PC_MEMBERSHIP_SEED ?? 7);
    const c = (cluster = await TestCluster.start(3));
    await c.waitForLeader();
    const admin = c.client();
    const workers = startWorkers([c.client(), c.client(), c.client()], seed);
    try {
      await waitFor(() => workers.acknowledged >= 20, 10_000, 'writes before the change');

      // 1. Node 4 is added as a learner before it starts; its raft.peers lists only itself and
      // node 1, so it learns nodes 2 and 3 (and their addresses) from the replicated log.
      const m4 = await c.bindNode(4);
      const added = await admin.addMember(4, m4.address, { asLearner: true });
      expect(added.index).toBeGreaterThan(0);
      expect(added.members.find((m) => m.id === 4)).toMatchObject({ role: MemberRole.LEARNER, address: m4.address });
      // A second add of the same learner is a no-op, not an error (a retried request).
      expect((await admin.addMember(4, m4.address, { asLearner: true })).index).toBe(0);
      await c.startBound(4, [4, 1]);

      // 2. Promote once the learner caught up (the leader refuses while it lags).
      const refusals: string[] = [];
      await waitFor(
        async () => {
          try {
            return await admin.promoteLearner(4);
          } catch (err: unknown) {
            if (!isCodedError(err) || err.code !== 'PC_LEARNER_NOT_CAUGHT_UP') throw err;
            refusals.push(err.code);
            return undefined;
          }
        },
        10_000,
        'learner 4 promoted',
      );
      const leader = await c.waitForLeader();
      const st = leader.node!.status();
      expect(st.members.filter((m) => !m.learner).map((m) => m.id)).toEqual([1, 2, 3, 4]);
      await waitFor(() => c.member(4).node!.status().members.length === 4 && c.member(4).node!.status().appliedIndex >= st.commitIndex, 5000, 'node 4 applied its promotion');
      await waitFor(() => workers.acknowledged >= 60, 10_000, 'writes after the promotion');

      // 3. Remove a voter that is neither the leader nor node 4; it learns it was removed and stops.
      const victim = [1, 2, 3].find((id) => id !== leader.id)!;
      const removed = await admin.removeMember(victim);
      expect(removed.members.map((m) => m.id)).not.toContain(victim);
      await waitFor(() => c.member(victim).node!.removed, 10_000, `node ${victim} stopped after its removal`);
      expect(await codeOf(() => c.member(victim).node!.linearizable())).toBe('PC_NODE_REMOVED');
      expect(c.member(victim).node!.status().removed).toBe(true);
      // A retried removal is a no-op.
      expect((await admin.removeMember(victim)).index).toBe(0);
      const ackedBefore = workers.acknowledged;
      await waitFor(() => workers.acknowledged >= ackedBefore + 30, 10_000, 'writes after the removal');

      // 4. Hand leadership to node 4, which must reach members it has no raft.peers entry for.
      const t = await admin.transferLeader(4);
      expect(t.leaderId).toBe(4);
      await waitFor(() => c.member(4).node!.isLeader, 5000, 'node 4 leads');
      const ackedAfter = workers.acknowledged;
      await waitFor(() => workers.acknowledged >= ackedAfter + 30, 10_000, 'writes under the new leader');
    } finally {
      await workers.stop();
    }

    const result = checkOperations(kvModel, workers.history);
    expect(result.verdict, JSON.stringify(result.counterexample?.remaining.slice(0, 5))).toBe('ok');
    expect(workers.history.length).toBeGreaterThan(100);

    // Every remaining member holds the same KV, and every one knows every other's address.
    const survivors = c.members.filter((m) => m.node && !m.node.removed);
    expect(survivors.map((m) => m.id).sort()).toHaveLength(3);
    const leaderNow = await c.waitForLeader();
    await waitFor(() => survivors.every((m) => m.node!.status().appliedIndex >= leaderNow.node!.status().commitIndex), 5000, 'all applied');
    const kv = (id: number) => JSON.stringify(c.member(id).node!.view.listKv('m/').map((e) => [e.key, new TextDecoder().decode(e.value)]));
    for (const m of survivors) expect(kv(m.id)).toBe(kv(leaderNow.id));
    for (const m of survivors) {
      for (const other of survivors) expect(m.node!.view.memberAddress(other.id)).toBe(other.address);
    }
  }, 30_000);

  it('refuses with coded errors (unknown member, a second change while one is pending, a lagging learner, bad targets); a leader removes itself', async () => {
    const c = (cluster = await TestCluster.start(3, { promoteMaxLag: 0 }));
    const leader = await c.waitForLeader();
    const node = leader.node!;
    const admin = c.client();
    expect(await codeOf(admin.promoteLearner(9))).toBe('PC_MEMBER_NOT_FOUND');
    expect(await codeOf(admin.removeMember(9))).toBe('PC_MEMBER_NOT_FOUND');
    expect(await codeOf(admin.addMember(9, 'nohost'))).toBe('PC_INVALID_ARGUMENT');
    const other = c.members.find((m) => m.id !== leader.id)!;
    expect(await codeOf(admin.addMember(other.id, '127.0.0.1:1'))).toBe('PC_MEMBERSHIP_CHANGE_INVALID');
    expect((await admin.addMember(other.id, other.address)).index).toBe(0);

    // A learner nobody runs never catches up: promotion is refused, with the lag in details.
    await admin.addMember(9, '127.0.0.1:1', { asLearner: true });
    const refusal = await admin.promoteLearner(9).catch((err: unknown) => err);
    expect(isCodedError(refusal) && refusal.code).toBe('PC_LEARNER_NOT_CAUGHT_UP');
    // The lag travels as structured metadata, not only in the message.
    expect(isCodedError(refusal) && refusal.details).toMatchObject({ matchIndex: 0, lastIndex: expect.any(Number) });
    expect(isCodedError(refusal) && (refusal.details.lastIndex as number)).toBeGreaterThan(0);
    expect(await codeOf(admin.addMember(9, '127.0.0.1:1'))).toBe('PC_MEMBERSHIP_CHANGE_INVALID');
    expect(await codeOf(() => node.transferLeader(9))).toBe('PC_MEMBERSHIP_CHANGE_INVALID');
    expect(await codeOf(() => node.transferLeader(42))).toBe('PC_MEMBER_NOT_FOUND');

    // One change at a time: the second is refused while the first is not applied.
    const first = node.changeMembership({ kind: 'remove', nodeId: 9 });
    expect(await codeOf(() => node.changeMembership({ kind: 'add-learner', nodeId: 10, address: '127.0.0.1:2' }))).toBe('PC_MEMBERSHIP_CHANGE_PENDING');
    expect(await first).toBeGreaterThan(0);
    expect(node.status().members.map((m) => m.id)).toEqual([1, 2, 3]);
    // On a follower: PC_NOT_LEADER with the leader's address, as for every write.
    expect(await codeOf(() => other.node!.changeMembership({ kind: 'remove', nodeId: 9 }))).toBe('PC_NOT_LEADER');

    // The leader removes itself: it steps down and stops, the other two elect a leader and serve.
    const removal = await admin.removeMember(leader.id);
    expect(removal.members.map((m) => m.id)).not.toContain(leader.id);
    await waitFor(() => leader.node!.removed, 5000, 'the old leader stops');
    const next = await c.waitForLeader(10_000, [leader.id]);
    // It commits the removal with its first entry, then applies it.
    await waitFor(() => next.node!.status().members.length === 2, 5000, 'the new leader applied the removal');
    expect(next.node!.status().members.map((m) => m.id)).toEqual([1, 2, 3].filter((id) => id !== leader.id));
    await admin.kvSet('after-leader-removal', 'ok');
  }, 20_000);

  it('a fresh node that was not added does not found a cluster of its own; it joins once added (through a snapshot), restarts with a partial raft.peers, a node removed while down stops when it comes back, and a leader with a stale raft.peers reaches the new member', async () => {
    // A short log: node 4 joins through a snapshot (taken before it was added) rather than the log.
    const c = (cluster = await TestCluster.start(3, { snapshotEntries: 20, keepEntries: 5 }));
    const leader = await c.waitForLeader();
    const admin = c.client();
    for (let i = 0; i < 40; i++) await admin.kvSet(`fill/${i}`, 'x');
    await admin.kvSet('before', 'x');
    await waitFor(() => leader.node!.status().firstIndex > 1, 5000, 'the leader compacted its log');

    // Started before `member add`: it sees a running cluster without it and stays inert.
    const m4 = await c.bindNode(4);
    await c.startBound(4, [4, leader.id]);
    const t0 = Date.now();
    await waitFor(() => Date.now() - t0 > 600 || c.member(4).node!.status().members.length > 0, 5000, 'node 4 stays out');
    expect(c.member(4).node!.status()).toMatchObject({ members: [], term: 0 });

    await admin.addMember(4, m4.address, { asLearner: true });
    await waitFor(() => c.member(4).node!.view.getKv('before') !== undefined, 5000, 'node 4 replicates as a learner');
    expect(c.member(4).node!.status().members.find((m) => m.id === 4)?.learner).toBe(true);

    // Restarted with a raft.peers that lists only itself and one member: it still follows.
    await c.stop(4);
    await c.restart(4);
    await admin.kvSet('after-restart', 'y');
    await waitFor(() => c.member(4).node?.view.getKv('after-restart') !== undefined, 5000, 'node 4 follows after a restart');

    // Removed while it was down: the leader no longer talks to it, so it learns from the peers it
    // campaigns at (they answer its Raft batches with the removal index).
    const victim = [1, 2, 3].find((id) => id !== leader.id)!;
    await c.stop(victim);
    await admin.removeMember(victim);
    await c.restart(victim);
    await waitFor(() => c.member(victim).node!.removed, 10_000, `node ${victim} learns it was removed`);
    await admin.kvSet('after-removal', 'z');

    // The other founder restarts with a stale raft.peers (no node 4, the removed node still
    // listed) and is made leader: it reaches learner 4 at the address the replicated state holds.
    const stale = [1, 2, 3].find((id) => id !== leader.id && id !== victim)!;
    await c.stop(stale);
    c.member(stale).peerIds = [1, 2, 3];
    await c.restart(stale);
    await waitFor(() => c.member(stale).node!.view.getKv('after-removal') !== undefined, 5000, `node ${stale} caught up`);
    expect((await admin.transferLeader(stale)).leaderId).toBe(stale);
    await admin.kvSet('via-stale-leader', 'w');
    await waitFor(() => c.member(4).node!.view.getKv('via-stale-leader') !== undefined, 5000, 'learner 4 replicates from the new leader');
  }, 25_000);
});
