import { CpuMeter } from '../loadgen/cpu-meter.js';
import type { MqttConnection } from '../loadgen/mqtt-connection.js';
import { makePublishTemplate } from '../loadgen/publish-template.js';
import { Publisher } from '../loadgen/publisher.js';
import { destroyAll, metric, open, round, runScenario, sleep, subscribeOne } from './helpers.js';
import type { BrokerTarget, ScenarioParams, ScenarioResult } from './types.js';

/**
 * QoS 0 fan-in: N publishers write flat out to one topic, one subscriber reads it. The headline
 * is what the subscriber received per second; what the publishers wrote is reported beside it.
 */
export function faninQos0(target: BrokerTarget, params: ScenarioParams): Promise<ScenarioResult> {
  return runScenario('fanin-qos0', target, async (r) => {
    const topic = 'bench/fanin';
    const conns: MqttConnection[] = [];
    const pubs: Publisher[] = [];
    try {
      // A cheap integrity check: every delivered payload must have the size that was published.
      let wrongSize = 0;
      const sub = await open(target, 'fanin-sub', {
        onPublish: (_buf, start, end) => {
          if (end - start !== params.payloadSize) wrongSize++;
        },
      });
      conns.push(sub);
      await subscribeOne(sub, topic, 0);
      const template = makePublishTemplate(topic, 0, params.payloadSize);
      const pubConns = await Promise.all(Array.from({ length: params.fanInPublishers }, () => open(target, 'fanin-pub')));
      conns.push(...pubConns);
      pubConns.forEach((c, i) => pubs.push(new Publisher(c, { template, publisherIndex: i, batch: 32 })));
      const startedAt = performance.now();
      for (const p of pubs) p.start();

      await sleep(params.warmupMs);
      const meter = new CpuMeter(target.pid);
      const recv0 = sub.counters.publishesIn;
      meter.start();
      await sleep(params.durationMs);
      const cpu = meter.stop();
      const received = sub.counters.publishesIn - recv0;
      // Over the whole run, not the window: loopback socket buffers hold megabytes, so a
      // publisher can sit a whole window waiting for 'drain' while the broker works through them.
      const writtenPerS = (sumSent(pubs) / (performance.now() - startedAt)) * 1000;
      for (const p of pubs) p.stop();

      const delivered = (received / cpu.wallMs) * 1000;
      r.metrics.push(
        metric('delivered_msg_s', Math.round(delivered), 'msg/s', 'higher'),
        // What the publishers got into their sockets: above `delivered`, a backlog grew in
        // kernel buffers or in the broker's memory.
        metric('written_msg_s', Math.round(writtenPerS), 'msg/s', 'info'),
      );
      r.loadgenCpuPercent = round(cpu.loadgenPercent);
      r.brokerCpuPercent = cpu.brokerPercent === null ? null : round(cpu.brokerPercent);
      r.notes.push(`${params.fanInPublishers} publishers -> 1 subscriber, ${params.payloadSize} B payload`);
      if (sub.closed) r.notes.push('the subscriber was disconnected during the run');
      if (wrongSize > 0) r.notes.push(`${wrongSize} delivered payloads had the wrong size`);
      const dropped = pubConns.filter((c) => c.closed).length;
      if (dropped > 0) r.notes.push(`${dropped} publishers were disconnected during the run`);
    } finally {
      for (const p of pubs) p.stop();
      destroyAll(conns);
    }
  });
}

function sumSent(pubs: Publisher[]): number {
  let n = 0;
  for (const p of pubs) n += p.sent;
  return n;
}
