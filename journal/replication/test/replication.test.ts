// Three journal nodes in one process, real gRPC between them on free ports, sharing one
// LocalMetadataStore (the standalone store, here standing in for placement's metadata).
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../common/log.js';
import { Acks, JournalClient } from '../../client/index.js';
import { startJournal, type StartedJournal } from '../../service/start-journal.js';
import { dec, enc, journalConfig, tempDir, waitFor } from '../../service/test/helpers.js';
import { LocalMetadataStore } from '../local-metadata-store.js';

const timing = { refreshMs: 50, electionTimeoutMs: 400, isrLagMs: 600, fetchMaxWaitMs: 200, rpcTimeoutMs: 300 };

describe('replication across three nodes', () => {
  const dirs: string[] = [];
  const nodes = new Map<number, StartedJournal>();
  let store: LocalMetadataStore;
  let client: JournalClient;

  const ports = new Map<number, number>();

  /** A restarted node keeps its port, as a real one keeps its configured address. */
  async function start(id: number): Promise<StartedJournal> {
    const j = await startJournal(journalConfig({ node_id: id, data_dir: dirs[id - 1]!, grpc_port: ports.get(id) ?? 0 }), silentLogger, { store: store.view(), timing });
    ports.set(id, j.listeners[0]!.port);
    nodes.set(id, j);
    return j;
  }

  async function stop(id: number): Promise<void> {
    await nodes.get(id)!.close();
    nodes.delete(id);
  }

  /** Record values of a node's local copy of `shard`, in offset order. */
  async function localValues(id: number, shard: string): Promise<string[]> {
    const r = nodes.get(id)!.node.replicaForPeer(shard);
    const recs = await r.log.read({ offset: r.log.earliestOffset(), maxRecords: 100_000, maxBytes: 1 << 30 });
    return recs.map((x) => dec(x.value));
  }

  beforeAll(async () => {
    store = LocalMetadataStore.open(null);
    for (let i = 1; i <= 3; i++) {
      dirs.push(tempDir(`journal-repl-${i}`));
      await start(i);
    }
    client = new JournalClient({ addrs: [...nodes.values()].map((n) => n.addr), retryForMs: 8000, rpcTimeoutMs: 5000 });
  });
  afterAll(async () => {
    client.close();
    for (const id of [...nodes.keys()]) await stop(id);
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  it('replicates acks=quorum and acks=all writes to every replica', async () => {
    const info = await client.createShard('r3', { replicas: 3 });
    expect([...info.replicaNodes].sort()).toEqual([1, 2, 3]);
    for (let i = 0; i < 20; i++) {
      const r = await client.write('r3', [{ value: enc(`q${i}`) }], { acks: i % 2 === 0 ? Acks.QUORUM : Acks.ALL });
      expect(r.baseOffset).toBe(i);
    }
    const want = Array.from({ length: 20 }, (_, i) => `q${i}`);
    for (const id of [1, 2, 3]) await waitFor(async () => (await localValues(id, 'r3')).join() === want.join(), 5000, `node ${id} to catch up`);
    const offs = await client.getOffsets('r3');
    expect(offs).toMatchObject({ latest: 20, highWatermark: 20, leaderEpoch: 1 });
  });

  it('elects a new leader from the in-sync set when the leader stops; no acknowledged record is lost', async () => {
    const before = (await client.describeShard('r3')).leaderId;
    await stop(before);
    store.setAlive(before, false);
    const acked: string[] = Array.from({ length: 20 }, (_, i) => `q${i}`);
    for (let i = 0; i < 10; i++) {
      await client.write('r3', [{ value: enc(`after${i}`) }], { acks: Acks.QUORUM });
      acked.push(`after${i}`);
    }
    const info = await client.describeShard('r3');
    expect(info.leaderId).not.toBe(before);
    expect(info.leaderEpoch).toBeGreaterThan(1);
    const read = await client.read('r3', { offset: 0 }, { maxRecords: 1000 });
    expect(read.records.map((r) => dec(r.value))).toEqual(acked);
    expect(read.records.map((r) => r.offset)).toEqual(acked.map((_, i) => i));

    // The old leader comes back as a follower and catches up.
    await start(before);
    store.setAlive(before, true);
    await waitFor(async () => (await localValues(before, 'r3')).join() === acked.join(), 8000, 'the old leader to catch up');
    await waitFor(async () => (await client.describeShard('r3')).isr.length === 3, 8000, 'the in-sync set to grow back');
  });

  it('refuses quorum writes with JR_NOT_ENOUGH_REPLICAS once the in-sync set is below a majority, acks=1 still works', async () => {
    await client.createShard('solo3', { replicas: 3 });
    await client.write('solo3', [{ value: enc('x') }], { acks: Acks.ALL });
    const leader = (await client.describeShard('solo3')).leaderId;
    const others = [1, 2, 3].filter((id) => id !== leader);
    for (const id of others) await stop(id);
    await waitFor(async () => (await client.describeShard('solo3')).isr.length === 1, 5000, 'the in-sync set to shrink');
    const e = await client.write('solo3', [{ value: enc('y') }], { acks: Acks.QUORUM }).catch((x: unknown) => x as { code: string });
    expect((e as { code: string }).code).toBe('JR_NOT_ENOUGH_REPLICAS');
    expect((await client.write('solo3', [{ value: enc('z') }], { acks: Acks.ONE })).baseOffset).toBe(1);
    for (const id of others) await start(id);
    await waitFor(async () => (await client.describeShard('solo3')).isr.length === 3, 8000, 'followers to rejoin');
    const read = await client.read('solo3', { offset: 0 });
    expect(read.records.map((r) => dec(r.value))).toEqual(['x', 'z']);
  });
});
