// A leader cut off from its followers keeps appending acks=1 records that nobody copies; the
// others elect a new leader, which takes more writes. When the old leader rejoins it must drop
// its divergent tail (truncate to the epoch boundary, KIP-279) and copy the new leader's log, so
// every replica ends with the same dense log. Real gRPC between the nodes, through TcpProxy.
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../common/log.js';
import { TcpProxy } from '../../../jepsen-like-tests/placement/tcp-proxy.js';
import { Acks, JournalClient } from '../../client/index.js';
import { startJournal, type StartedJournal } from '../../service/start-journal.js';
import { dec, enc, journalConfig, tempDir, waitFor } from '../../service/test/helpers.js';
import { LocalMetadataStore } from '../local-metadata-store.js';

const timing = { refreshMs: 50, electionTimeoutMs: 500, isrLagMs: 800, fetchMaxWaitMs: 100, rpcTimeoutMs: 300 };

describe('follower truncation to the leader epoch boundary', () => {
  const dirs: string[] = [];
  const nodes = new Map<number, StartedJournal>();
  const proxies = new Map<number, TcpProxy>();
  let store: LocalMetadataStore;

  beforeAll(async () => {
    store = LocalMetadataStore.open(null);
    for (let id = 1; id <= 3; id++) {
      const proxy = await TcpProxy.start();
      dirs.push(tempDir(`journal-div-${id}`));
      const j = await startJournal(journalConfig({ node_id: id, data_dir: dirs[id - 1]! }), silentLogger, { store: store.view(), timing, advertise: proxy.address });
      proxy.setTarget('127.0.0.1', j.listeners[0]!.port);
      proxies.set(id, proxy);
      nodes.set(id, j);
    }
  });
  afterAll(async () => {
    for (const n of nodes.values()) await n.close();
    for (const p of proxies.values()) await p.close();
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  async function local(id: number): Promise<string[]> {
    const r = nodes.get(id)!.node.replicaForPeer('div');
    return (await r.log.read({ offset: 0, maxRecords: 10_000, maxBytes: 1 << 30 })).map((x) => dec(x.value));
  }

  it('drops the unreplicated tail of a deposed leader and converges on the new leader log', async () => {
    const client = new JournalClient({ addrs: [...proxies.values()].map((p) => p.address), retryForMs: 10_000, rpcTimeoutMs: 2000 });
    await client.createShard('div', { replicas: 3 });
    for (let i = 0; i < 5; i++) await client.write('div', [{ value: enc(`a${i}`) }], { acks: Acks.ALL });
    const old = (await client.describeShard('div')).leaderId;

    // Cut the leader off from its followers (and clients); write to it directly with acks=1.
    proxies.get(old)!.setMode('blackhole');
    const direct = new JournalClient({ addrs: [`127.0.0.1:${nodes.get(old)!.listeners[0]!.port}`], retryForMs: 0 });
    const lonely = await direct.write('div', [{ value: enc('lost1') }, { value: enc('lost2') }], { acks: Acks.ONE });
    expect(lonely.baseOffset).toBe(5);
    direct.close();

    // The others elect a leader at a higher epoch and take quorum writes.
    await waitFor(async () => {
      const m = await store.view().getShard('div');
      return m !== null && m.leader !== old && m.leaderEpoch > 1;
    }, 10_000, 'a new leader');
    // The same client, as a user's would be: it still names the cut-off leader for the shard and
    // lists its address. Connecting there cannot complete (the proxy swallows it), which proves
    // the write was not sent, so the client asks the others and finds the new leader.
    for (let i = 0; i < 3; i++) await client.write('div', [{ value: enc(`b${i}`) }], { acks: Acks.QUORUM });

    proxies.get(old)!.setMode('pass');
    const want = ['a0', 'a1', 'a2', 'a3', 'a4', 'b0', 'b1', 'b2'];
    for (const id of [1, 2, 3]) await waitFor(async () => (await local(id)).join() === want.join(), 10_000, `node ${id} to converge`);
    const read = await client.read('div', { offset: 0 });
    expect(read.records.map((r) => dec(r.value))).toEqual(want);
    const history = nodes.get(old)!.node.replicaForPeer('div').history.entries;
    expect(history.map((e) => e.epoch)).toEqual([1, (await client.describeShard('div')).leaderEpoch]);
    client.close();
  });
});
