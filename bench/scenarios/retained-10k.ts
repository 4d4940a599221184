import mqttPacket from 'mqtt-packet';
import { CpuMeter } from '../loadgen/cpu-meter.js';
import type { MqttConnection } from '../loadgen/mqtt-connection.js';
import { MIN_PAYLOAD, PAYLOAD_PUBLISHER, PAYLOAD_SEQ } from '../loadgen/publish-template.js';
import { SeqTracker } from '../loadgen/seq-tracker.js';
import { destroyAll, metric, open, round, runScenario, subscribeOne, waitFor, waitForCount } from './helpers.js';
import type { BrokerTarget, ScenarioParams, ScenarioResult } from './types.js';

/** Marks payloads of this scenario so the subscriber ignores anything else on the broker. */
const RETAINED_MARK = 0x5e7a1;
/**
 * Every retained topic is `bench/retained/<i>`. A multi-level wildcard under `bench/` rather than
 * a bare `#`: a client that an ACL confines to `bench/#` (the ours-auth target) may subscribe to
 * it, and on a fresh broker it matches exactly the same retained messages.
 */
const FILTER = 'bench/retained/#';
const WINDOW = 2_000;
const PER_WRITE = 256;

/**
 * Retained fan-in then one wildcard subscriber: stores N retained messages on N distinct topics
 * (QoS 1, so each PUBACK means the broker holds it), then a fresh client subscribes to
 * `bench/retained/#` and the clock runs from SUBSCRIBE until every retained message has arrived
 * [MQTT-3.3.1-6].
 */
export function retained10k(target: BrokerTarget, params: ScenarioParams): Promise<ScenarioResult> {
  return runScenario('retained-10k', target, async (r) => {
    const n = params.retainedTopics;
    const conns: MqttConnection[] = [];
    try {
      let acked = 0;
      let wake: (() => void) | null = null;
      const pub = await open(target, 'retained-pub', {
        onDelivered: () => {
          acked++;
          wake?.();
        },
      });
      conns.push(pub);
      const payload = Buffer.alloc(Math.max(MIN_PAYLOAD, params.payloadSize), 0x61);
      payload.writeUInt32LE(RETAINED_MARK, PAYLOAD_PUBLISHER);
      const storeStart = performance.now();
      let sent = 0;
      while (sent < n) {
        if (pub.closed) throw pub.lastError ?? new Error('publisher disconnected');
        if (sent - acked >= WINDOW) {
          await new Promise<void>((resolve) => {
            wake = resolve;
            setTimeout(resolve, 50);
          });
          wake = null;
          continue;
        }
        const count = Math.min(PER_WRITE, n - sent, WINDOW - (sent - acked));
        const parts: Buffer[] = [];
        for (let k = 0; k < count; k++) {
          const i = sent + k;
          payload.writeUInt32LE(i, PAYLOAD_SEQ);
          parts.push(
            mqttPacket.generate({
              cmd: 'publish',
              topic: `bench/retained/${i}`,
              payload,
              qos: 1,
              retain: true,
              dup: false,
              messageId: (i % 65535) + 1,
            }),
          );
        }
        sent += count;
        if (!pub.writePublishes(Buffer.concat(parts), count)) {
          await new Promise<void>((resolve) => pub.socket.once('drain', () => resolve()));
        }
      }
      const allStored = await waitFor(() => acked >= n || pub.closed, params.settleMs * 3);
      const storeMs = performance.now() - storeStart;
      if (!allStored) r.notes.push(`only ${acked} of ${n} retained publishes acknowledged`);

      const tracker = new SeqTracker();
      let lastAt = 0;
      const sub = await open(target, 'retained-sub', {
        onPublish: (buf, start) => {
          if (buf.readUInt32LE(start + PAYLOAD_PUBLISHER) !== RETAINED_MARK) return;
          tracker.record(buf.readUInt32LE(start + PAYLOAD_SEQ));
          lastAt = performance.now();
        },
      });
      conns.push(sub);
      const meter = new CpuMeter(target.pid);
      meter.start();
      const t0 = performance.now();
      await subscribeOne(sub, FILTER, 0, params.settleMs * 3);
      await waitForCount(() => tracker.unique, n, params.settleMs * 3, 2_000);
      const cpu = meter.stop();
      const complete = tracker.unique >= n;
      const ms = complete ? lastAt - t0 : null;
      r.metrics.push(
        metric('all_received_ms', ms === null ? null : round(ms), 'ms', 'lower'),
        metric('received_msg_s', ms === null ? null : Math.round((n / ms) * 1000), 'msg/s', 'higher'),
        metric('received', tracker.unique, 'msgs', 'higher'),
        metric('store_ms', round(storeMs), 'ms', 'lower'),
      );
      r.loadgenCpuPercent = round(cpu.loadgenPercent);
      r.brokerCpuPercent = cpu.brokerPercent === null ? null : round(cpu.brokerPercent);
      r.notes.push(`${n} retained topics, then one \`${FILTER}\` subscriber; CPU is over the delivery phase`);
      if (!complete) r.notes.push(`only ${tracker.unique} of ${n} retained messages arrived`);
    } finally {
      destroyAll(conns);
    }
  });
}
