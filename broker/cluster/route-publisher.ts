// This broker's half of the route table: one placement Subscription object per route key this
// broker holds (client id `$broker/<id>`, so placement's route table counts it as one route of
// this broker however many clients subscribed). Changes are coalesced: only the last wanted state
// of a key is written, one write at a time, retried until placement takes it.

import type { PlacementClient } from '../../placement/client/placement-client.js';
import { ObjectKind } from '../../proto/gen/placement_pb.js';
import { subscriptionKeyPrefix } from '../../placement/state/object-keys.js';
import type { Logger } from '../../common/log.js';

export function routeClientId(brokerId: number): string {
  return `$broker/${brokerId}`;
}

export class RoutePublisher {
  /** Route key -> present (true) or absent (false) in placement, as last wanted. */
  private readonly wanted = new Map<string, boolean>();
  private readonly dirty = new Set<string>();
  private running = false;
  private closed = false;
  private idle: Array<() => void> = [];

  constructor(
    private readonly placement: PlacementClient,
    private readonly brokerId: number,
    private readonly log: Logger,
  ) {}

  /** Makes placement hold exactly `keys` for this broker (start-up, and after a re-registration). */
  async reconcile(keys: readonly string[]): Promise<void> {
    const listed = await this.placement.listObjects(ObjectKind.SUBSCRIPTION, subscriptionKeyPrefix(routeClientId(this.brokerId)));
    const have = new Set<string>();
    for (const o of listed.objects) if (o.object?.object.case === 'subscription') have.add(o.object.object.value.filter);
    for (const k of keys) if (!have.has(k)) this.set(k, true);
    const want = new Set(keys);
    for (const k of have) if (!want.has(k) && !this.wanted.get(k)) this.set(k, false);
    await this.flushed();
  }

  set(routeKey: string, present: boolean): void {
    this.wanted.set(routeKey, present);
    this.dirty.add(routeKey);
    if (!this.running) void this.run();
  }

  /** Resolves once every change so far is in placement. */
  flushed(): Promise<void> {
    if (!this.running && this.dirty.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  close(): void {
    this.closed = true;
    for (const w of this.idle.splice(0)) w();
  }

  private async run(): Promise<void> {
    this.running = true;
    let backoff = 50;
    while (!this.closed && this.dirty.size > 0) {
      const key = this.dirty.values().next().value as string;
      this.dirty.delete(key);
      const present = this.wanted.get(key)!;
      const object = {
        case: 'subscription' as const,
        value: { clientId: routeClientId(this.brokerId), filter: key, brokerId: this.brokerId },
      };
      try {
        if (present) await this.placement.putObject(object);
        else await this.placement.deleteObject(object);
        if (!this.dirty.has(key) && this.wanted.get(key) === false) this.wanted.delete(key);
        backoff = 50;
      } catch (err: unknown) {
        if (this.closed) break;
        if (!this.dirty.has(key)) this.dirty.add(key);
        this.log.warn('route update failed; retrying', { route: key, error: err instanceof Error ? err.message : String(err) });
        await new Promise((r) => setTimeout(r, backoff));
        backoff = Math.min(backoff * 2, 2000);
      }
    }
    this.running = false;
    for (const w of this.idle.splice(0)) w();
  }
}
