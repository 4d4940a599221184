import * as grpc from '@grpc/grpc-js';
import { create } from '@bufbuild/protobuf';
import { afterEach, describe, expect, it } from 'vitest';
import { isCodedError } from '../../../common/errors.js';
import { grpcServiceDefinition } from '../../../proto/grpc.js';
import { KvSetRequestSchema, NodeKind, NodeStatus, PlacementService, type WatchEvent, type WatchResponse } from '../../../proto/gen/placement_pb.js';
import { GrpcPlacementClient } from '../../client/grpc-client.js';
import { TestCluster, waitFor } from './cluster.js';

const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b));

/** Collects a watch's events in the background. */
function collect(it: AsyncIterable<WatchResponse>): { events: WatchEvent[]; progress: number[]; error: unknown[] } {
  const out = { events: [] as WatchEvent[], progress: [] as number[], error: [] as unknown[] };
  void (async () => {
    try {
      for await (const r of it) {
        if (r.message.case === 'event') out.events.push(r.message.value);
        else if (r.message.case === 'progressIndex') out.progress.push(r.message.value);
      }
    } catch (err: unknown) {
      out.error.push(err);
    }
  })();
  return out;
}

let cluster: TestCluster | undefined;
afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

describe('placement cluster (3 in-process nodes over gRPC)', () => {
  it('elects one leader and replicates a write to every member', async () => {
    cluster = await TestCluster.start(3);
    const leader = await cluster.waitForLeader();
    const client = cluster.client();
    const r = await client.kvSet('a', 'one');
    expect(r.index).toBeGreaterThan(0);
    expect(new TextDecoder().decode((await client.kvGet('a'))!.value)).toBe('one');
    for (const m of cluster.members) {
      const only = new GrpcPlacementClient({ addresses: [m.address] });
      const st = await only.status();
      expect(st.leaderId).toBe(leader.id);
      expect(st.leaderAddress).toBe(leader.address);
      await only.close();
    }
  });

  it('a follower answers a write with PC_NOT_LEADER carrying the leader in metadata; the client retries there', async () => {
    cluster = await TestCluster.start(3);
    const leader = await cluster.waitForLeader();
    const follower = cluster.members.find((m) => m.id !== leader.id)!;
    // A client that only knows the follower still lands the write at the leader.
    const viaFollower = cluster.client([follower.address]);
    await viaFollower.kvSet('k', 'v');
    expect(new TextDecoder().decode((await viaFollower.kvGet('k'))!.value)).toBe('v');
    // The raw answer on the wire: status FAILED_PRECONDITION with structured metadata.
    const m = grpcServiceDefinition(PlacementService).kvSet!;
    const raw = new grpc.Client(follower.address, grpc.credentials.createInsecure());
    const err = await new Promise<grpc.ServiceError>((resolve) =>
      raw.makeUnaryRequest(m.path, m.requestSerialize, m.responseDeserialize, create(KvSetRequestSchema, { key: 'x' }), (e) => resolve(e!)),
    );
    raw.close();
    expect(err.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(err.metadata.get('pc-error-code')).toEqual(['PC_NOT_LEADER']);
    expect(err.metadata.get('pc-leader-id')).toEqual([String(leader.id)]);
    expect(err.metadata.get('pc-leader-address')).toEqual([leader.address]);
  });

  it('elects a new leader when the leader stops, and no acknowledged write is lost', async () => {
    cluster = await TestCluster.start(3);
    const old = await cluster.waitForLeader();
    const client = cluster.client();
    for (let i = 0; i < 20; i++) await client.kvSet(`k${i}`, `v${i}`);
    const stoppedAt = Date.now();
    await cluster.stop(old.id);
    const next = await cluster.waitForLeader(10_000, [old.id]);
    expect(next.id).not.toBe(old.id);
    await client.kvSet('after', 'x');
    const failoverMs = Date.now() - stoppedAt;
    for (let i = 0; i < 20; i++) expect(text((await client.kvGet(`k${i}`))?.value)).toBe(`v${i}`);
    // 20 ms ticks, election timeout 10-20 ticks: well under 2 s on an idle machine.
    expect(failoverMs).toBeLessThan(5000);
    await cluster.restart(old.id);
    await waitFor(() => cluster!.member(old.id).node!.view.getKv('after') !== undefined, 10_000, 'the restarted node to catch up');
  });

  it('watch streams resume from a log index, on another member, without gaps or repeats', async () => {
    cluster = await TestCluster.start(3);
    await cluster.waitForLeader();
    const client = cluster.client();
    const first = await client.kvSet('w/1', 'a');
    await client.kvSet('other', 'ignored');
    await client.kvSet('w/2', 'b');
    // Watch from the first write: the two past w/ events replay, then live ones follow.
    const w = collect(client.watch({ fromIndex: first.index, prefixes: ['kv/w/'] }));
    await client.kvDelete('w/1');
    await waitFor(() => w.events.length >= 3, 5000, 'three events');
    expect(w.events.map((e) => [e.key, e.type])).toEqual([
      ['kv/w/1', 1],
      ['kv/w/2', 1],
      ['kv/w/1', 2],
    ]);
    // A second watcher on one member resumes after that member stops.
    const member = cluster.members[0]!;
    const single = cluster.client([member.address, ...cluster.members.slice(1).map((m) => m.address)]);
    const w2 = collect(single.watch({ fromIndex: first.index, prefixes: ['kv/w/'] }));
    await waitFor(() => w2.events.length >= 3, 5000, 'replayed events');
    await cluster.stop(member.id);
    await cluster.waitForLeader(10_000, [member.id]);
    await client.kvSet('w/3', 'c');
    await waitFor(() => w2.events.length >= 4, 10_000, 'the event after the resume');
    expect(w2.events.map((e) => e.key)).toEqual(['kv/w/1', 'kv/w/2', 'kv/w/1', 'kv/w/3']);
    expect(w2.error).toEqual([]);
  });

  it('a watch from an index that is no longer retained fails with PC_WATCH_COMPACTED', async () => {
    cluster = await TestCluster.start(1, { snapshotEntries: 10, keepEntries: 0 });
    await cluster.waitForLeader();
    const client = cluster.client();
    for (let i = 0; i < 25; i++) await client.kvSet(`a${i}`, String(i));
    // After a restart the node has the events from its last snapshot on, not before.
    await cluster.stop(1);
    await cluster.restart(1);
    await cluster.waitForLeader();
    const w = collect(client.watch({ fromIndex: 2 }));
    await waitFor(() => w.error.length > 0, 5000, 'the watch to fail');
    expect(isCodedError(w.error[0]) && w.error[0].code).toBe('PC_WATCH_COMPACTED');
    expect(isCodedError(w.error[0]) && w.error[0].details.firstIndex).toBeGreaterThan(2);
    // The recovery: list, then watch from the listed index + 1.
    const listed = await client.kvList('');
    expect(listed.entries).toHaveLength(25);
    const w2 = collect(client.watch({ fromIndex: listed.index + 1 }));
    await client.kvSet('later', 'x');
    await waitFor(() => w2.events.length === 1, 5000, 'the live event');
    expect(w2.events[0]!.key).toBe('kv/later');
  });

  it('marks a node dead when it stops heartbeating, and watchers are told', async () => {
    cluster = await TestCluster.start(3);
    await cluster.waitForLeader();
    const client = cluster.client();
    const w = collect(client.watch({ prefixes: ['node/'] }));
    await waitFor(() => w.progress.length > 0, 5000, 'the watch to start');
    const reg = await client.registerNode({ kind: NodeKind.BROKER, nodeId: 7, address: '10.0.0.7:1883', heartbeatTimeoutMs: 300 });
    expect(reg.node?.status).toBe(NodeStatus.ALIVE);
    // Heartbeats keep it alive past its timeout.
    const until = Date.now() + 700;
    while (Date.now() < until) {
      await client.heartbeat(NodeKind.BROKER, 7, reg.node!.incarnation);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect((await client.listNodes(NodeKind.BROKER))[0]?.status).toBe(NodeStatus.ALIVE);
    // Silence: the leader marks it dead through a committed command.
    await waitFor(() => w.events.some((e) => e.value?.value.case === 'node' && e.value.value.value.status === NodeStatus.DEAD), 5000, 'the DEAD event');
    expect((await client.listNodes(NodeKind.BROKER))[0]?.status).toBe(NodeStatus.DEAD);
    const hb = await client.heartbeat(NodeKind.BROKER, 7, reg.node!.incarnation).catch((e: unknown) => e);
    expect(isCodedError(hb) && hb.code).toBe('PC_NODE_NOT_REGISTERED');
  });

  it('installs a snapshot on a restarted node that fell behind the compacted log', async () => {
    cluster = await TestCluster.start(3, { snapshotEntries: 50, keepEntries: 10 });
    const leader = await cluster.waitForLeader();
    const lagging = cluster.members.find((m) => m.id !== leader.id)!;
    await cluster.stop(lagging.id);
    const client = cluster.client(cluster.members.filter((m) => m.id !== lagging.id).map((m) => m.address));
    for (let i = 0; i < 200; i++) await client.kvSet(`s${i % 40}`, `v${i}`);
    await waitFor(() => leader.node!.status().firstIndex > 20, 5000, 'the leader to compact');
    await cluster.restart(lagging.id);
    const n = cluster.member(lagging.id);
    await waitFor(() => n.node!.status().snapshotIndex > 0 && n.node!.view.getKv('s39') !== undefined, 10_000, 'the snapshot install');
    await waitFor(() => n.node!.status().appliedIndex >= leader.node!.status().commitIndex, 10_000, 'catch up');
    for (let i = 160; i < 200; i++) expect(text(n.node!.view.getKv(`s${i % 40}`)?.value)).toBe(`v${i}`);
  });
});
