// Two and three brokers with one placement node, in process: route table sync, forwarding over
// the link (once per broker however many of its clients match), QoS 1 acknowledgements that wait
// for the remote broker, shared subscriptions and retained messages across brokers.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, connectClient, endClient, uid, waitFor } from '../../test/helpers.js';
import { startTestCluster, type TestCluster } from './cluster-harness.js';

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startTestCluster(3);
}, 30_000);

afterAll(async () => {
  await cluster?.close();
});

/** Waits until broker `i` has a remote route for `topic` from every broker in `from`. */
async function routed(i: number, topic: string, from: number[]): Promise<void> {
  const b = cluster.brokers[i]!;
  await waitFor(() => {
    const plan = b.cluster!.routes.match(topic);
    const brokers = new Set([...plan.brokers, ...[...(plan.shared?.values() ?? [])].flat()]);
    return from.every((f) => brokers.has(f));
  }, `broker ${i + 1} learns the route for ${topic}`);
}

describe('cluster forwarding', () => {
  it('delivers a publish on one broker to subscribers on another, once per broker', async () => {
    const [b1, b2] = cluster.brokers;
    const t = `fw/${uid()}`;
    const subs = await Promise.all([0, 1, 2].map(() => connectClient(b2!.url('mqtt'))));
    const got = subs.map((s) => collect(s));
    await Promise.all(subs.map((s) => s.subscribeAsync(t, { qos: 1 })));
    await routed(0, t, [2]);
    const before = b1!.cluster!.stats.forwardedOut;
    const pub = await connectClient(b1!.url('mqtt'));
    await pub.publishAsync(t, 'hello', { qos: 1 });
    await waitFor(() => got.every((g) => g.length === 1), 'every subscriber on broker 2 gets it');
    expect(got.map((g) => g[0]!.payload)).toEqual(['hello', 'hello', 'hello']);
    expect(b1!.cluster!.stats.forwardedOut - before).toBe(1);
    await Promise.all([...subs, pub].map((c) => endClient(c)));
  });

  it('keeps per-publisher order across the link and loses nothing at QoS 1', async () => {
    const [b1, , b3] = cluster.brokers;
    const t = `order/${uid()}`;
    const sub = await connectClient(b3!.url('mqtt'));
    const got = collect(sub);
    await sub.subscribeAsync(t, { qos: 1 });
    await routed(0, t, [3]);
    const pub = await connectClient(b1!.url('mqtt'));
    const n = 500;
    await Promise.all(Array.from({ length: n }, (_, i) => pub.publishAsync(t, String(i), { qos: 1 })));
    await waitFor(() => got.length >= n, `${n} messages arrive`);
    expect(got.map((g) => Number(g.payload))).toEqual(Array.from({ length: n }, (_, i) => i));
    await Promise.all([sub, pub].map((c) => endClient(c)));
  });

  it('stops routing to a broker once its last subscriber is gone', async () => {
    const [b1, b2] = cluster.brokers;
    const t = `gone/${uid()}`;
    const sub = await connectClient(b2!.url('mqtt'));
    await sub.subscribeAsync(t, { qos: 0 });
    await routed(0, t, [2]);
    await sub.unsubscribeAsync(t);
    await waitFor(() => b1!.cluster!.routes.match(t).brokers.length === 0, 'route removed on broker 1');
    await endClient(sub);
  });

  it('gives each shared-group message to exactly one member cluster-wide', async () => {
    const [b1, b2, b3] = cluster.brokers;
    const t = `share/${uid()}`;
    const members = await Promise.all([b1!, b2!, b3!].map((b) => connectClient(b.url('mqtt'))));
    const got = members.map((m) => collect(m));
    await Promise.all(members.map((m) => m.subscribeAsync(`$share/g/${t}`, { qos: 1 })));
    await routed(0, t, [2, 3]);
    const pub = await connectClient(b1!.url('mqtt'));
    const n = 60;
    for (let i = 0; i < n; i++) await pub.publishAsync(t, String(i), { qos: 1 });
    await waitFor(() => got.reduce((a, g) => a + g.length, 0) >= n, 'every message reaches a member');
    const all = got.flatMap((g) => g.map((x) => x.payload)).sort((a, b) => Number(a) - Number(b));
    expect(all).toEqual(Array.from({ length: n }, (_, i) => String(i)));
    for (const g of got) expect(g.length).toBeGreaterThan(0);
    await Promise.all([...members, pub].map((c) => endClient(c)));
  });

  it('keeps retained messages on every broker', async () => {
    const [b1, b2] = cluster.brokers;
    const t = `ret/${uid()}`;
    const pub = await connectClient(b1!.url('mqtt'));
    await pub.publishAsync(t, 'kept', { qos: 1, retain: true });
    await waitFor(() => b2!.broker.retained.size > 0 && [...b2!.broker.retained.match(t, Date.now())].length === 1, 'broker 2 has it');
    const sub = await connectClient(b2!.url('mqtt'));
    const got = collect(sub);
    await sub.subscribeAsync(t, { qos: 1 });
    await waitFor(() => got.length === 1, 'retained message arrives on broker 2');
    expect(got[0]!.payload).toBe('kept');
    expect(got[0]!.packet.retain).toBe(true);
    await Promise.all([sub, pub].map((c) => endClient(c)));
  });
});
