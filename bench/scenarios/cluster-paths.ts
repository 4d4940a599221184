import type { QoS } from 'mqtt-packet';
import { CpuMeter } from '../loadgen/cpu-meter.js';
import { Histogram } from '../loadgen/histogram.js';
import type { MqttConnection } from '../loadgen/mqtt-connection.js';
import { readCpuMs } from '../loadgen/proc-stats.js';
import { BenchError } from '../loadgen/errors.js';
import { MIN_PAYLOAD, PAYLOAD_PUBLISHER, PAYLOAD_SENT_AT, PAYLOAD_SEQ, makePublishTemplate, stampPayload } from '../loadgen/publish-template.js';
import { Publisher, RateClock } from '../loadgen/publisher.js';
import { SeqTracker } from '../loadgen/seq-tracker.js';
import { destroyAll, metric, open, round, runScenario, sleep, subscribeOne, waitForCount } from './helpers.js';
import type { BrokerTarget, ScenarioResult } from './types.js';

/**
 * The measurements of the cluster benchmark. Unlike the single-target scenarios (fanin-qos0,
 * qos-e2e, latency) each one has two ends: publishers connect to `publishTo`, subscribers to
 * `subscribeTo`. Pointing both at one broker gives the local path; pointing them at two brokers
 * of a cluster makes every message cross the inter-broker link once.
 */
export interface PathEnds {
  /** Label of the setup (single, cluster-local, cross). */
  name: string;
  publishTo: BrokerTarget;
  subscribeTo: BrokerTarget;
  /** Every broker process of the setup whose CPU is reported, by label. */
  brokers: Array<{ label: string; pid: number }>;
}

export interface PathParams {
  durationMs: number;
  warmupMs: number;
  payloadSize: number;
  /** Publishers in the throughput measures (the latency measures use one). */
  publishers: number;
  subscribers: number;
  /** End-to-end window per QoS 1 publisher: messages sent but not yet received by every subscriber. */
  qosWindow: number;
  /** Messages per second offered in the latency measures. */
  rate: number;
  /** Upper bound for any wait for stragglers after a window closes. */
  settleMs: number;
  /** How long the subscription may take to reach the publishers' broker (placement's route watch). */
  routeTimeoutMs: number;
}

/** A finished run: the common result plus each broker's CPU over the window. */
export interface PathResult extends ScenarioResult {
  brokerCpu: Record<string, number | null>;
  /** Each broker's admin counters after the run (GET /api/overview), when the runner read them. */
  brokerCounters?: Record<string, Record<string, number> | null>;
}

/** Publisher index of route probes; no real publisher has it. */
const PROBE = 0xffffffff;
const PROBE_EVERY_MS = 25;

let topicSeq = 0;
function uniqueTopic(kind: string): string {
  topicSeq++;
  return `bench/cluster/${kind}/${process.pid}-${topicSeq}`;
}

/** CPU of several broker processes over one window, percent of one core each. */
class BrokersCpu {
  private readonly brokers: Array<{ label: string; pid: number }>;
  private readonly start0 = new Map<string, number | null>();
  private t0 = 0;

  constructor(brokers: Array<{ label: string; pid: number }>) {
    this.brokers = brokers;
  }

  start(): void {
    this.t0 = performance.now();
    for (const b of this.brokers) this.start0.set(b.label, readCpuMs(b.pid));
  }

  stop(): Record<string, number | null> {
    const wall = Math.max(1e-3, performance.now() - this.t0);
    const out: Record<string, number | null> = {};
    for (const b of this.brokers) {
      const a = this.start0.get(b.label) ?? null;
      const z = readCpuMs(b.pid);
      out[b.label] = a === null || z === null ? null : round(((z - a) / wall) * 100);
    }
    return out;
  }
}

/**
 * Publishes QoS 0 probes from `pub` until every subscriber has seen one: in a cluster the
 * subscription reaches the publishers' broker through placement (route table + watch), and a
 * measurement started before that would count messages the cluster had nowhere to send.
 * Resolves with the milliseconds it took.
 */
async function awaitRoute(pub: MqttConnection, topic: string, probesSeen: () => boolean, timeoutMs: number): Promise<number> {
  const t = makePublishTemplate(topic, 0, MIN_PAYLOAD);
  const t0 = performance.now();
  while (!probesSeen()) {
    if (performance.now() - t0 > timeoutMs) {
      throw new BenchError('BENCH_TIMEOUT', `the subscription on ${topic} did not reach the publishers' broker within ${timeoutMs} ms (no probe arrived)`);
    }
    const buf = Buffer.from(t.bytes);
    stampPayload(buf, t, 0, 0, PROBE, performance.now());
    pub.writePublishes(buf, 1);
    await sleep(PROBE_EVERY_MS);
  }
  return performance.now() - t0;
}

function sum<T>(xs: readonly T[], f: (x: T) => number): number {
  let n = 0;
  for (const x of xs) n += f(x);
  return n;
}

function finishCpu(r: PathResult, loadgen: CpuMeter, brokers: BrokersCpu): number {
  const cpu = loadgen.stop();
  r.brokerCpu = brokers.stop();
  r.loadgenCpuPercent = round(cpu.loadgenPercent);
  const vals = Object.values(r.brokerCpu);
  r.brokerCpuPercent = vals.some((v) => v === null) ? null : round(sum(vals, (v) => v ?? 0));
  return cpu.wallMs;
}

async function runPath(scenario: string, ends: PathEnds, body: (r: PathResult) => Promise<void>): Promise<PathResult> {
  let brokerCpu: Record<string, number | null> = {};
  const r = await runScenario(scenario, { ...ends.publishTo, name: ends.name }, async (base) => {
    const pr: PathResult = Object.assign(base, { brokerCpu });
    try {
      await body(pr);
    } finally {
      brokerCpu = pr.brokerCpu;
    }
  });
  return { ...r, brokerCpu };
}

/**
 * Throughput, publishers on one end, subscribers on the other. QoS 0: publishers write flat out
 * (socket back-pressure only); the headline is what the subscribers received per second, and
 * after the publishers stop the run waits for stragglers and reports the share never delivered
 * (QoS 0 may be dropped [MQTT-4.3.1], so it is context, not a failure). QoS 1: each publisher
 * holds at most `qosWindow` messages not yet received by every subscriber; payloads carry
 * publisher and sequence number, so loss and duplicates are counted exactly after settling.
 */
export function pathThroughput(qos: 0 | 1, ends: PathEnds, p: PathParams): Promise<PathResult> {
  return runPath(`qos${qos}-throughput`, ends, async (r) => {
    const topic = uniqueTopic(`qos${qos}`);
    const conns: MqttConnection[] = [];
    const pubs: Publisher[] = [];
    // trackers[s][i]: subscriber s, publisher i (QoS 1 only).
    const trackers = Array.from({ length: p.subscribers }, () => Array.from({ length: p.publishers }, () => new SeqTracker()));
    const received = new Array<number>(p.subscribers).fill(0);
    const probes = new Array<number>(p.subscribers).fill(0);
    let foreign = 0;
    try {
      for (let s = 0; s < p.subscribers; s++) {
        const sub = await open(ends.subscribeTo, `cluster-q${qos}-sub`, {
          onPublish: (buf, start) => {
            const idx = buf.readUInt32LE(start + PAYLOAD_PUBLISHER);
            if (idx === PROBE) {
              probes[s]++;
              return;
            }
            received[s]++;
            if (qos === 0) return;
            const t = trackers[s]![idx];
            if (t === undefined) {
              foreign++;
              return;
            }
            t.record(buf.readUInt32LE(start + PAYLOAD_SEQ));
            pubs[idx]?.resume();
          },
        });
        conns.push(sub);
        const granted = await subscribeOne(sub, topic, qos as QoS);
        if (granted !== qos) r.notes.push(`broker granted QoS ${granted} for a QoS ${qos} subscription`);
      }
      const subConns = [...conns];
      const pubConns = await Promise.all(Array.from({ length: p.publishers }, () => open(ends.publishTo, `cluster-q${qos}-pub`)));
      conns.push(...pubConns);
      const routeMs = await awaitRoute(pubConns[0]!, topic, () => probes.every((n) => n > 0), p.routeTimeoutMs);

      const template = makePublishTemplate(topic, qos as QoS, p.payloadSize);
      const minUnique = (i: number): number => {
        let m = Infinity;
        for (const ts of trackers) m = Math.min(m, ts[i]!.unique);
        return m;
      };
      pubConns.forEach((c, i) =>
        pubs.push(
          qos === 0
            ? new Publisher(c, { template, publisherIndex: i, batch: 32 })
            : new Publisher(c, { template, publisherIndex: i, batch: 16, window: p.qosWindow, stamp: true, gate: () => p.qosWindow - (pubs[i]!.sent - minUnique(i)) }),
        ),
      );
      // QoS 0 publishers write the template's payload unstamped: publisher index 0, never PROBE.
      const startedAt = performance.now();
      for (const pub of pubs) pub.start();
      await sleep(p.warmupMs);

      const loadgen = new CpuMeter(null);
      const brokers = new BrokersCpu(ends.brokers);
      const recv0 = sum(received, (n) => n);
      const acked0 = sum(pubs, (x) => x.delivered);
      loadgen.start();
      brokers.start();
      await sleep(p.durationMs);
      const wallMs = finishCpu(r, loadgen, brokers);
      const inWindow = sum(received, (n) => n) - recv0;
      const acked = sum(pubs, (x) => x.delivered) - acked0;
      const writtenPerS = (sum(pubs, (x) => x.sent) / (performance.now() - startedAt)) * 1000;
      for (const pub of pubs) pub.stop();

      const settleUntil = performance.now() + p.settleMs;
      if (qos === 1) await Promise.all(pubs.map((x) => x.settled(p.settleMs)));
      const sent = sum(pubs, (x) => x.sent);
      // Quiet for 2 s: forwarded batches can be megabytes and arrive seconds apart on a busy core.
      await waitForCount(() => sum(received, (n) => n), sent * p.subscribers, Math.max(0, settleUntil - performance.now()), 2_000);

      r.metrics.push(metric('delivered_msg_s', Math.round((inWindow / wallMs) * 1000), 'msg/s', 'higher'));
      if (qos === 0) {
        const total = sum(received, (n) => n);
        r.metrics.push(
          metric('written_msg_s', Math.round(writtenPerS), 'msg/s', 'info'),
          metric('undelivered_pct', sent === 0 ? null : round(Math.max(0, 100 - (total / (sent * p.subscribers)) * 100), 2), '%', 'info'),
        );
      } else {
        const lost = sum(trackers, (ts) => ts.reduce((n, t, i) => n + t.missing(pubs[i]!.sent), 0));
        r.metrics.push(
          metric('acked_msg_s', Math.round((acked / wallMs) * 1000), 'msg/s', 'info'),
          metric('lost', lost, 'msgs', 'lower'),
          metric('duplicates', sum(trackers, (ts) => sum(ts, (t) => t.duplicates)), 'msgs', 'lower'),
          metric('unacked', sum(pubs, (x) => x.inFlight), 'msgs', 'lower'),
        );
      }
      r.metrics.push(metric('route_ms', round(routeMs), 'ms', 'info'));
      r.notes.push(
        `${p.publishers} QoS ${qos} publishers on ${ends.publishTo.name} -> ${p.subscribers} subscriber(s) on ${ends.subscribeTo.name}, ${p.payloadSize} B payload` +
          (qos === 1 ? `, end-to-end window ${p.qosWindow}; ${sent} sent, ${sum(trackers, (ts) => sum(ts, (t) => t.outOfOrder))} out of order` : `; ${sent} written`),
      );
      if (foreign > 0) r.notes.push(`${foreign} messages with an unknown publisher index`);
      const dropped = subConns.filter((c) => c.closed).length + pubConns.filter((c) => c.closed).length;
      if (dropped > 0) r.notes.push(`${dropped} connections were closed by the broker during the run`);
    } finally {
      for (const pub of pubs) pub.stop();
      destroyAll(conns);
    }
  });
}

/**
 * Latency at a fixed rate: one publisher at `rate` msg/s (QoS 0 or 1) on one end, subscribers on
 * the other. The send time (this process's monotonic clock) is in every payload; each subscriber
 * records now - sent for messages sent inside the window. QoS 1 also counts loss exactly.
 */
export function pathLatency(qos: 0 | 1, ends: PathEnds, p: PathParams): Promise<PathResult> {
  return runPath(`latency-qos${qos}`, ends, async (r) => {
    const topic = uniqueTopic(`latency-qos${qos}`);
    const conns: MqttConnection[] = [];
    const hist = new Histogram();
    const trackers = Array.from({ length: p.subscribers }, () => new SeqTracker());
    const probes = new Array<number>(p.subscribers).fill(0);
    let windowStart = Infinity;
    let windowEnd = Infinity;
    let clock: RateClock | null = null;
    try {
      for (let s = 0; s < p.subscribers; s++) {
        const sub = await open(ends.subscribeTo, `cluster-lat${qos}-sub`, {
          onPublish: (buf, start) => {
            const now = performance.now();
            if (buf.readUInt32LE(start + PAYLOAD_PUBLISHER) === PROBE) {
              probes[s]++;
              return;
            }
            trackers[s]!.record(buf.readUInt32LE(start + PAYLOAD_SEQ));
            const sentAt = buf.readDoubleLE(start + PAYLOAD_SENT_AT);
            if (sentAt >= windowStart && sentAt < windowEnd) hist.record((now - sentAt) * 1e6);
          },
        });
        conns.push(sub);
        await subscribeOne(sub, topic, qos as QoS);
      }
      const pubConn = await open(ends.publishTo, `cluster-lat${qos}-pub`);
      conns.push(pubConn);
      const routeMs = await awaitRoute(pubConn, topic, () => probes.every((n) => n > 0), p.routeTimeoutMs);
      // batch 1: each message is stamped and written as soon as it is due.
      const pub = new Publisher(pubConn, { template: makePublishTemplate(topic, qos as QoS, p.payloadSize), publisherIndex: 0, rate: p.rate, batch: 1, stamp: true });
      clock = new RateClock([pub]);
      clock.start();
      await sleep(p.warmupMs);

      const loadgen = new CpuMeter(null);
      const brokers = new BrokersCpu(ends.brokers);
      const sent0 = pub.sent;
      windowStart = performance.now();
      loadgen.start();
      brokers.start();
      await sleep(p.durationMs);
      windowEnd = performance.now();
      finishCpu(r, loadgen, brokers);
      const inWindow = pub.sent - sent0;
      clock.stop();
      clock = null;
      await waitForCount(() => hist.count, inWindow * p.subscribers, Math.min(p.settleMs, 3_000), 500);
      if (qos === 1) await pub.settled(Math.min(p.settleMs, 3_000));

      const ms = (ns: number): number => round(ns / 1e6, 3);
      r.metrics.push(
        metric('p50_ms', ms(hist.percentile(50)), 'ms', 'lower'),
        metric('p99_ms', ms(hist.percentile(99)), 'ms', 'lower'),
        metric('p999_ms', ms(hist.percentile(99.9)), 'ms', 'lower'),
        metric('max_ms', ms(hist.max), 'ms', 'lower'),
        metric('mean_ms', ms(hist.mean), 'ms', 'lower'),
        metric('received_pct', inWindow === 0 ? null : round((hist.count / (inWindow * p.subscribers)) * 100, 2), '%', 'higher'),
      );
      if (qos === 1) {
        r.metrics.push(
          metric('lost', sum(trackers, (t) => t.missing(pub.sent)), 'msgs', 'lower'),
          metric('duplicates', sum(trackers, (t) => t.duplicates), 'msgs', 'lower'),
        );
      }
      r.metrics.push(metric('route_ms', round(routeMs), 'ms', 'info'));
      r.notes.push(`${p.rate} msg/s QoS ${qos} from ${ends.publishTo.name} to ${p.subscribers} subscriber(s) on ${ends.subscribeTo.name}, ${hist.count} samples`);
      if (pub.skipped > 0) r.notes.push(`${pub.skipped} messages not offered (publisher socket backed up or window full)`);
    } finally {
      clock?.stop();
      destroyAll(conns);
    }
  });
}
