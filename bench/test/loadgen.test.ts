import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAedes } from '../brokers/aedes-server.js';
import { startNullSink } from '../brokers/null-sink.js';
import type { RunningServer } from '../brokers/aedes-server.js';
import { FrameReader } from '../loadgen/frame-reader.js';
import { Histogram } from '../loadgen/histogram.js';
import { scenarios, type BrokerTarget, type ScenarioResult } from '../scenarios/index.js';
import { tiny } from './tiny-params.js';

function value(r: ScenarioResult, name: string): number | null {
  const m = r.metrics.find((x) => x.name === name);
  expect(m, `metric ${name} in ${r.scenario}`).toBeDefined();
  return m?.value ?? null;
}

function expectShape(r: ScenarioResult, scenario: string): void {
  expect(r.error).toBeUndefined();
  expect(r.ok).toBe(true);
  expect(r.scenario).toBe(scenario);
  expect(r.metrics.length).toBeGreaterThan(0);
  for (const m of r.metrics) {
    expect(typeof m.name).toBe('string');
    expect(['higher', 'lower', 'info']).toContain(m.better);
  }
  expect(r.loadgenCpuPercent).toBeTypeOf('number');
  expect(r.wallMs).toBeGreaterThan(0);
}

describe('load generator scenarios against Aedes', () => {
  let aedes: RunningServer;
  let target: BrokerTarget;
  beforeAll(async () => {
    // With Aedes' default concurrency (100) a flat-out publisher makes mqemitter's queue recurse
    // past the stack and the process dies (real runs record that); these tests check the
    // generator's counting in-process, so they lift the limit.
    aedes = await startAedes(0, '127.0.0.1', { concurrency: 100_000 });
    // In-process: the broker's RSS and CPU are this process's.
    target = { name: 'aedes', host: aedes.host, port: aedes.port, pid: process.pid };
  });
  afterAll(async () => {
    await aedes.close();
  });

  it('fanin-qos0 counts delivered messages', async () => {
    const r = await scenarios['fanin-qos0'](target, tiny);
    expectShape(r, 'fanin-qos0');
    expect(value(r, 'delivered_msg_s')).toBeGreaterThan(0);
  });

  it('fanout-qos0 counts deliveries in both phases', async () => {
    const r = await scenarios['fanout-qos0'](target, tiny);
    expectShape(r, 'fanout-qos0');
    expect(value(r, 'fixed_delivered_msg_s')).toBeGreaterThan(0);
    expect(value(r, 'flatout_delivered_msg_s')).toBeGreaterThan(0);
  });

  it('qos1-e2e delivers with zero loss', async () => {
    const r = await scenarios['qos1-e2e'](target, tiny);
    expectShape(r, 'qos1-e2e');
    expect(value(r, 'delivered_msg_s')).toBeGreaterThan(0);
    expect(value(r, 'lost')).toBe(0);
  });

  it('qos2-e2e checks exactly-once by sequence number [MQTT-4.3.3]', async () => {
    const r = await scenarios['qos2-e2e'](target, tiny);
    expectShape(r, 'qos2-e2e');
    expect(value(r, 'delivered_msg_s')).toBeGreaterThan(0);
    expect(value(r, 'exactly_once')).toBe(1);
  });

  it('latency records samples', async () => {
    const r = await scenarios.latency(target, tiny);
    expectShape(r, 'latency');
    expect(value(r, 'p99_ms')).toBeGreaterThan(0);
    expect(value(r, 'received_pct')).toBeGreaterThan(0);
  });

  it('idle-connections opens and holds every connection', async () => {
    const r = await scenarios['idle-connections'](target, tiny);
    expectShape(r, 'idle-connections');
    expect(value(r, 'connected')).toBe(tiny.idleConnections);
    expect(value(r, 'held')).toBe(tiny.idleConnections);
    expect(value(r, 'rss_per_conn_bytes')).toBeTypeOf('number');
  });

  it('retained-10k receives every retained message on #', async () => {
    const r = await scenarios['retained-10k'](target, tiny);
    expectShape(r, 'retained-10k');
    expect(value(r, 'received')).toBe(tiny.retainedTopics);
    expect(value(r, 'all_received_ms')).toBeGreaterThan(0);
  });

  it('offline-drain drains the persistent session queue', async () => {
    const r = await scenarios['offline-drain'](target, tiny);
    expectShape(r, 'offline-drain');
    expect(value(r, 'session_present')).toBe(1);
    expect(value(r, 'lost')).toBe(0);
    expect(value(r, 'drain_msg_s')).toBeGreaterThan(0);
  });

  it('overload samples RSS and checks survival', async () => {
    const r = await scenarios.overload(target, tiny);
    expectShape(r, 'overload');
    expect(value(r, 'survived')).toBe(1);
    expect(value(r, 'rss_peak_mb')).toBeGreaterThan(0);
  });
});

describe('generator-ceiling against the null sink', () => {
  it('publishes and receives through the sink', async () => {
    const sink = await startNullSink(0);
    try {
      const r = await scenarios['generator-ceiling']({ name: 'sink', host: sink.host, port: sink.port, pid: process.pid }, tiny);
      expectShape(r, 'generator-ceiling');
      expect(value(r, 'publish_qos0_msg_s')).toBeGreaterThan(0);
      expect(value(r, 'publish_qos1_msg_s')).toBeGreaterThan(0);
      expect(value(r, 'receive_msg_s')).toBeGreaterThan(0);
    } finally {
      await sink.close();
    }
  });
});

describe('frame reader and histogram', () => {
  it('splits frames identically at every chunk boundary', () => {
    const frames = Buffer.from([0x30, 0x03, 0x00, 0x01, 0x61, 0x40, 0x02, 0x00, 0x07, 0xd0, 0x00]);
    for (let cut = 0; cut <= frames.length; cut++) {
      const seen: number[] = [];
      const r = new FrameReader((_b, type) => seen.push(type));
      r.push(frames.subarray(0, cut));
      r.push(frames.subarray(cut));
      expect(seen).toEqual([3, 4, 13]);
      expect(r.pendingBytes).toBe(0);
    }
  });

  it('keeps percentiles within 0.1%', () => {
    const h = new Histogram();
    for (let v = 1; v <= 100_000; v++) h.record(v * 1_000);
    expect(Math.abs(h.percentile(50) - 50_000_000) / 50_000_000).toBeLessThan(0.001);
    expect(Math.abs(h.percentile(99) - 99_000_000) / 99_000_000).toBeLessThan(0.001);
    expect(h.max).toBe(100_000_000);
  });
});
