// Watch streams: recent events kept in a bounded ring so a watcher can resume from a log index,
// and fan-out of new events to live watchers filtered by key prefix.
//
// `firstIndex` is the first log index whose events are all still here. It starts just after the
// state the node restored from (events of earlier indexes were never produced here), moves up
// when the ring evicts, and jumps when a snapshot from the leader replaces the state. A watcher
// asking for an earlier index gets PC_WATCH_COMPACTED and must list again.

import { CodedError } from '../../common/errors.js';
import type { WatchEvent } from '../../proto/gen/placement_pb.js';

export interface WatchSink {
  event(e: WatchEvent): void;
  progress(index: number): void;
  /** The stream cannot continue (compaction under it, or the node stopping). */
  fail(err: CodedError): void;
}

interface Watcher {
  readonly prefixes: readonly string[];
  readonly sink: WatchSink;
  lastProgress: number;
}

function matches(prefixes: readonly string[], key: string): boolean {
  return prefixes.length === 0 || prefixes.some((p) => key.startsWith(p));
}

export class WatchHub {
  private ring: WatchEvent[] = [];
  private head = 0;
  private readonly capacity: number;
  private firstRetained: number;
  private applied: number;
  private readonly watchers = new Set<Watcher>();

  constructor(appliedIndex: number, capacity = 10_000) {
    this.capacity = capacity;
    this.firstRetained = appliedIndex + 1;
    this.applied = appliedIndex;
  }

  get firstIndex(): number {
    return this.firstRetained;
  }

  get watcherCount(): number {
    return this.watchers.size;
  }

  private retained(): WatchEvent[] {
    return this.ring.length < this.capacity ? this.ring : [...this.ring.slice(this.head), ...this.ring.slice(0, this.head)];
  }

  /** Events of one applied entry (possibly none); `index` is that entry's index. */
  publish(index: number, events: readonly WatchEvent[]): void {
    this.applied = index;
    for (const e of events) {
      if (this.ring.length < this.capacity) this.ring.push(e);
      else {
        this.firstRetained = this.ring[this.head]!.index + 1;
        this.ring[this.head] = e;
        this.head = (this.head + 1) % this.capacity;
      }
      for (const w of this.watchers) if (matches(w.prefixes, e.key)) w.sink.event(e);
    }
  }

  /** The state was replaced by a snapshot at `index`: nothing before it can be replayed. */
  reset(index: number): void {
    this.ring = [];
    this.head = 0;
    this.firstRetained = index + 1;
    this.applied = index;
    const err = new CodedError('PC_WATCH_COMPACTED', `state replaced by a snapshot at index ${index}; list again`, {
      details: { firstIndex: index + 1 },
    });
    for (const w of [...this.watchers]) {
      this.watchers.delete(w);
      w.sink.fail(err);
    }
  }

  /** Starts a watcher; returns its cancel function. Throws PC_WATCH_COMPACTED. */
  subscribe(fromIndex: number, prefixes: readonly string[], sink: WatchSink): () => void {
    const start = fromIndex === 0 ? this.applied + 1 : fromIndex;
    if (start < this.firstRetained) {
      throw new CodedError('PC_WATCH_COMPACTED', `index ${start} is no longer retained (first is ${this.firstRetained}); list again`, {
        details: { firstIndex: this.firstRetained },
      });
    }
    for (const e of this.retained()) if (e.index >= start && matches(prefixes, e.key)) sink.event(e);
    sink.progress(this.applied);
    const w: Watcher = { prefixes: [...prefixes], sink, lastProgress: this.applied };
    this.watchers.add(w);
    return () => void this.watchers.delete(w);
  }

  /** Tells idle watchers how far they are (called periodically). */
  sendProgress(): void {
    for (const w of this.watchers) {
      if (w.lastProgress !== this.applied) {
        w.lastProgress = this.applied;
        w.sink.progress(this.applied);
      }
    }
  }

  closeAll(err: CodedError): void {
    for (const w of [...this.watchers]) {
      this.watchers.delete(w);
      w.sink.fail(err);
    }
  }
}
