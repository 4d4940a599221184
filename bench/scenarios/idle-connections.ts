import { CpuMeter } from '../loadgen/cpu-meter.js';
import { BenchError } from '../loadgen/errors.js';
import { openFilesLimit, readRssBytes } from '../loadgen/proc-stats.js';
import { sourceAddressCount } from '../loadgen/source-addresses.js';
import { openManyReport } from './open-many.js';
import { destroyAll, metric, round, runScenario, sleep } from './helpers.js';
import type { BrokerTarget, ScenarioParams, ScenarioResult } from './types.js';

/** File descriptors the generator keeps for itself beyond one per connection. */
const FD_HEADROOM = 128;

/**
 * Idle connections: opens N connections (CONNECT, keep-alive off, no subscriptions), reports the
 * connect rate and the broker's RSS per connection (VmRSS after minus before, divided by N), then
 * holds them for a moment and checks they are all still open and served (PINGREQ on a sample).
 * The generator raises no limit itself: N needs `ulimit -n` above N in the shell that runs it.
 */
export function idleConnections(target: BrokerTarget, params: ScenarioParams): Promise<ScenarioResult> {
  return runScenario('idle-connections', target, async (r) => {
    const n = params.idleConnections;
    const limit = openFilesLimit();
    if (limit !== null && limit < n + FD_HEADROOM) {
      throw new BenchError(
        'BENCH_FD_LIMIT',
        `${n} connections need an open-files limit of at least ${n + FD_HEADROOM}, this shell has ${limit}: run \`ulimit -n ${Math.max(n * 2, 1024)}\` first`,
      );
    }
    const rssBefore = target.pid === null ? null : readRssBytes(target.pid);
    const meter = new CpuMeter(target.pid);
    meter.start();
    const rep = await openManyReport(target, 'idle', n, params.connectConcurrency);
    const cpu = meter.stop();
    try {
      const connected = rep.conns.length;
      // Give the broker a moment to finish per-connection work, then sample.
      const holdMs = Math.min(2_000, Math.max(200, params.durationMs / 5));
      await sleep(holdMs);
      const rssAfter = target.pid === null ? null : readRssBytes(target.pid);
      const held = rep.conns.filter((c) => !c.closed).length;
      const sample = rep.conns.filter((c) => !c.closed).slice(0, 10);
      const pings = await Promise.allSettled(sample.map((c) => c.ping(5_000)));
      const pingFailures = pings.filter((p) => p.status === 'rejected').length;

      const perConn = rssBefore !== null && rssAfter !== null && connected > 0 ? (rssAfter - rssBefore) / connected : null;
      r.metrics.push(
        metric('rss_per_conn_bytes', perConn === null ? null : Math.round(perConn), 'B', 'lower'),
        metric('connect_rate', Math.round((connected / rep.elapsedMs) * 1000), 'conn/s', 'higher'),
        metric('connected', connected, 'conns', 'higher'),
        metric('held', held, 'conns', 'higher'),
        metric('rss_before_mb', rssBefore === null ? null : round(rssBefore / 2 ** 20), 'MiB', 'info'),
        metric('rss_after_mb', rssAfter === null ? null : round(rssAfter / 2 ** 20), 'MiB', 'info'),
        metric('connect_errors', rep.errors, 'errors', 'lower'),
      );
      r.loadgenCpuPercent = round(cpu.loadgenPercent);
      r.brokerCpuPercent = cpu.brokerPercent === null ? null : round(cpu.brokerPercent);
      r.notes.push(
        `${n} connections over ${sourceAddressCount(n)} source address(es), ${params.connectConcurrency} handshakes at once; CPU is over the connect phase`,
      );
      if (rep.firstError !== null) r.notes.push(`first connect error: ${rep.firstError}`);
      if (pingFailures > 0) r.notes.push(`${pingFailures} of ${sample.length} sampled connections did not answer PINGREQ`);
      if (connected < n) {
        r.ok = false;
        r.error = `only ${connected} of ${n} connections opened (${rep.firstError ?? 'no error text'})`;
      }
    } finally {
      destroyAll(rep.conns);
    }
  });
}
