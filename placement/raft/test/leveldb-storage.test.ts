import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { afterAll, describe, expect, it } from 'vitest';
import { LevelRaftStorage } from '../leveldb-storage.js';
import { RaftNode } from '../raft-node.js';
import { SeededRng } from '../rng.js';
import type { Entry, Message, NodeId } from '../types.js';

const root = mkdtempSync(join(tmpdir(), 'raft-level-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = (): string => join(root, `db-${++n}`);
const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const ent = (index: number, term: number, s = `${index}`): Entry => ({ index, term, type: 'normal', data: text(s) });

describe('LevelRaftStorage', () => {
  it('persists hard state, entries and snapshot across reopen', async () => {
    const dir = freshDir();
    const s = await LevelRaftStorage.open(dir);
    s.append([ent(1, 1), ent(2, 1), { index: 3, term: 2, type: 'conf-change', data: text('cc') }]);
    s.setHardState({ term: 2, vote: 3, commit: 2 });
    await s.flush();
    await s.close();
    const r = await LevelRaftStorage.open(dir);
    expect(r.initialState().hardState).toEqual({ term: 2, vote: 3, commit: 2 });
    expect(r.entries(1, 4)).toEqual([ent(1, 1), ent(2, 1), { index: 3, term: 2, type: 'conf-change', data: text('cc') }]);
    await r.close();
  });

  it('persists suffix truncation when a conflicting tail is overwritten', async () => {
    const dir = freshDir();
    const s = await LevelRaftStorage.open(dir);
    s.append([ent(1, 1), ent(2, 1), ent(3, 1), ent(4, 1)]);
    await s.flush();
    s.append([ent(3, 2, 'new')]);
    await s.close();
    const r = await LevelRaftStorage.open(dir);
    expect(r.lastIndex()).toBe(3);
    expect(r.entries(3, 4)).toEqual([ent(3, 2, 'new')]);
    await r.close();
  });

  it('persists snapshots and compaction, and an installed snapshot replaces the log', async () => {
    const dir = freshDir();
    const s = await LevelRaftStorage.open(dir);
    s.append([1, 2, 3, 4, 5].map((i) => ent(i, 1)));
    s.createSnapshot(3, { voters: [1, 2], learners: [3] }, text('state@3'));
    s.compact(3);
    await s.close();
    let r = await LevelRaftStorage.open(dir);
    expect(r.snapshot()).toEqual({ metadata: { index: 3, term: 1, confState: { voters: [1, 2], learners: [3] } }, data: text('state@3') });
    expect(r.initialState().confState).toEqual({ voters: [1, 2], learners: [3] });
    expect([r.firstIndex(), r.lastIndex()]).toEqual([4, 5]);
    r.applySnapshot({ metadata: { index: 9, term: 4, confState: { voters: [1], learners: [] } }, data: text('state@9') });
    await r.close();
    r = await LevelRaftStorage.open(dir);
    expect([r.firstIndex(), r.lastIndex(), r.term(9)]).toEqual([10, 9, 4]);
    await r.close();
  });

  it('writes nothing before flush', async () => {
    const dir = freshDir();
    const s = await LevelRaftStorage.open(dir);
    s.append([ent(1, 1)]);
    s.setHardState({ term: 1, vote: 0, commit: 0 });
    // Peek at the raw database: the queued batch is not there yet.
    const raw = (s as unknown as { db: ClassicLevel<Uint8Array, Uint8Array> }).db;
    expect(await raw.keys().all()).toEqual([]);
    await s.flush({ sync: true });
    expect((await raw.keys().all()).length).toBe(2);
    await s.close();
  });

  it('refuses a corrupt hard state record with RAFT_CORRUPT', async () => {
    const dir = freshDir();
    const raw = new ClassicLevel<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
    await raw.put(Uint8Array.of(0x68), Uint8Array.of(1, 2, 3));
    await raw.close();
    await expect(LevelRaftStorage.open(dir)).rejects.toThrowError(/RAFT_CORRUPT/);
  });

  it('drives a three-node cluster that survives restarts from disk', async () => {
    const dirs = new Map<NodeId, string>([1, 2, 3].map((id) => [id, freshDir()]));
    const stores = new Map<NodeId, LevelRaftStorage>();
    const nodes = new Map<NodeId, RaftNode>();
    const applied = new Map<NodeId, string[]>([1, 2, 3].map((id) => [id, []]));
    const start = async (id: NodeId): Promise<void> => {
      const storage = await LevelRaftStorage.open(dirs.get(id)!);
      stores.set(id, storage);
      applied.set(id, []);
      nodes.set(id, new RaftNode({ id, voters: [1, 2, 3], electionTick: 10, heartbeatTick: 1, storage, rng: new SeededRng(id) }));
    };
    for (const id of [1, 2, 3]) await start(id);
    const stabilize = async (): Promise<void> => {
      for (let round = 0; round < 100; round++) {
        const out: Message[] = [];
        for (const [id, node] of nodes) {
          while (node.hasReady()) {
            const rd = node.ready();
            await stores.get(id)!.persist(rd); // durable before any message leaves
            for (const e of rd.committedEntries) if (e.type === 'normal' && e.data.byteLength) applied.get(id)!.push(new TextDecoder().decode(e.data));
            out.push(...rd.messages);
            node.advance(rd);
          }
        }
        if (out.length === 0) return;
        for (const m of out) nodes.get(m.to)?.step(m);
      }
    };
    nodes.get(1)!.campaign();
    await stabilize();
    nodes.get(1)!.propose(text('a'));
    nodes.get(1)!.propose(text('b'));
    await stabilize();
    for (const id of [1, 2, 3]) expect(applied.get(id)).toEqual(['a', 'b']);
    // Restart every node from its directory: terms, votes and logs come back from disk.
    for (const id of [1, 2, 3]) await stores.get(id)!.close();
    for (const id of [1, 2, 3]) await start(id);
    expect(nodes.get(2)!.status()).toMatchObject({ term: 2, vote: 1 });
    for (let t = 0; t < 30 && !([...nodes.values()].some((x) => x.status().role === 'leader')); t++) {
      for (const node of nodes.values()) node.tick();
      await stabilize();
    }
    const leader = [...nodes.values()].find((x) => x.status().role === 'leader')!;
    leader.propose(text('c'));
    await stabilize();
    // Replay after restart re-applies the whole log (applied starts at the snapshot, 0 here).
    for (const id of [1, 2, 3]) expect(applied.get(id)).toEqual(['a', 'b', 'c']);
    for (const s of stores.values()) await s.close();
  });
});
