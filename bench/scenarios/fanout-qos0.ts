import { CpuMeter, type CpuReading } from '../loadgen/cpu-meter.js';
import type { MqttConnection } from '../loadgen/mqtt-connection.js';
import { makePublishTemplate } from '../loadgen/publish-template.js';
import { Publisher, RateClock } from '../loadgen/publisher.js';
import { openMany } from './open-many.js';
import { destroyAll, metric, open, round, runScenario, sleep, subscribeOne, waitForCount } from './helpers.js';
import type { BrokerTarget, ScenarioParams, ScenarioResult } from './types.js';

/**
 * QoS 0 fan-out: one publisher, many subscribers on the same topic. Two phases of half the
 * duration each: a fixed offered rate (is every copy delivered?) and flat out (how many copies
 * per second can the broker deliver?). Deliveries are counted over all subscribers.
 */
export function fanoutQos0(target: BrokerTarget, params: ScenarioParams): Promise<ScenarioResult> {
  return runScenario('fanout-qos0', target, async (r) => {
    const topic = 'bench/fanout';
    const conns: MqttConnection[] = [];
    const phaseMs = Math.max(100, Math.round(params.durationMs / 2));
    let clock: RateClock | null = null;
    let flat: Publisher | null = null;
    try {
      const subs = await openMany(target, 'fanout-sub', params.fanOutSubscribers, params.connectConcurrency);
      // A cheap integrity check: every delivered payload must have the size that was published.
      let wrongSize = 0;
      for (const s of subs) {
        s.handlers.onPublish = (_buf, start, end) => {
          if (end - start !== params.payloadSize) wrongSize++;
        };
      }
      conns.push(...subs);
      await Promise.all(subs.map((s) => subscribeOne(s, topic, 0)));
      const pubConn = await open(target, 'fanout-pub');
      conns.push(pubConn);
      const template = makePublishTemplate(topic, 0, params.payloadSize);
      const deliveredNow = (): number => {
        let n = 0;
        for (const s of subs) n += s.counters.publishesIn;
        return n;
      };

      // Phase 1: fixed offered rate.
      const paced = new Publisher(pubConn, { template, publisherIndex: 0, rate: params.fanOutRate, batch: 16 });
      clock = new RateClock([paced]);
      clock.start();
      await sleep(Math.min(params.warmupMs, phaseMs));
      const fixed = await measure(target, phaseMs, deliveredNow, () => paced.sent);
      clock.stop();
      clock = null;
      const offeredCopies = fixed.sent * subs.length;
      // Let the tail of phase 1 arrive before phase 2 starts counting.
      await waitForCount(deliveredNow, paced.sent * subs.length, params.settleMs, 300);

      // Phase 2: flat out.
      flat = new Publisher(pubConn, { template, publisherIndex: 0, batch: 16 });
      const flatStart = performance.now();
      flat.start();
      await sleep(Math.min(params.warmupMs, phaseMs));
      const out = await measure(target, phaseMs, deliveredNow, () => flat?.sent ?? 0);
      // Over the whole phase: the publisher may wait out a window on 'drain' (see fanin-qos0).
      const flatWrittenPerS = (flat.sent / (performance.now() - flatStart)) * 1000;
      flat.stop();

      r.metrics.push(
        metric('flatout_delivered_msg_s', Math.round((out.delivered / out.cpu.wallMs) * 1000), 'msg/s', 'higher'),
        metric('fixed_delivered_msg_s', Math.round((fixed.delivered / fixed.cpu.wallMs) * 1000), 'msg/s', 'higher'),
        metric('fixed_offered_msg_s', Math.round((offeredCopies / fixed.cpu.wallMs) * 1000), 'msg/s', 'info'),
        metric('fixed_delivered_pct', offeredCopies === 0 ? null : round((fixed.delivered / offeredCopies) * 100), '%', 'higher'),
        metric('flatout_written_msg_s', Math.round(flatWrittenPerS), 'msg/s', 'info'),
      );
      r.loadgenCpuPercent = round(out.cpu.loadgenPercent);
      r.brokerCpuPercent = out.cpu.brokerPercent === null ? null : round(out.cpu.brokerPercent);
      r.notes.push(
        `1 publisher -> ${subs.length} subscribers; fixed phase ${params.fanOutRate} publish/s, ` +
          `CPU loadgen ${round(fixed.cpu.loadgenPercent)}% broker ${fixed.cpu.brokerPercent === null ? '?' : round(fixed.cpu.brokerPercent)}%; CPU columns are the flat-out phase`,
      );
      if (wrongSize > 0) r.notes.push(`${wrongSize} delivered payloads had the wrong size`);
      const dropped = subs.filter((s) => s.closed).length;
      if (dropped > 0) r.notes.push(`${dropped} subscribers were disconnected during the run`);
    } finally {
      clock?.stop();
      flat?.stop();
      destroyAll(conns);
    }
  });
}

async function measure(
  target: BrokerTarget,
  ms: number,
  delivered: () => number,
  sent: () => number,
): Promise<{ delivered: number; sent: number; cpu: CpuReading }> {
  const meter = new CpuMeter(target.pid);
  const d0 = delivered();
  const s0 = sent();
  meter.start();
  await sleep(ms);
  const cpu = meter.stop();
  return { delivered: delivered() - d0, sent: sent() - s0, cpu };
}
