// Ids of forwarded messages this broker routed lately, so a batch it sees again (resent after a
// broken link, or after this broker restarted between storing a batch and acknowledging it) is
// acknowledged without being routed twice: QoS 2 stays exactly once across brokers. Bounded:
// the oldest ids go first; a resend comes within seconds, long before its ids are evicted.

export class RecentIds {
  private readonly ids = new Set<string>();

  constructor(private readonly capacity: number) {}

  has(id: string): boolean {
    return this.ids.has(id);
  }

  add(id: string): void {
    if (this.ids.has(id)) return;
    this.ids.add(id);
    if (this.ids.size > this.capacity) {
      // A Set iterates in insertion order: the first id is the oldest.
      this.ids.delete(this.ids.values().next().value as string);
    }
  }

  delete(id: string): void {
    this.ids.delete(id);
  }

  get size(): number {
    return this.ids.size;
  }
}
