// This broker in placement: registered as a node of kind broker (its address is the inter-broker
// link endpoint on grpc_port), heartbeats well within the heartbeat timeout (registering again
// when placement forgot it, e.g. after marking it dead during a partition), and one watch stream
// over `node/broker/` and `route/` that keeps the other brokers' liveness, addresses and routes
// current. The watch starts before the lists are read; events that arrive meanwhile are applied
// after the lists, in order, so every key ends at its latest value.

import { CodedError } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import type { PlacementClient, PlacementWatch } from '../../placement/client/placement-client.js';
import { EventType, NodeKind, NodeStatus, type ClusterNode, type WatchEvent } from '../../proto/gen/placement_pb.js';

export interface MembershipEvents {
  /** A broker is alive at `address` (or its incarnation/address changed). */
  brokerAlive(id: number, address: string, incarnation: number): void;
  /** A broker was marked dead or unregistered. */
  brokerDead(id: number): void;
  /** The brokers holding `routeKey` (empty: none). */
  route(routeKey: string, brokers: number[]): void;
  /**
   * No heartbeat confirmed for a whole heartbeat timeout: placement may already count this broker
   * dead and another broker may be taking its sessions over, so this one must stop serving.
   */
  fenced(): void;
  /** A heartbeat (or a new registration) went through again after `fenced`. */
  rejoined(): void;
}

export interface MembershipOptions {
  brokerId: number;
  /** host:port of this broker's link endpoint, as the others dial it. */
  address: string;
  heartbeatTimeoutMs: number;
}

export class Membership {
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private incarnation = 0;
  private watch: PlacementWatch | null = null;
  private closed = false;
  private watching: Promise<void> | null = null;
  /** When the last heartbeat placement confirmed was sent: the liveness placement last saw. */
  private confirmedAt = 0;
  private fenceTimer: NodeJS.Timeout | null = null;
  fenced = false;

  constructor(
    private readonly placement: PlacementClient,
    private readonly options: MembershipOptions,
    private readonly events: MembershipEvents,
    private readonly log: Logger,
  ) {}

  /** Registers, reads the brokers and routes, and keeps them current. */
  async start(): Promise<void> {
    await this.register();
    const ready = this.startWatch();
    this.scheduleHeartbeat();
    this.fenceTimer = setInterval(() => this.checkFence(), Math.max(25, Math.floor(this.options.heartbeatTimeoutMs / 8)));
    this.fenceTimer.unref();
    await ready;
  }

  /**
   * Placement counts a broker dead `heartbeatTimeoutMs` after the last heartbeat it received;
   * counting from when the last confirmed heartbeat was *sent* makes this broker fence itself no
   * later than that (the adopting broker waits a grace period on top for clock-rate drift).
   */
  private checkFence(): void {
    if (this.closed || this.fenced) return;
    if (Date.now() - this.confirmedAt <= this.options.heartbeatTimeoutMs) return;
    this.fenced = true;
    this.log.warn('no heartbeat confirmed by placement for a whole heartbeat timeout: fencing this broker', { timeoutMs: this.options.heartbeatTimeoutMs });
    this.events.fenced();
  }

  private confirmed(sentAt: number): void {
    if (sentAt > this.confirmedAt) this.confirmedAt = sentAt;
    if (this.fenced && Date.now() - this.confirmedAt <= this.options.heartbeatTimeoutMs) {
      this.fenced = false;
      this.log.info('placement confirms this broker again');
      this.events.rejoined();
    }
  }

  async close(unregister: boolean): Promise<void> {
    this.closed = true;
    if (this.heartbeatTimer) clearTimeout(this.heartbeatTimer);
    if (this.fenceTimer) clearInterval(this.fenceTimer);
    this.watch?.close();
    await this.watching?.catch(() => undefined);
    if (unregister) await this.placement.unregisterNode(NodeKind.BROKER, this.options.brokerId).catch(() => undefined);
  }

  private async register(): Promise<void> {
    const sentAt = Date.now();
    const r = await this.placement.registerNode({
      kind: NodeKind.BROKER, nodeId: this.options.brokerId, address: this.options.address,
      heartbeatTimeoutMs: this.options.heartbeatTimeoutMs,
    });
    this.incarnation = r.node?.incarnation ?? 0;
    this.confirmed(sentAt);
  }

  private scheduleHeartbeat(): void {
    if (this.closed) return;
    this.heartbeatTimer = setTimeout(() => void this.beat(), Math.max(50, Math.floor(this.options.heartbeatTimeoutMs / 4)));
    this.heartbeatTimer.unref();
  }

  private async beat(): Promise<void> {
    const sentAt = Date.now();
    try {
      await this.placement.heartbeat(NodeKind.BROKER, this.options.brokerId, this.incarnation);
      this.confirmed(sentAt);
    } catch (err: unknown) {
      if (this.closed) return;
      if (err instanceof CodedError && err.code === 'PC_NODE_NOT_REGISTERED') {
        this.log.warn('placement no longer knows this broker; registering again');
        await this.register().catch((e: unknown) => this.log.warn('registration failed', { error: String(e) }));
      } else {
        this.log.debug('heartbeat failed', { error: err instanceof Error ? err.message : String(err) });
      }
    }
    this.scheduleHeartbeat();
  }

  /** Resolves once the first lists are applied; then follows the watch until closed. */
  private startWatch(): Promise<void> {
    return new Promise<void>((ready, fail) => {
      let first = true;
      const loop = async (): Promise<void> => {
        while (!this.closed) {
          const buffered: WatchEvent[] = [];
          let listed = false;
          const w = this.placement.watch({ prefixes: ['node/broker/', 'route/'] });
          this.watch = w;
          const consume = (async () => {
            for await (const msg of w) {
              if (msg.message.case !== 'event') continue;
              if (listed) this.apply(msg.message.value);
              else buffered.push(msg.message.value);
            }
          })();
          try {
            const [nodes, routes] = await Promise.all([this.placement.listNodes(NodeKind.BROKER), this.placement.listRoutes()]);
            for (const n of nodes) this.applyNode(n);
            for (const r of routes) this.events.route(r.filter, r.brokers.map((b) => b.brokerId));
            listed = true;
            for (const e of buffered.splice(0)) this.apply(e);
            if (first) {
              first = false;
              ready();
            }
            await consume;
          } catch (err: unknown) {
            w.close();
            await consume.catch(() => undefined);
            if (this.closed) break;
            if (first) {
              first = false;
              fail(err);
              return;
            }
            this.log.warn('placement watch broke; listing again', { error: err instanceof Error ? err.message : String(err) });
            await new Promise((r) => setTimeout(r, 200));
          }
          if (!this.closed) await consume.catch(() => undefined);
        }
      };
      this.watching = loop();
    });
  }

  private apply(e: WatchEvent): void {
    const v = e.value?.value;
    if (v?.case === 'node') {
      if (e.type === EventType.DELETE) this.events.brokerDead(v.value.nodeId);
      else this.applyNode(v.value);
    } else if (v?.case === 'route') {
      const filter = e.key.slice('route/'.length);
      this.events.route(filter, e.type === EventType.DELETE ? [] : v.value.brokers.map((b) => b.brokerId));
    }
  }

  private applyNode(n: ClusterNode): void {
    if (n.kind !== NodeKind.BROKER) return;
    if (n.status === NodeStatus.ALIVE) this.events.brokerAlive(n.nodeId, n.address, n.incarnation);
    else this.events.brokerDead(n.nodeId);
  }
}
