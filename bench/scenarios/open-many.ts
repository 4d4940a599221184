import { BenchError } from '../loadgen/errors.js';
import type { MqttConnection } from '../loadgen/mqtt-connection.js';
import { sourceAddress, sourceAddressCount } from '../loadgen/source-addresses.js';
import { open } from './helpers.js';
import type { BrokerTarget } from './types.js';

export interface OpenManyReport {
  conns: MqttConnection[];
  errors: number;
  firstError: string | null;
  elapsedMs: number;
}

/**
 * Opens `n` connections with at most `concurrency` handshakes in progress, spread over enough
 * 127.0.0.x source addresses for the ephemeral-port ranges. Stops early after repeated failures
 * (out of file descriptors or ports) and reports how far it got.
 */
export async function openManyReport(
  target: BrokerTarget,
  prefix: string,
  n: number,
  concurrency: number,
): Promise<OpenManyReport> {
  const addrCount = sourceAddressCount(n);
  const conns: MqttConnection[] = [];
  let next = 0;
  let errors = 0;
  let firstError: string | null = null;
  const maxErrors = Math.max(10, Math.ceil(n / 100));
  const t0 = performance.now();
  const worker = async (): Promise<void> => {
    while (next < n && errors < maxErrors) {
      const i = next++;
      // Only spread over several source addresses when one range is not enough: a single
      // address keeps small runs identical to a plain client.
      const local = addrCount > 1 ? sourceAddress(i, addrCount) : undefined;
      try {
        conns.push(await open(target, prefix, {}, local));
      } catch (err: unknown) {
        errors++;
        if (firstError === null) firstError = err instanceof Error ? err.message : String(err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, n)) }, () => worker()));
  return { conns, errors, firstError, elapsedMs: performance.now() - t0 };
}

/** Like openManyReport, but every connection must succeed. */
export async function openMany(target: BrokerTarget, prefix: string, n: number, concurrency: number): Promise<MqttConnection[]> {
  const rep = await openManyReport(target, prefix, n, concurrency);
  if (rep.conns.length < n) {
    for (const c of rep.conns) c.destroy();
    throw new BenchError('BENCH_CONNECT_REFUSED', `opened ${rep.conns.length} of ${n} connections: ${rep.firstError ?? 'unknown error'}`);
  }
  return rep.conns;
}
