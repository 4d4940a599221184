// A replica's leader-epoch history (Kafka's leader-epoch checkpoint, KIP-101/279): the list of
// (epoch, start offset) pairs saying which leader epoch wrote which offset range of this log,
// plus the highest epoch this replica has been fenced at by an election.
//
// An entry (e, s) also claims "my log below s is a prefix of the log of epoch e's leader": a
// follower adds it only after that leader checked the follower's position at s, so an entry whose
// range is still empty is a true statement too. Elections compare (last epoch, log end offset)
// over these entries, as Raft compares (last term, last index).
//
// File `leader-epochs` in the shard directory (ShardLog ignores names it does not own), JSON,
// replaced through temp + fsync + rename + directory fsync on every change.

import fs from 'node:fs';
import path from 'node:path';
import { CodedError } from '../../common/errors.js';

export const EPOCH_FILE = 'leader-epochs';

export interface EpochEntry {
  readonly epoch: number;
  readonly startOffset: number;
}

interface EpochFile {
  version: 1;
  shardUid: string;
  fencedEpoch: number;
  entries: [number, number][];
}

export class EpochHistory {
  private constructor(
    private readonly file: string,
    readonly shardUid: string,
    private list: EpochEntry[],
    private fenced: number,
  ) {}

  /** Reads the file of `dir` (none yet: writes an empty one). Entries starting past `logEnd` are dropped. */
  static async open(dir: string, shardUid: string, logEnd: number): Promise<EpochHistory> {
    const file = path.join(dir, EPOCH_FILE);
    let state: EpochFile | null = null;
    try {
      state = JSON.parse(await fs.promises.readFile(file, 'utf8')) as EpochFile;
    } catch (e: unknown) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    const h = new EpochHistory(file, shardUid, [], 0);
    if (state !== null) {
      h.fenced = state.fencedEpoch;
      h.list = state.entries.filter(([, s]) => s <= logEnd).map(([epoch, startOffset]) => ({ epoch, startOffset }));
      if (h.list.length !== state.entries.length) await h.persist();
    } else {
      await h.persist();
    }
    return h;
  }

  /** The shard uid recorded in `dir`, or null when the directory has no epoch file. */
  static async recordedUid(dir: string): Promise<string | null> {
    try {
      return (JSON.parse(await fs.promises.readFile(path.join(dir, EPOCH_FILE), 'utf8')) as EpochFile).shardUid;
    } catch {
      return null;
    }
  }

  get entries(): readonly EpochEntry[] {
    return this.list;
  }

  get fencedEpoch(): number {
    return this.fenced;
  }

  /** Epoch of the last entry (0 for an empty history). */
  lastEpoch(): number {
    return this.list.length === 0 ? 0 : this.list[this.list.length - 1]!.epoch;
  }

  /** The epoch that wrote `offset` (or will write it, at the log end): the last entry starting at or before it. */
  epochAt(offset: number): number {
    let e = 0;
    for (const x of this.list) if (x.startOffset <= offset) e = x.epoch;
    return e;
  }

  /**
   * For a follower that last saw `epoch`: the largest epoch <= it in this history, and the offset
   * where that epoch ends here (the next entry's start, or `logEnd`). Epoch 0 = before any entry.
   */
  endOf(epoch: number, logEnd: number): { epoch: number; endOffset: number } {
    let idx = -1;
    for (let i = 0; i < this.list.length; i++) if (this.list[i]!.epoch <= epoch) idx = i;
    if (idx < 0) return { epoch: 0, endOffset: this.list.length === 0 ? logEnd : this.list[0]!.startOffset };
    const next = this.list[idx + 1];
    return { epoch: this.list[idx]!.epoch, endOffset: next === undefined ? logEnd : next.startOffset };
  }

  /** Where this history's `epoch` ends (start of the first later epoch), for truncation. */
  endOffsetFor(epoch: number, logEnd: number): number {
    const later = this.list.find((x) => x.epoch > epoch);
    return later === undefined ? logEnd : Math.min(later.startOffset, logEnd);
  }

  /** Records that `epoch` writes from `startOffset` on. Epochs only grow; the same epoch again is a no-op. */
  async assign(epoch: number, startOffset: number): Promise<void> {
    const last = this.lastEpoch();
    if (epoch === last) return;
    if (epoch < last) throw new CodedError('INTERNAL', `epoch ${epoch} assigned after epoch ${last}`);
    const prev = this.list[this.list.length - 1];
    if (prev !== undefined && startOffset < prev.startOffset) throw new CodedError('INTERNAL', `epoch ${epoch} starts at ${startOffset}, before epoch ${prev.epoch} at ${prev.startOffset}`);
    this.list = [...this.list, { epoch, startOffset }];
    await this.persist();
  }

  /** After the log was truncated to `logEnd` (keeping epochs <= maxEpoch): drops what no longer holds. */
  async truncate(logEnd: number, maxEpoch: number): Promise<void> {
    const kept = this.list.filter((x) => x.startOffset <= logEnd && x.epoch <= maxEpoch);
    if (kept.length === this.list.length) return;
    this.list = kept;
    await this.persist();
  }

  /** Raises the fence (durably). Returns the fenced epoch after the call. */
  async fence(epoch: number): Promise<number> {
    if (epoch > this.fenced) {
      this.fenced = epoch;
      await this.persist();
    }
    return this.fenced;
  }

  private async persist(): Promise<void> {
    const state: EpochFile = { version: 1, shardUid: this.shardUid, fencedEpoch: this.fenced, entries: this.list.map((x) => [x.epoch, x.startOffset]) };
    const tmp = `${this.file}.tmp`;
    const fh = await fs.promises.open(tmp, 'w');
    try {
      await fh.writeFile(JSON.stringify(state));
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.promises.rename(tmp, this.file);
    const dir = await fs.promises.open(path.dirname(this.file), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }
}
