/**
 * A log-linear histogram in the style of HdrHistogram: values below 2^11 are exact, above that
 * each power of two is split into 1024 linear sub-buckets, so any recorded value is known to
 * within 1/1024 (about 0.1%). Recording is an index computation and one increment.
 */
const SUB_BITS = 10;
const SUB_COUNT = 1 << SUB_BITS; // 1024
const EXACT_LIMIT = SUB_COUNT * 2; // values < 2048 map to themselves
/** Up to 2^42 units (about 73 minutes in nanoseconds). */
const MAX_EXPONENT = 42 - SUB_BITS;

export class Histogram {
  private readonly counts = new Float64Array(EXACT_LIMIT + MAX_EXPONENT * SUB_COUNT);
  count = 0;
  min = Infinity;
  max = 0;
  private sum = 0;

  /** Records a non-negative value (rounded to an integer; values past the range are clamped). */
  record(value: number): void {
    let v = Math.round(value);
    if (!(v >= 0)) v = 0;
    const idx = Histogram.indexOf(v);
    this.counts[Math.min(idx, this.counts.length - 1)]++;
    this.count++;
    this.sum += v;
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
  }

  get mean(): number {
    return this.count === 0 ? 0 : this.sum / this.count;
  }

  /** Value at percentile p (0..100): the upper edge of the bucket holding that rank. */
  percentile(p: number): number {
    if (this.count === 0) return 0;
    if (p >= 100) return this.max;
    const rank = Math.max(1, Math.ceil((p / 100) * this.count));
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i];
      if (seen >= rank) return Math.min(Histogram.upperEdge(i), this.max);
    }
    return this.max;
  }

  static indexOf(v: number): number {
    if (v < EXACT_LIMIT) return v;
    const e = Math.floor(Math.log2(v)) - SUB_BITS;
    // v >> e without 32-bit truncation: v / 2^e lands in [1024, 2048).
    return e * SUB_COUNT + Math.floor(v / 2 ** e);
  }

  static upperEdge(index: number): number {
    if (index < EXACT_LIMIT) return index;
    const e = Math.floor(index / SUB_COUNT) - 1;
    const m = index - e * SUB_COUNT;
    return (m + 1) * 2 ** e - 1;
  }
}
