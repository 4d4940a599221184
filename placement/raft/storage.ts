/**
 * The log store seen by the Raft core, and an in-memory implementation.
 *
 * The core only reads through this interface (initialState, entries, term, firstIndex,
 * lastIndex, snapshot). The driver writes to it while handling a Ready (append, setHardState,
 * applySnapshot) and when it compacts (createSnapshot, compact). A durable driver keeps an
 * in-memory copy like MemoryRaftStorage and writes through to disk before returning, so reads
 * stay synchronous and the core stays pure.
 */
import { RaftError } from './errors.js';
import type { ConfState, Entry, HardState, Snapshot } from './types.js';
import { EMPTY_HARD_STATE, EMPTY_SNAPSHOT } from './types.js';

export interface RaftInitialState {
  readonly hardState: HardState;
  /** The membership as of the snapshot (the core replays later conf changes from the log). */
  readonly confState: ConfState;
}

export interface RaftLogStorage {
  initialState(): RaftInitialState;
  /**
   * Entries in [lo, hi), at most maxBytes of entry data (always at least one entry).
   * Throws RaftError RAFT_COMPACTED when lo < firstIndex, RAFT_UNAVAILABLE when hi > lastIndex+1.
   */
  entries(lo: number, hi: number, maxBytes?: number): Entry[];
  /** Term of entry i; valid for firstIndex-1 <= i <= lastIndex (firstIndex-1 is the snapshot). */
  term(i: number): number;
  firstIndex(): number;
  lastIndex(): number;
  snapshot(): Snapshot;

  /** Appends entries, dropping any stored suffix they overwrite. */
  append(entries: readonly Entry[]): void;
  setHardState(hs: HardState): void;
  /** Replaces the whole log with the snapshot (received from the leader). */
  applySnapshot(snap: Snapshot): void;
  /** Records a snapshot of the state machine at `index` (<= lastIndex). */
  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Snapshot;
  /** Discards entries before `index`; index must not exceed the snapshot index. */
  compact(index: number): void;
}

export function entryBytes(e: Entry): number {
  return e.data.byteLength;
}

/** Limits `ents` to maxBytes of data, keeping at least the first entry. */
export function limitSize<T extends Entry>(ents: T[], maxBytes: number | undefined): T[] {
  if (maxBytes === undefined || ents.length <= 1) return ents;
  let size = entryBytes(ents[0]!);
  let n = 1;
  for (; n < ents.length; n++) {
    size += entryBytes(ents[n]!);
    if (size > maxBytes) break;
  }
  return n === ents.length ? ents : ents.slice(0, n);
}

export class MemoryRaftStorage implements RaftLogStorage {
  private hardState: HardState = EMPTY_HARD_STATE;
  private snap: Snapshot = EMPTY_SNAPSHOT;
  /** ents[0] is a dummy holding the index and term of the last compacted entry. */
  private ents: Entry[] = [{ term: 0, index: 0, type: 'normal', data: new Uint8Array(0) }];

  initialState(): RaftInitialState {
    return { hardState: this.hardState, confState: this.snap.metadata.confState };
  }

  hard(): HardState {
    return this.hardState;
  }

  private get offset(): number {
    return this.ents[0]!.index;
  }

  firstIndex(): number {
    return this.offset + 1;
  }

  lastIndex(): number {
    return this.offset + this.ents.length - 1;
  }

  term(i: number): number {
    const offset = this.offset;
    if (i < offset) throw new RaftError('RAFT_COMPACTED', `term(${i}) below compacted index ${offset}`);
    if (i > this.lastIndex()) throw new RaftError('RAFT_UNAVAILABLE', `term(${i}) beyond last index ${this.lastIndex()}`);
    return this.ents[i - offset]!.term;
  }

  entries(lo: number, hi: number, maxBytes?: number): Entry[] {
    const offset = this.offset;
    if (lo <= offset) throw new RaftError('RAFT_COMPACTED', `entries from ${lo} but compacted through ${offset}`);
    if (hi > this.lastIndex() + 1) throw new RaftError('RAFT_UNAVAILABLE', `entries to ${hi} beyond last index ${this.lastIndex()}`);
    if (lo >= hi) return [];
    return limitSize(this.ents.slice(lo - offset, hi - offset), maxBytes);
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  setHardState(hs: HardState): void {
    this.hardState = hs;
  }

  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = this.firstIndex();
    const last = entries[0]!.index + entries.length - 1;
    // Entries already covered by the snapshot are dropped: they are committed and identical.
    if (last < first) return;
    let ents = entries;
    if (first > ents[0]!.index) ents = ents.slice(first - ents[0]!.index);
    const at = ents[0]!.index - this.offset;
    if (at > this.ents.length) {
      throw new RaftError('RAFT_UNAVAILABLE', `append at ${ents[0]!.index} leaves a gap after ${this.lastIndex()}`);
    }
    this.ents = this.ents.slice(0, at).concat(ents);
  }

  applySnapshot(snap: Snapshot): void {
    if (snap.metadata.index < this.snap.metadata.index) {
      throw new RaftError('RAFT_SNAPSHOT_OUT_OF_DATE', `snapshot ${snap.metadata.index} older than ${this.snap.metadata.index}`);
    }
    this.snap = snap;
    this.ents = [{ term: snap.metadata.term, index: snap.metadata.index, type: 'normal', data: new Uint8Array(0) }];
  }

  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Snapshot {
    if (index <= this.snap.metadata.index) {
      throw new RaftError('RAFT_SNAPSHOT_OUT_OF_DATE', `snapshot at ${index} not after ${this.snap.metadata.index}`);
    }
    if (index > this.lastIndex()) {
      throw new RaftError('RAFT_UNAVAILABLE', `snapshot at ${index} beyond last index ${this.lastIndex()}`);
    }
    this.snap = {
      metadata: { index, term: this.term(index), confState: { voters: [...confState.voters], learners: [...confState.learners] } },
      data,
    };
    return this.snap;
  }

  compact(index: number): void {
    const offset = this.offset;
    if (index <= offset) return;
    if (index > this.snap.metadata.index) {
      // Compacting past the snapshot would leave a lagging follower with nothing to catch up from.
      throw new RaftError('RAFT_UNAVAILABLE', `compact(${index}) beyond snapshot index ${this.snap.metadata.index}`);
    }
    const dummy = this.ents[index - offset]!;
    this.ents = [{ term: dummy.term, index: dummy.index, type: 'normal', data: new Uint8Array(0) }, ...this.ents.slice(index - offset + 1)];
  }
}
