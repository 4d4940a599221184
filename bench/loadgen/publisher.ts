import type { MqttConnection } from './mqtt-connection.js';
import { repeatTemplate, stampPayload, type PublishTemplate } from './publish-template.js';

/** Writes per publisher before it yields to the event loop, so subscribers in the same process get read. */
const WRITES_PER_TURN = 4;
/** A rate-driven publisher stops offering while this much is queued in user space. */
const RATE_MODE_MAX_QUEUED_BYTES = 8 * 1024 * 1024;

export interface PublisherOptions {
  template: PublishTemplate;
  /** Written into each payload so receivers can tell publishers apart. */
  publisherIndex: number;
  /** Messages per socket write (pipelining). */
  batch?: number;
  /** QoS 1/2: most messages without PUBACK/PUBCOMP; Infinity = unbounded pipelining. */
  window?: number;
  /** Messages per second; undefined = flat out. */
  rate?: number;
  /** Stop after this many messages. */
  maxMessages?: number;
  /** Write seq/publisher/send time into every payload (costs a copy per message). */
  stamp?: boolean;
  /**
   * End-to-end flow control: how many more messages may be sent now (e.g. a window minus the
   * messages sent but not yet received by the subscriber). Call `resume()` when it grows.
   */
  gate?: () => number;
}

/**
 * Drives one connection's publishes. Flat out it writes pre-built batches until the socket
 * pushes back, then waits for 'drain'; with a rate it is driven by a shared `RateClock`. At QoS 1/2
 * it patches a fresh packet id into each copy and tracks the in-flight window in a bitmap.
 * No promise or closure is created per message.
 */
export class Publisher {
  readonly conn: MqttConnection;
  sent = 0;
  delivered = 0;
  /** Messages a rate-driven publisher could not offer because the socket stayed backed up. */
  skipped = 0;
  /** performance.now() of the last PUBACK/PUBCOMP. */
  lastDeliveredAt = 0;

  private readonly t: PublishTemplate;
  private readonly index: number;
  private readonly batch: number;
  private readonly window: number;
  private readonly max: number;
  private readonly stamp: boolean;
  private readonly rate: number | undefined;
  private readonly gate: (() => number) | undefined;
  private readonly constant: Buffer | null;
  private readonly inflightIds: Uint8Array | null;
  private inflight = 0;
  private nextId = 1;
  private running = false;
  private scheduled = false;
  private waitingDrain = false;
  private startedAt = 0;
  private onIdle: (() => void) | null = null;

  constructor(conn: MqttConnection, opts: PublisherOptions) {
    this.conn = conn;
    this.t = opts.template;
    this.index = opts.publisherIndex;
    this.batch = Math.max(1, opts.batch ?? 64);
    this.window = opts.template.qos === 0 ? Infinity : (opts.window ?? 1000);
    this.max = opts.maxMessages ?? Infinity;
    this.stamp = opts.stamp ?? false;
    this.rate = opts.rate;
    this.gate = opts.gate;
    this.constant = !this.stamp && opts.template.qos === 0 ? repeatTemplate(opts.template, this.batch) : null;
    this.inflightIds = opts.template.qos > 0 ? new Uint8Array(65536) : null;
    const prev = conn.handlers.onDelivered;
    conn.handlers.onDelivered = (id: number) => {
      this.acked(id);
      prev?.(id);
    };
    conn.socket.on('drain', () => {
      if (!this.waitingDrain) return;
      this.waitingDrain = false;
      this.schedule();
    });
  }

  get inFlight(): number {
    return this.inflight;
  }

  get done(): boolean {
    return this.sent >= this.max;
  }

  start(now = performance.now()): void {
    this.running = true;
    this.startedAt = now;
    if (this.rate === undefined) this.schedule();
  }

  stop(): void {
    this.running = false;
  }

  /** Re-arms a flat-out publisher held back by its gate; cheap enough to call per message. */
  resume(): void {
    if (this.rate === undefined && !this.waitingDrain) this.schedule();
  }

  /** Resolves once every message sent has been acknowledged (QoS > 0) or at once (QoS 0). */
  async settled(deadlineMs: number): Promise<boolean> {
    const until = performance.now() + deadlineMs;
    while (this.inflight > 0 && !this.conn.closed && performance.now() < until) {
      await new Promise<void>((resolve) => {
        this.onIdle = resolve;
        setTimeout(resolve, 20);
      });
      this.onIdle = null;
    }
    return this.inflight === 0;
  }

  /** Called by RateClock: offers what the rate allows by `now`. */
  tick(now: number): void {
    if (!this.running || this.rate === undefined || this.conn.closed) return;
    const due = Math.min(Math.floor(((now - this.startedAt) * this.rate) / 1000), this.max) - this.sent - this.skipped;
    if (due <= 0) return;
    if (this.conn.socket.writableLength > RATE_MODE_MAX_QUEUED_BYTES) {
      this.skipped += due;
      return;
    }
    let left = due;
    while (left > 0) {
      const n = this.room(Math.min(left, this.batch));
      if (n === 0) {
        // Window full or ids exhausted: these messages were not offered.
        this.skipped += left;
        return;
      }
      this.conn.writePublishes(this.build(n), n);
      this.sent += n;
      left -= n;
    }
  }

  private schedule(): void {
    if (this.scheduled || !this.running) return;
    this.scheduled = true;
    setImmediate(() => this.pump());
  }

  private pump(): void {
    this.scheduled = false;
    if (!this.running || this.conn.closed) return;
    for (let w = 0; w < WRITES_PER_TURN; w++) {
      const n = this.room(this.batch);
      if (n === 0) return; // resumed by an ack, or finished
      const buf = n === this.batch && this.constant !== null ? this.constant : this.build(n);
      this.sent += n;
      if (!this.conn.writePublishes(buf, n)) {
        this.waitingDrain = true;
        return;
      }
    }
    this.schedule();
  }

  /** How many of `want` messages may go now (window, packet ids and the message limit). */
  private room(want: number): number {
    let n = Math.min(want, this.max - this.sent);
    if (this.gate !== undefined) n = Math.min(n, Math.floor(this.gate()));
    if (this.inflightIds !== null) {
      n = Math.min(n, this.window - this.inflight);
      // Ids are taken in order; stop at one still in flight (a long-unacknowledged message).
      let id = this.nextId;
      for (let i = 0; i < n; i++) {
        if (this.inflightIds[id] !== 0) return i;
        id = id === 65535 ? 1 : id + 1;
      }
    }
    return n > 0 ? n : 0;
  }

  /** Copies of the template for the next `n` messages; the caller adds them to `sent`. */
  private build(n: number): Buffer {
    const t = this.t;
    const size = t.bytes.length;
    const out = Buffer.allocUnsafe(size * n);
    const now = this.stamp ? performance.now() : 0;
    for (let i = 0; i < n; i++) {
      const base = i * size;
      t.bytes.copy(out, base);
      if (this.inflightIds !== null) {
        const id = this.nextId;
        out.writeUInt16BE(id, base + t.packetIdOffset);
        this.inflightIds[id] = 1;
        this.inflight++;
        this.nextId = id === 65535 ? 1 : id + 1;
      }
      if (this.stamp) stampPayload(out, t, base, this.sent + i, this.index, now);
    }
    return out;
  }

  private acked(id: number): void {
    const ids = this.inflightIds;
    if (ids === null || ids[id] === 0) return;
    ids[id] = 0;
    this.inflight--;
    this.delivered++;
    this.lastDeliveredAt = performance.now();
    if (this.inflight === 0 && this.onIdle !== null) this.onIdle();
    if (this.rate === undefined && !this.waitingDrain) this.schedule();
  }
}

/** One 1 ms timer that drives every rate-limited publisher (token-bucket style catch-up). */
export class RateClock {
  private readonly pubs: Publisher[];
  private timer: NodeJS.Timeout | null = null;

  constructor(pubs: Publisher[]) {
    this.pubs = pubs;
  }

  start(): void {
    const now = performance.now();
    for (const p of this.pubs) p.start(now);
    this.timer = setInterval(() => {
      const t = performance.now();
      for (const p of this.pubs) p.tick(t);
    }, 1);
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    for (const p of this.pubs) p.stop();
  }
}
