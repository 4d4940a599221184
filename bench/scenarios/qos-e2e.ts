import type { QoS } from 'mqtt-packet';
import { CpuMeter } from '../loadgen/cpu-meter.js';
import type { MqttConnection } from '../loadgen/mqtt-connection.js';
import { PAYLOAD_PUBLISHER, PAYLOAD_SEQ, makePublishTemplate } from '../loadgen/publish-template.js';
import { Publisher } from '../loadgen/publisher.js';
import { SeqTracker } from '../loadgen/seq-tracker.js';
import { destroyAll, metric, open, round, runScenario, sleep, subscribeOne, waitForCount } from './helpers.js';
import type { BrokerTarget, ScenarioParams, ScenarioResult } from './types.js';

/**
 * QoS 1 / QoS 2 end to end: publishers write flat out, each holding at most `qosWindow` messages
 * that the subscriber has not yet received (an end-to-end window, so a broker that acknowledges
 * faster than it delivers builds no unbounded backlog); one subscriber at the same QoS
 * acknowledges everything (PUBACK, or PUBREC/PUBREL/PUBCOMP). Every payload carries its
 * publisher and sequence number, so after the window closes and the stragglers settle the run
 * counts loss (sent, never received) and duplicates (received twice) exactly. QoS 2 passes its
 * exactly-once check only with both at zero [MQTT-4.3.3].
 */
export function qosE2e(qos: 1 | 2): (target: BrokerTarget, params: ScenarioParams) => Promise<ScenarioResult> {
  const name = `qos${qos}-e2e`;
  return (target, params) =>
    runScenario(name, target, async (r) => {
      const topic = `bench/${name}`;
      const conns: MqttConnection[] = [];
      const pubs: Publisher[] = [];
      const trackers = Array.from({ length: params.qosPublishers }, () => new SeqTracker());
      let foreign = 0;
      try {
        const sub = await open(target, `${name}-sub`, {
          onPublish: (buf, start) => {
            const idx = buf.readUInt32LE(start + PAYLOAD_PUBLISHER);
            const t = trackers[idx];
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
        const template = makePublishTemplate(topic, qos as QoS, params.payloadSize);
        const pubConns = await Promise.all(trackers.map(() => open(target, `${name}-pub`)));
        conns.push(...pubConns);
        pubConns.forEach((c, i) =>
          pubs.push(
            new Publisher(c, {
              template,
              publisherIndex: i,
              batch: 16,
              window: params.qosWindow,
              stamp: true,
              gate: () => params.qosWindow - (pubs[i].sent - trackers[i].unique),
            }),
          ),
        );
        for (const p of pubs) p.start();

        await sleep(params.warmupMs);
        const meter = new CpuMeter(target.pid);
        const recv0 = sub.counters.publishesIn;
        const acked0 = sum(pubs, (p) => p.delivered);
        meter.start();
        await sleep(params.durationMs);
        const cpu = meter.stop();
        const received = sub.counters.publishesIn - recv0;
        const acked = sum(pubs, (p) => p.delivered) - acked0;
        for (const p of pubs) p.stop();

        // Collect stragglers: every publish acknowledged, every message received.
        const settleUntil = performance.now() + params.settleMs;
        await Promise.all(pubs.map((p) => p.settled(params.settleMs)));
        const sent = sum(pubs, (p) => p.sent);
        await waitForCount(() => sum(trackers, (t) => t.unique), sent, Math.max(0, settleUntil - performance.now()));

        const lost = trackers.reduce((n, t, i) => n + t.missing(pubs[i].sent), 0);
        const duplicates = sum(trackers, (t) => t.duplicates);
        const unacked = sum(pubs, (p) => p.inFlight);
        r.metrics.push(
          metric('delivered_msg_s', Math.round((received / cpu.wallMs) * 1000), 'msg/s', 'higher'),
          metric('acked_msg_s', Math.round((acked / cpu.wallMs) * 1000), 'msg/s', 'info'),
          metric('lost', lost, 'msgs', 'lower'),
          metric('duplicates', duplicates, 'msgs', 'lower'),
          metric('unacked', unacked, 'msgs', 'lower'),
        );
        if (qos === 2) r.metrics.push(metric('packet_id_reuse', sub.counters.qos2IdReuse, 'msgs', 'lower'));
        if (qos === 2) r.metrics.push(metric('exactly_once', lost === 0 && duplicates === 0 ? 1 : 0, 'bool', 'higher'));
        r.loadgenCpuPercent = round(cpu.loadgenPercent);
        r.brokerCpuPercent = cpu.brokerPercent === null ? null : round(cpu.brokerPercent);
        r.notes.push(
          `${params.qosPublishers} publishers (end-to-end window ${params.qosWindow}) -> 1 subscriber; ${sent} sent in total, ` +
            `${sum(trackers, (t) => t.outOfOrder)} out of order, ${sub.counters.qos2Redeliveries} QoS 2 redeliveries (DUP) absorbed`,
        );
        if (sub.counters.qos2IdReuse > 0) {
          r.notes.push(
            `the broker sent ${sub.counters.qos2IdReuse} new QoS 2 PUBLISHes reusing a packet id still awaiting PUBREL [MQTT-2.3.1-2]; ` +
              `the subscriber withheld them as resends [MQTT-4.3.3-2], so they count as lost (PUBREL received ${sub.counters.pubrelsIn} of ${sub.counters.publishesIn} PUBLISHes)`,
          );
        }
        if (foreign > 0) r.notes.push(`${foreign} messages with an unknown publisher index`);
        if (sub.closed) r.notes.push('the subscriber was disconnected during the run');
      } finally {
        for (const p of pubs) p.stop();
        destroyAll(conns);
      }
    });
}

function sum<T>(xs: T[], f: (x: T) => number): number {
  let n = 0;
  for (const x of xs) n += f(x);
  return n;
}

export const qos1E2e = qosE2e(1);
export const qos2E2e = qosE2e(2);
