// Readers share; truncation, retention and close take it exclusively, so no read ever sees a
// file shrink or an fd close under it. A waiting exclusive holder blocks new readers (no starvation).

export class RwLock {
  private readers = 0;
  private writer = false;
  private readonly waiting: { exclusive: boolean; wake: () => void }[] = [];

  async shared<T>(fn: () => Promise<T>): Promise<T> {
    if (this.writer || this.waiting.length > 0) await new Promise<void>((wake) => this.waiting.push({ exclusive: false, wake }));
    else this.readers++;
    try {
      return await fn();
    } finally {
      this.readers--;
      this.dispatch();
    }
  }

  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    if (this.writer || this.readers > 0 || this.waiting.length > 0) await new Promise<void>((wake) => this.waiting.push({ exclusive: true, wake }));
    else this.writer = true;
    try {
      return await fn();
    } finally {
      this.writer = false;
      this.dispatch();
    }
  }

  /** Hands the lock to the next waiters; counts are taken on their behalf before they wake. */
  private dispatch(): void {
    while (this.waiting.length > 0 && !this.writer) {
      const next = this.waiting[0]!;
      if (next.exclusive) {
        if (this.readers > 0) return;
        this.waiting.shift();
        this.writer = true;
        next.wake();
        return;
      }
      this.waiting.shift();
      this.readers++;
      next.wake();
    }
  }
}
