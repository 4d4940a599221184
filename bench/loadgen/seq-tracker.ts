/**
 * Counts, per publisher, how often each sequence number arrived, so a run can report loss
 * (acknowledged but never received) and duplicates (received more than once) exactly.
 */
export class SeqTracker {
  private counts = new Uint8Array(1024);
  received = 0;
  unique = 0;
  duplicates = 0;
  /** Arrivals with a lower seq than one already seen (reordering within one publisher). */
  outOfOrder = 0;
  private highest = -1;

  record(seq: number): void {
    if (seq >= this.counts.length) {
      let size = this.counts.length * 2;
      while (size <= seq) size *= 2;
      const grown = new Uint8Array(size);
      grown.set(this.counts);
      this.counts = grown;
    }
    this.received++;
    const c = this.counts[seq];
    if (c === 0) this.unique++;
    else this.duplicates++;
    if (c < 255) this.counts[seq] = c + 1;
    if (seq < this.highest) this.outOfOrder++;
    else this.highest = seq;
  }

  /** Sequence numbers in [0, upTo) never received. */
  missing(upTo: number): number {
    let n = 0;
    const lim = Math.min(upTo, this.counts.length);
    for (let i = 0; i < lim; i++) if (this.counts[i] === 0) n++;
    return n + Math.max(0, upTo - this.counts.length);
  }
}
