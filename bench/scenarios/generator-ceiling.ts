import { CpuMeter, type CpuReading } from '../loadgen/cpu-meter.js';
import type { MqttConnection } from '../loadgen/mqtt-connection.js';
import { makePublishTemplate } from '../loadgen/publish-template.js';
import { Publisher } from '../loadgen/publisher.js';
import { FLOOD_TOPIC } from '../brokers/null-sink.js';
import { destroyAll, metric, open, round, runScenario, sleep, subscribeOne } from './helpers.js';
import type { BrokerTarget, ScenarioParams, ScenarioResult } from './types.js';

/**
 * The generator's own ceiling, measured against the null sink (which discards everything):
 * QoS 0 publish rate with the fan-in shape, QoS 1 publish-and-ack rate with the QoS 1 shape, and
 * the receive rate of one subscriber the sink floods. Each is a third of the duration. These
 * numbers should be several times what any broker delivers, or broker results are generator-bound.
 */
export function generatorCeiling(target: BrokerTarget, params: ScenarioParams): Promise<ScenarioResult> {
  return runScenario('generator-ceiling', target, async (r) => {
    const phaseMs = Math.max(100, Math.round(params.durationMs / 3));
    const warm = Math.min(params.warmupMs, phaseMs);
    const conns: MqttConnection[] = [];
    try {
      // QoS 0 fan-in shape.
      const q0 = await phase(target, params, conns, 0, params.fanInPublishers, phaseMs, warm, (ps) => sum(ps, (p) => p.sent));
      // QoS 1 shape: publishes acknowledged by the sink.
      const q1 = await phase(target, params, conns, 1, params.qosPublishers, phaseMs, warm, (ps) => sum(ps, (p) => p.delivered));
      // Receive side: the sink floods one subscriber.
      const sub = await open(target, 'ceiling-sub');
      conns.push(sub);
      await subscribeOne(sub, FLOOD_TOPIC, 0);
      await sleep(warm);
      const meter = new CpuMeter(target.pid);
      const r0 = sub.counters.publishesIn;
      meter.start();
      await sleep(phaseMs);
      const rx = meter.stop();
      const received = sub.counters.publishesIn - r0;
      sub.destroy();

      r.metrics.push(
        metric('publish_qos0_msg_s', rate(q0.count, q0.cpu), 'msg/s', 'higher'),
        metric('publish_qos1_msg_s', rate(q1.count, q1.cpu), 'msg/s', 'higher'),
        metric('receive_msg_s', rate(received, rx), 'msg/s', 'higher'),
      );
      r.loadgenCpuPercent = round(q0.cpu.loadgenPercent);
      r.brokerCpuPercent = q0.cpu.brokerPercent === null ? null : round(q0.cpu.brokerPercent);
      r.notes.push(
        `CPU loadgen/sink: qos0 ${cpuText(q0.cpu)}, qos1 ${cpuText(q1.cpu)}, receive ${cpuText(rx)}; CPU columns are the QoS 0 phase`,
      );
      if (target.name !== 'sink') r.notes.push(`run against ${target.name}, not the null sink: these are that broker's numbers`);
    } finally {
      destroyAll(conns);
    }
  });
}

async function phase(
  target: BrokerTarget,
  params: ScenarioParams,
  conns: MqttConnection[],
  qos: 0 | 1,
  publishers: number,
  ms: number,
  warm: number,
  count: (ps: Publisher[]) => number,
): Promise<{ count: number; cpu: CpuReading }> {
  const template = makePublishTemplate(`bench/ceiling/${qos}`, qos, params.payloadSize);
  const cs = await Promise.all(Array.from({ length: publishers }, () => open(target, `ceiling-pub${qos}`)));
  conns.push(...cs);
  const pubs = cs.map((c, i) => new Publisher(c, { template, publisherIndex: i, batch: 32, window: params.qosWindow }));
  for (const p of pubs) p.start();
  await sleep(warm);
  const meter = new CpuMeter(target.pid);
  const c0 = count(pubs);
  meter.start();
  await sleep(ms);
  const cpu = meter.stop();
  const n = count(pubs) - c0;
  for (const p of pubs) p.stop();
  for (const c of cs) c.destroy();
  return { count: n, cpu };
}

function sum(ps: Publisher[], f: (p: Publisher) => number): number {
  let n = 0;
  for (const p of ps) n += f(p);
  return n;
}

function rate(n: number, cpu: CpuReading): number {
  return Math.round((n / cpu.wallMs) * 1000);
}

function cpuText(c: CpuReading): string {
  return `${round(c.loadgenPercent)}%/${c.brokerPercent === null ? '?' : round(c.brokerPercent)}%`;
}
