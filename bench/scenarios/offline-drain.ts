import { CpuMeter } from '../loadgen/cpu-meter.js';
import { MqttConnection } from '../loadgen/mqtt-connection.js';
import { PAYLOAD_SEQ, makePublishTemplate } from '../loadgen/publish-template.js';
import { Publisher } from '../loadgen/publisher.js';
import { SeqTracker } from '../loadgen/seq-tracker.js';
import { clientId, connectOptions, destroyAll, metric, open, round, runScenario, subscribeOne, waitForCount } from './helpers.js';
import type { BrokerTarget, ScenarioParams, ScenarioResult } from './types.js';

/**
 * Offline queue drain: a persistent session (clean session = 0) subscribes at QoS 1 and
 * disconnects; N QoS 1 messages are published and acknowledged while it is away (the broker must
 * queue them [MQTT-3.1.2-5]); the client reconnects with the same id and the clock runs until the
 * whole queue has arrived. Loss and duplicates are counted by sequence number.
 */
export function offlineDrain(target: BrokerTarget, params: ScenarioParams): Promise<ScenarioResult> {
  return runScenario('offline-drain', target, async (r) => {
    const n = params.offlineMessages;
    const topic = 'bench/offline';
    const id = clientId('drain');
    const conns: MqttConnection[] = [];
    try {
      const first = await MqttConnection.open(connectOptions(target, id, { clean: false }));
      conns.push(first);
      await subscribeOne(first, topic, 1);
      await first.disconnect();

      const pubConn = await open(target, 'drain-pub');
      conns.push(pubConn);
      const pub = new Publisher(pubConn, {
        template: makePublishTemplate(topic, 1, params.payloadSize),
        publisherIndex: 0,
        batch: 64,
        window: params.qosWindow,
        maxMessages: n,
        stamp: true,
      });
      const q0 = performance.now();
      pub.start();
      await waitForCount(() => pub.delivered, n, params.settleMs * 3, 3_000);
      const queueMs = performance.now() - q0;
      pub.stop();
      if (pub.delivered < n) r.notes.push(`only ${pub.delivered} of ${n} publishes acknowledged while the subscriber was away`);

      const tracker = new SeqTracker();
      let lastAt = 0;
      const meter = new CpuMeter(target.pid);
      meter.start();
      const t0 = performance.now();
      const again = await MqttConnection.open(
        connectOptions(target, id, { clean: false }),
        {
          onPublish: (buf, start) => {
            tracker.record(buf.readUInt32LE(start + PAYLOAD_SEQ));
            lastAt = performance.now();
          },
        },
      );
      conns.push(again);
      await waitForCount(() => tracker.unique, pub.sent, params.settleMs * 3, 2_000);
      const cpu = meter.stop();
      const complete = tracker.unique >= pub.sent;
      const ms = complete ? lastAt - t0 : null;
      r.metrics.push(
        metric('drain_ms', ms === null ? null : round(ms), 'ms', 'lower'),
        metric('drain_msg_s', ms === null ? null : Math.round((pub.sent / ms) * 1000), 'msg/s', 'higher'),
        metric('lost', tracker.missing(pub.sent), 'msgs', 'lower'),
        metric('duplicates', tracker.duplicates, 'msgs', 'lower'),
        metric('session_present', again.sessionPresent ? 1 : 0, 'bool', 'higher'),
        metric('queue_ms', round(queueMs), 'ms', 'lower'),
      );
      r.loadgenCpuPercent = round(cpu.loadgenPercent);
      r.brokerCpuPercent = cpu.brokerPercent === null ? null : round(cpu.brokerPercent);
      r.notes.push(`${n} QoS 1 messages queued for an offline persistent session; CPU is over the drain`);
      if (!complete) r.notes.push(`only ${tracker.unique} of ${pub.sent} queued messages arrived`);
    } finally {
      destroyAll(conns);
    }
  });
}
