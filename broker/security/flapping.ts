// Flapping detection: a client id that connects more than `maxConnections` times within
// `windowMs` is banned for `banMs` (the caller writes the ban into the blacklist). Connect
// attempts count whatever their outcome, so a brute-force loop over passwords is banned too.

export interface FlappingOptions {
  readonly windowMs: number;
  readonly maxConnections: number;
  readonly banMs: number;
}

export interface FlappingEvent {
  readonly clientId: string;
  readonly connections: number;
  readonly firstAt: number;
  readonly bannedAt: number;
  readonly until: number;
}

const MAX_EVENTS = 1000;

export class FlappingDetector {
  /** Recent connect times per client id, oldest first, at most maxConnections + 1 of them. */
  private readonly recent = new Map<string, number[]>();
  private readonly events: FlappingEvent[] = [];

  constructor(readonly options: FlappingOptions) {}

  /** Records a connect; returns the ban when this one crosses the limit. */
  record(clientId: string, now: number): FlappingEvent | null {
    const { windowMs, maxConnections, banMs } = this.options;
    let times = this.recent.get(clientId);
    if (times === undefined) {
      times = [];
      this.recent.set(clientId, times);
    }
    while (times.length > 0 && times[0]! <= now - windowMs) times.shift();
    times.push(now);
    if (times.length <= maxConnections) return null;
    const event: FlappingEvent = { clientId, connections: times.length, firstAt: times[0]!, bannedAt: now, until: now + banMs };
    this.recent.delete(clientId);
    this.events.push(event);
    if (this.events.length > MAX_EVENTS) this.events.shift();
    return event;
  }

  /** Forgets client ids with no connect inside the window (bounded memory). */
  sweep(now: number): void {
    for (const [id, times] of this.recent) {
      if (times.length === 0 || times[times.length - 1]! <= now - this.options.windowMs) this.recent.delete(id);
    }
  }

  /** Bans of the last ban_time window, newest last. */
  list(now: number): FlappingEvent[] {
    return this.events.filter((e) => e.until > now);
  }

  get tracked(): number {
    return this.recent.size;
  }
}
