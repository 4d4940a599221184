import type { QoS } from 'mqtt-packet';
import { MqttConnection, type ConnectOptions, type ConnectionHandlers } from '../loadgen/mqtt-connection.js';
import { BenchError, errorMessage } from '../loadgen/errors.js';
import type { BrokerTarget, Metric, MetricDirection, ScenarioResult } from './types.js';

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `cond` every `everyMs` until it holds or `timeoutMs` passes; returns whether it held. */
export async function waitFor(cond: () => boolean, timeoutMs: number, everyMs = 10): Promise<boolean> {
  const until = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() >= until) return false;
    await sleep(everyMs);
  }
  return true;
}

/**
 * Waits until `count()` reaches `target`, or stops growing for `quietMs`, or `timeoutMs` passes.
 * Used after a window closes to collect messages still in flight without a fixed sleep.
 */
export async function waitForCount(count: () => number, target: number, timeoutMs: number, quietMs = 1_000): Promise<void> {
  const until = performance.now() + timeoutMs;
  let last = count();
  let lastChange = performance.now();
  while (count() < target && performance.now() < until) {
    await sleep(10);
    const c = count();
    if (c !== last) {
      last = c;
      lastChange = performance.now();
    } else if (performance.now() - lastChange >= quietMs) {
      return;
    }
  }
}

let clientSeq = 0;
/** Client ids unique within this process and across runs (the pid and a counter). */
export function clientId(prefix: string): string {
  clientSeq++;
  return `${prefix}-${process.pid}-${clientSeq}`;
}

/** CONNECT options for `target`: its address and, when it requires them, its credentials. */
export function connectOptions(target: BrokerTarget, id: string, extra: Partial<ConnectOptions> = {}): ConnectOptions {
  return { host: target.host, port: target.port, clientId: id, credentials: target.credentials, ...extra };
}

export function open(target: BrokerTarget, prefix: string, handlers: ConnectionHandlers = {}, localAddress?: string): Promise<MqttConnection> {
  return MqttConnection.open(connectOptions(target, clientId(prefix), { localAddress }), handlers);
}

/**
 * SUBSCRIBE to one filter; a refusal (0x80 [MQTT-3.9.3-2], e.g. an ACL deny) throws instead of
 * leaving the scenario to wait for messages that will never come. Resolves with the granted QoS.
 */
export async function subscribeOne(conn: MqttConnection, topic: string, qos: QoS, timeoutMs?: number): Promise<number> {
  const [granted] = await conn.subscribe([{ topic, qos }], timeoutMs);
  if (granted === undefined || granted === 0x80) {
    throw new BenchError('BENCH_PROTOCOL', `the broker refused SUBSCRIBE to ${topic} (return code ${granted === undefined ? 'missing' : '0x80'})`);
  }
  return granted;
}

export function metric(name: string, value: number | null, unit: string, better: MetricDirection): Metric {
  return { name, value: value === null || Number.isFinite(value) ? value : null, unit, better };
}

/** Closes every connection without waiting on a broker that may be wedged. */
export function destroyAll(conns: Iterable<MqttConnection>): void {
  for (const c of conns) c.destroy();
}

/**
 * Runs a scenario body with a shared shape for its result; an exception becomes ok=false with
 * the error text, so one failed run never stops a whole benchmark.
 */
export async function runScenario(
  scenario: string,
  target: BrokerTarget,
  body: (r: ScenarioResult) => Promise<void>,
): Promise<ScenarioResult> {
  const r: ScenarioResult = {
    scenario,
    broker: target.name,
    ok: true,
    metrics: [],
    loadgenCpuPercent: null,
    brokerCpuPercent: null,
    notes: [],
    wallMs: 0,
  };
  const t0 = performance.now();
  try {
    await body(r);
  } catch (err: unknown) {
    r.ok = false;
    r.error = errorMessage(err);
  }
  r.wallMs = Math.round(performance.now() - t0);
  return r;
}

export function round(v: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}
