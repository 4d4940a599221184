import { CpuMeter } from '../loadgen/cpu-meter.js';
import { Histogram } from '../loadgen/histogram.js';
import type { MqttConnection } from '../loadgen/mqtt-connection.js';
import { PAYLOAD_SENT_AT, makePublishTemplate } from '../loadgen/publish-template.js';
import { Publisher, RateClock } from '../loadgen/publisher.js';
import { destroyAll, metric, open, round, runScenario, sleep, subscribeOne, waitForCount } from './helpers.js';
import type { BrokerTarget, ScenarioParams, ScenarioResult } from './types.js';

/**
 * Latency at a fixed rate: one QoS 0 publisher at `latencyRate` msg/s, one subscriber. The send
 * time (same process, monotonic clock) is in each payload; the subscriber records now - sent in
 * nanoseconds into a log-linear histogram for messages sent inside the measured window.
 */
export function latency(target: BrokerTarget, params: ScenarioParams): Promise<ScenarioResult> {
  return runScenario('latency', target, async (r) => {
    const topic = 'bench/latency';
    const conns: MqttConnection[] = [];
    const hist = new Histogram();
    let windowStart = Infinity;
    let windowEnd = Infinity;
    let clock: RateClock | null = null;
    try {
      const sub = await open(target, 'latency-sub', {
        onPublish: (buf, start) => {
          const sentAt = buf.readDoubleLE(start + PAYLOAD_SENT_AT);
          if (sentAt >= windowStart && sentAt < windowEnd) hist.record((performance.now() - sentAt) * 1e6);
        },
      });
      conns.push(sub);
      await subscribeOne(sub, topic, 0);
      const pubConn = await open(target, 'latency-pub');
      conns.push(pubConn);
      // batch 1: each message is stamped and written as soon as it is due.
      const pub = new Publisher(pubConn, {
        template: makePublishTemplate(topic, 0, params.payloadSize),
        publisherIndex: 0,
        rate: params.latencyRate,
        batch: 1,
        stamp: true,
      });
      clock = new RateClock([pub]);
      clock.start();
      await sleep(params.warmupMs);
      const meter = new CpuMeter(target.pid);
      const sent0 = pub.sent;
      windowStart = performance.now();
      meter.start();
      await sleep(params.durationMs);
      windowEnd = performance.now();
      const cpu = meter.stop();
      const sent = pub.sent - sent0;
      clock.stop();
      clock = null;
      await waitForCount(() => hist.count, sent, Math.min(params.settleMs, 2_000), 500);

      const ms = (ns: number): number => round(ns / 1e6, 3);
      r.metrics.push(
        metric('p99_ms', ms(hist.percentile(99)), 'ms', 'lower'),
        metric('p50_ms', ms(hist.percentile(50)), 'ms', 'lower'),
        metric('p999_ms', ms(hist.percentile(99.9)), 'ms', 'lower'),
        metric('max_ms', ms(hist.max), 'ms', 'lower'),
        metric('mean_ms', ms(hist.mean), 'ms', 'lower'),
        metric('received_pct', sent === 0 ? null : round((hist.count / sent) * 100), '%', 'higher'),
      );
      r.loadgenCpuPercent = round(cpu.loadgenPercent);
      r.brokerCpuPercent = cpu.brokerPercent === null ? null : round(cpu.brokerPercent);
      r.notes.push(`${params.latencyRate} msg/s QoS 0, ${hist.count} samples`);
      if (pub.skipped > 0) r.notes.push(`${pub.skipped} messages not offered (publisher socket backed up)`);
    } finally {
      clock?.stop();
      destroyAll(conns);
    }
  });
}
