// A token bucket: `rate` tokens a second, at most `burst` saved up. Time is passed in, so tests
// and callers that already read the clock pay nothing extra.

export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    readonly rate: number,
    readonly burst: number,
    now: number,
  ) {
    this.tokens = burst;
    this.last = now;
  }

  /** Takes one token; false when the bucket is empty. */
  take(now: number): boolean {
    if (now > this.last) {
      const t = this.tokens + ((now - this.last) * this.rate) / 1000;
      this.tokens = t > this.burst ? this.burst : t;
      this.last = now;
    }
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/** A bucket for `rate` per second (0 = no limit: null), burst 0 meaning "the rate". */
export function bucketFor(rate: number, burst: number, now: number): TokenBucket | null {
  if (rate <= 0) return null;
  return new TokenBucket(rate, burst > 0 ? burst : rate, now);
}
