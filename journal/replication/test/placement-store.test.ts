// Three journal nodes whose shard metadata lives in a (single-node, embedded) placement center:
// registration, shard objects, leader/epoch/ISR compare-and-set, failover after a node unregisters.
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../common/log.js';
import { startEmbeddedPlacement, type EmbeddedPlacement } from '../../../placement/service/embedded.js';
import { NodeKind, NodeStatus, ObjectKind } from '../../../proto/gen/placement_pb.js';
import { Acks, JournalClient } from '../../client/index.js';
import { startJournal, type StartedJournal } from '../../service/start-journal.js';
import { dec, enc, journalConfig, tempDir, waitFor } from '../../service/test/helpers.js';
import { PlacementMetadataStore } from '../placement-metadata-store.js';

const timing = { refreshMs: 50, electionTimeoutMs: 400, isrLagMs: 600, fetchMaxWaitMs: 200, rpcTimeoutMs: 300 };

describe('journal metadata in placement', () => {
  const dirs: string[] = [];
  const nodes = new Map<number, StartedJournal>();
  const ports = new Map<number, number>();
  let placementDir: string;
  let placement: EmbeddedPlacement;
  let client: JournalClient;

  async function start(id: number): Promise<void> {
    const store = new PlacementMetadataStore(placement.client, silentLogger, 1500, false);
    const j = await startJournal(journalConfig({ node_id: id, data_dir: dirs[id - 1]!, grpc_port: ports.get(id) ?? 0 }), silentLogger, { store, timing });
    ports.set(id, j.listeners[0]!.port);
    nodes.set(id, j);
  }

  beforeAll(async () => {
    placementDir = tempDir('journal-pc');
    placement = await startEmbeddedPlacement({ dataDir: placementDir, log: silentLogger });
    for (let i = 1; i <= 3; i++) {
      dirs.push(tempDir(`journal-pcn-${i}`));
      await start(i);
    }
    client = new JournalClient({ addrs: [...nodes.values()].map((n) => n.addr), retryForMs: 8000 });
  });
  afterAll(async () => {
    client.close();
    for (const n of nodes.values()) await n.close();
    await placement.close();
    for (const d of [...dirs, placementDir]) fs.rmSync(d, { recursive: true, force: true });
  });

  it('registers the nodes and keeps shards as placement objects', async () => {
    const registered = await placement.client.listNodes(NodeKind.JOURNAL);
    expect(registered.map((n) => [n.nodeId, n.status])).toEqual([[1, NodeStatus.ALIVE], [2, NodeStatus.ALIVE], [3, NodeStatus.ALIVE]]);
    await client.createShard('p3', { replicas: 3 });
    const shards = await placement.client.listObjects(ObjectKind.JOURNAL_SHARD);
    expect(shards.objects.map((o) => o.object?.object.case === 'journalShard' && o.object.object.value.name)).toEqual(['p3']);
    const seg = await placement.client.getObject({ case: 'journalSegment', value: { namespace: 'journal', shard: 'p3', segmentSeq: 0 } });
    expect(seg?.object?.object.value).toMatchObject({ leaderEpoch: 1, isr: [1, 2, 3] });
    for (let i = 0; i < 10; i++) await client.write('p3', [{ value: enc(`v${i}`) }], { acks: Acks.QUORUM });
  });

  it('fails over to an in-sync replica when the leader stops, with the new epoch in placement', async () => {
    const leader = (await client.describeShard('p3')).leaderId;
    await nodes.get(leader)!.close();
    nodes.delete(leader);
    for (let i = 10; i < 15; i++) await client.write('p3', [{ value: enc(`v${i}`) }], { acks: Acks.QUORUM });
    const seg = await placement.client.getObject({ case: 'journalSegment', value: { namespace: 'journal', shard: 'p3', segmentSeq: 0 } });
    const v = seg?.object?.object.value as { leader: number; leaderEpoch: number };
    expect(v.leader).not.toBe(leader);
    expect(v.leaderEpoch).toBeGreaterThan(1);
    const read = await client.read('p3', { offset: 0 });
    expect(read.records.map((r) => dec(r.value))).toEqual(Array.from({ length: 15 }, (_, i) => `v${i}`));
    await start(leader);
    await waitFor(async () => (await client.describeShard('p3')).isr.length === 3, 8000, 'the restarted node to rejoin the in-sync set');
  });

  it('deletes a shard everywhere', async () => {
    await client.deleteShard('p3');
    expect((await placement.client.listObjects(ObjectKind.JOURNAL_SEGMENT)).objects).toEqual([]);
    for (const [id, n] of nodes) await waitFor(() => !fs.existsSync(`${dirs[id - 1]}/journal/p3`), 3000, `node ${id} to drop the data (${n.addr})`);
  });
});
