import { describe, expect, it } from 'vitest';
import { RaftNode } from '../raft-node.js';
import { SeededRng } from '../rng.js';
import { MemoryRaftStorage } from '../storage.js';

const make = (over: Partial<ConstructorParameters<typeof RaftNode>[0]> = {}): RaftNode =>
  new RaftNode({ id: 1, voters: [1, 2, 3], electionTick: 10, heartbeatTick: 1, storage: new MemoryRaftStorage(), rng: new SeededRng(1), ...over });

describe('Ready / advance contract', () => {
  it('throws on advance() without ready()', () => {
    expect(() => make().advance({ entries: [], committedEntries: [], messages: [], readStates: [], mustSync: false })).toThrowError(
      /RAFT_MISUSE.*without a preceding ready/,
    );
  });

  it('throws on a second ready() before advance(), and on advancing a foreign Ready', () => {
    const n = make();
    const rd = n.ready();
    expect(() => n.ready()).toThrowError(/RAFT_MISUSE/);
    expect(() => n.advance({ ...rd })).toThrowError(/RAFT_MISUSE.*not the last one/);
    n.advance(rd);
    expect(n.hasReady()).toBe(false);
  });

  it('hands the bootstrap entries and hard state out once, durably', () => {
    const n = make();
    const rd = n.ready();
    expect(rd.entries.map((e) => [e.index, e.term, e.type])).toEqual([
      [1, 1, 'conf-change'],
      [2, 1, 'conf-change'],
      [3, 1, 'conf-change'],
    ]);
    expect(rd.hardState).toEqual({ term: 1, vote: 0, commit: 3 });
    expect(rd.committedEntries).toHaveLength(3);
    expect(rd.mustSync).toBe(true);
    n.advance(rd);
    expect(n.hasReady()).toBe(false);
  });

  it('a vote travels in the same Ready as the hard state that records it (persist before send)', () => {
    const storage = new MemoryRaftStorage();
    const n = make({ storage });
    const boot = n.ready();
    storage.append(boot.entries);
    n.advance(boot);
    n.campaign();
    const rd = n.ready();
    expect(rd.hardState).toMatchObject({ term: 2, vote: 1 });
    expect(rd.mustSync).toBe(true);
    expect(rd.messages.filter((m) => m.type === 'MsgVote').map((m) => m.to)).toEqual([2, 3]);
    n.advance(rd);
  });

  it('a commit-only change does not require fsync', () => {
    const storage = new MemoryRaftStorage();
    const n = make({ id: 2, storage });
    const boot = n.ready();
    storage.append(boot.entries);
    storage.setHardState(boot.hardState!);
    n.advance(boot);
    n.step({ type: 'MsgApp', from: 1, to: 2, term: 2, index: 3, logTerm: 1, entries: [{ index: 4, term: 2, type: 'normal', data: new Uint8Array() }], commit: 3 });
    let rd = n.ready();
    expect(rd.mustSync).toBe(true);
    storage.append(rd.entries);
    n.advance(rd);
    n.step({ type: 'MsgHeartbeat', from: 1, to: 2, term: 2, commit: 4, context: new Uint8Array() });
    rd = n.ready();
    expect(rd.hardState).toEqual({ term: 2, vote: 0, commit: 4 });
    expect(rd.mustSync).toBe(false);
    n.advance(rd);
  });

  it('refuses messages addressed to another node and invalid configuration', () => {
    const n = make();
    expect(() => n.step({ type: 'MsgHeartbeat', from: 2, to: 3, term: 1, commit: 0, context: new Uint8Array() })).toThrowError(/RAFT_MISUSE/);
    expect(() => make({ id: 0 })).toThrowError(/RAFT_INVALID_CONFIG/);
    expect(() => make({ electionTick: 1, heartbeatTick: 1 })).toThrowError(/RAFT_INVALID_CONFIG/);
    expect(() => make({ applied: 7 })).toThrowError(/RAFT_INVALID_CONFIG/);
  });

  it('an unchanged node reports no Ready and a tick without timeout produces none', () => {
    const n = make();
    n.advance(n.ready());
    n.tick();
    expect(n.hasReady()).toBe(false);
  });
});
