import { CpuMeter } from '../loadgen/cpu-meter.js';
import type { MqttConnection } from '../loadgen/mqtt-connection.js';
import { makePublishTemplate } from '../loadgen/publish-template.js';
import { Publisher } from '../loadgen/publisher.js';
import { isAlive, readRssBytes } from '../loadgen/proc-stats.js';
import { destroyAll, metric, open, round, runScenario, sleep, subscribeOne } from './helpers.js';
import type { BrokerTarget, ScenarioParams, ScenarioResult } from './types.js';

const SAMPLE_MS = 250;

/**
 * Overload: publishers pipeline QoS 1 without any in-flight limit (only TCP flow control and the
 * 65,535 packet ids stop them) while two subscribers (QoS 1 and QoS 0) subscribe and then never
 * read their sockets. A broker with bounded per-client queues plateaus; one without grows until
 * it dies. Broker RSS is sampled throughout; the run stops early at the RSS cap to spare the
 * machine. Afterwards a fresh client must still get CONNACK and PINGRESP.
 */
export function overload(target: BrokerTarget, params: ScenarioParams): Promise<ScenarioResult> {
  return runScenario('overload', target, async (r) => {
    const topic = 'bench/overload';
    const conns: MqttConnection[] = [];
    const pubs: Publisher[] = [];
    const capBytes = params.overloadRssCapMb * 2 ** 20;
    try {
      const slow1 = await open(target, 'overload-slow1');
      const slow0 = await open(target, 'overload-slow0');
      conns.push(slow1, slow0);
      await subscribeOne(slow1, topic, 1);
      await subscribeOne(slow0, topic, 0);
      // From here on nothing reads these sockets: the kernel buffers fill, then the broker's.
      slow1.socket.pause();
      slow0.socket.pause();

      const template = makePublishTemplate(topic, 1, params.payloadSize);
      const pubConns = await Promise.all(Array.from({ length: params.overloadPublishers }, () => open(target, 'overload-pub')));
      conns.push(...pubConns);
      pubConns.forEach((c, i) => pubs.push(new Publisher(c, { template, publisherIndex: i, batch: 64, window: Infinity })));

      const pid = target.pid;
      const samples: Array<{ t: number; rss: number }> = [];
      const sample = (): number | null => {
        if (pid === null) return null;
        const rss = readRssBytes(pid);
        if (rss !== null) samples.push({ t: performance.now(), rss });
        return rss;
      };
      const rssStart = sample();
      const meter = new CpuMeter(pid);
      meter.start();
      for (const p of pubs) p.start();
      const t0 = performance.now();
      let capHit = false;
      let died = false;
      while (performance.now() - t0 < params.durationMs) {
        await sleep(SAMPLE_MS);
        if (pid !== null && !isAlive(pid)) {
          died = true;
          break;
        }
        const rss = sample();
        if (rss !== null && rss > capBytes) {
          capHit = true;
          break;
        }
        if (pubConns.every((c) => c.closed)) break;
      }
      const cpu = meter.stop();
      for (const p of pubs) p.stop();
      const acked = pubs.reduce((n, p) => n + p.delivered, 0);
      const sent = pubs.reduce((n, p) => n + p.sent, 0);
      destroyAll(pubConns);

      // Survival: the process is alive and a new client is served.
      let served = false;
      if (!died && (pid === null || isAlive(pid))) {
        try {
          const probe = await open(target, 'overload-probe');
          conns.push(probe);
          await probe.ping(5_000);
          served = true;
        } catch {
          served = false;
        }
      }
      const survived = served && !died;
      const rssEnd = pid !== null && isAlive(pid) ? readRssBytes(pid) : null;
      const peak = samples.reduce((m, s) => Math.max(m, s.rss), 0);
      const mb = (b: number | null): number | null => (b === null ? null : round(b / 2 ** 20));
      r.metrics.push(
        metric('survived', survived ? 1 : 0, 'bool', 'higher'),
        metric('rss_growth_mb', rssStart === null || samples.length === 0 ? null : mb(peak - rssStart), 'MiB', 'lower'),
        metric('growth_2nd_half_mb', mb(secondHalfGrowth(samples)), 'MiB', 'lower'),
        metric('rss_peak_mb', samples.length === 0 ? null : mb(peak), 'MiB', 'lower'),
        metric('rss_end_mb', mb(rssEnd), 'MiB', 'info'),
        metric('acked_msg_s', Math.round((acked / cpu.wallMs) * 1000), 'msg/s', 'info'),
        metric('slow_subs_disconnected', (slow1.closed ? 1 : 0) + (slow0.closed ? 1 : 0), 'conns', 'info'),
      );
      r.loadgenCpuPercent = round(cpu.loadgenPercent);
      r.brokerCpuPercent = cpu.brokerPercent === null ? null : round(cpu.brokerPercent);
      r.notes.push(
        `${params.overloadPublishers} QoS 1 publishers with unbounded pipelining, 2 subscribers that never read; ${sent} sent, ${acked} acknowledged`,
      );
      if (capHit) r.notes.push(`stopped early: broker RSS passed the ${params.overloadRssCapMb} MiB cap`);
      if (died) r.notes.push('the broker process died during the run');
      else if (!served) r.notes.push('the broker no longer served a new client after the run');
    } finally {
      for (const p of pubs) p.stop();
      destroyAll(conns);
    }
  });
}

/** RSS growth between the middle and the end of the run: near zero for a bounded broker. */
function secondHalfGrowth(samples: Array<{ t: number; rss: number }>): number | null {
  if (samples.length < 4) return null;
  const mid = samples[Math.floor(samples.length / 2)].rss;
  const last = samples[samples.length - 1].rss;
  return last - mid;
}
