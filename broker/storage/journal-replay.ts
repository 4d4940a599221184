// Rebuilds the storage state from one generation shard's records, in log order (README.md,
// "journal"). Pure: no I/O, fed one record at a time, so the rules are tested without a journal.
//
// A generation is: the parts of a snapshot, then groups of batches (first the ones copied from
// the previous generation while the snapshot was written), the live marker, then more groups.
// It counts only if its live marker is there; before that it is an interrupted rotation.
//
// Group sequence numbers follow each other. A group whose write failed without a definite
// answer may still have landed; the writer then reuses its sequence number for the next group,
// so a group with the same number as the previous one replaces it (undo, then apply).

import { decodeBatches, decodeSnapshot } from './s3-codec.js';
import { StorageState, type Undo } from './s3-state.js';
import { decodeRecord, type DecodedRecord } from './journal-records.js';

export class CorruptGeneration extends Error {
  constructor(
    readonly offset: number,
    reason: string,
  ) {
    super(`record at offset ${offset}: ${reason}`);
    this.name = 'CorruptGeneration';
  }
}

interface Pending {
  kind: 'batch' | 'snapshot';
  seq: number;
  parts: number;
  chunks: Buffer[];
}

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export class GenerationReplay {
  readonly state = new StorageState();
  /** Sequence of the last group applied (or included in the snapshot). */
  seq = 0;
  snapshotDone = false;
  live = false;
  /** Size of the snapshot, and bytes of group bodies after it (what the next rotation weighs). */
  snapshotBytes = 0;
  bytesAfterSnapshot = 0;
  private pending: Pending | null = null;
  private lastUndo: Undo | null = null;

  constructor(private readonly name: string) {}

  feed(offset: number, value: Uint8Array): void {
    let r: DecodedRecord;
    try {
      r = decodeRecord(value);
    } catch (e: unknown) {
      throw new CorruptGeneration(offset, describe(e));
    }
    if (r.kind === 'live') {
      if (!this.snapshotDone) throw new CorruptGeneration(offset, 'live marker before the snapshot is complete');
      if (r.seq !== this.seq) throw new CorruptGeneration(offset, `live marker after group ${r.seq}, but the last group is ${this.seq}`);
      // A group cut short before the marker can never be completed.
      this.pending = null;
      this.live = true;
      return;
    }
    if (r.kind === 'snapshot' && this.snapshotDone) throw new CorruptGeneration(offset, 'a second snapshot in one generation');
    if (r.kind === 'batch' && !this.snapshotDone) throw new CorruptGeneration(offset, 'a batch group before the snapshot is complete');
    if (r.part === 0) {
      // A new body; parts of an earlier one that never got its last part are dropped.
      if (r.kind === 'snapshot' && this.pending !== null) throw new CorruptGeneration(offset, 'a snapshot restarted');
      this.pending = { kind: r.kind, seq: r.seq, parts: r.parts, chunks: [] };
    } else {
      const p = this.pending;
      if (p === null || p.kind !== r.kind || p.seq !== r.seq || p.parts !== r.parts || p.chunks.length !== r.part) {
        throw new CorruptGeneration(offset, `part ${r.part} of ${r.parts} of ${r.kind} ${r.seq} does not follow the parts before it`);
      }
    }
    const p = this.pending!;
    p.chunks.push(r.chunk);
    if (p.chunks.length < p.parts) return;
    this.pending = null;
    const body = p.chunks.length === 1 ? p.chunks[0]! : Buffer.concat(p.chunks);
    if (p.kind === 'snapshot') this.loadSnapshot(offset, p.seq, body);
    else this.applyGroup(offset, p.seq, body);
  }

  private loadSnapshot(offset: number, seq: number, body: Buffer): void {
    try {
      decodeSnapshot(seq, body, `${this.name} snapshot`, this.state);
    } catch (e: unknown) {
      throw new CorruptGeneration(offset, describe(e));
    }
    this.seq = seq;
    this.snapshotDone = true;
    this.snapshotBytes = body.length;
  }

  private applyGroup(offset: number, seq: number, body: Buffer): void {
    if (seq === this.seq && this.lastUndo !== null) {
      // The previous group's write had no definite answer and the writer reused its number.
      this.lastUndo();
      this.lastUndo = null;
    } else if (seq !== this.seq + 1) {
      throw new CorruptGeneration(offset, `group ${seq} after group ${this.seq} (one writer per shard prefix?)`);
    }
    let batches;
    try {
      batches = decodeBatches(seq, body, `${this.name} group ${seq}`);
    } catch (e: unknown) {
      throw new CorruptGeneration(offset, describe(e));
    }
    const undos: Undo[] = [];
    try {
      for (const ops of batches) undos.push(this.state.apply(ops));
    } catch (e: unknown) {
      for (let i = undos.length - 1; i >= 0; i--) undos[i]!();
      throw new CorruptGeneration(offset, `group ${seq} does not apply to the state before it: ${describe(e)}`);
    }
    this.lastUndo = () => {
      for (let i = undos.length - 1; i >= 0; i--) undos[i]!();
    };
    this.seq = seq;
    this.bytesAfterSnapshot += body.length;
  }
}
