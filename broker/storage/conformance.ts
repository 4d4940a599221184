// The one conformance suite every StorageDriver runs (DESIGN.md section 5). A driver's test file
// calls storageConformanceSuite(name, makeDriver) and gets vitest describe/it blocks: the named
// edge cases first, then a fast-check model-based test against StorageModel. The rules checked
// here are written out in README.md; a driver that passes may be configured as storage.driver.
//
// Imported only by tests (it loads vitest and fast-check, which are dev dependencies).

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  StorageError,
  type DelayedRecord,
  type OutboundEntry,
  type SessionRecord,
  type StorageDriver,
  type StorageOp,
  type StoredMessage,
  type SubscriptionRecord,
} from './driver.js';
import { StorageModel } from './conformance-model.js';
import { StorageOpError } from './storage-op-error.js';

export interface ConformanceDriverHandle {
  /** An open driver over empty storage. */
  driver: StorageDriver;
  /**
   * Called after the suite closed the previous driver: an open driver over the same data (a new
   * instance, or the same one opened again). Omit when data does not outlive close().
   */
  reopen?: () => Promise<StorageDriver>;
  /** Closes whatever is still open and removes the data. */
  cleanup: () => Promise<void>;
}

export interface ConformanceOptions {
  /** Runs of the model-based property (default 40; env STORAGE_FC_RUNS overrides). */
  modelRuns?: number;
}

/** Optional introspection a driver may offer; the suite then also checks bodies are shared and collected. */
export interface MessageBodyCounter {
  messageBodyCount(): Promise<number>;
}

function bodyCounter(d: StorageDriver): MessageBodyCounter | null {
  const f = (d as Partial<MessageBodyCounter>).messageBodyCount;
  return typeof f === 'function' ? (d as unknown as MessageBodyCounter) : null;
}

// ---------------------------------------------------------------------------------------------
// Record builders.

const T0 = 1_700_000_000_000;

export function session(clientId: string, extra: Partial<SessionRecord> = {}): SessionRecord {
  return { clientId, protocolVersion: 5, expiryInterval: 3600, disconnectedAt: null, ...extra };
}

export function message(id: string, extra: Partial<StoredMessage> = {}): StoredMessage {
  return { id, topic: 'a/b', payload: Buffer.from(`payload of ${id}`), qos: 1, retain: false, createdAt: T0, ...extra };
}

export function entry(clientId: string, seq: number, messageId: string, extra: Partial<OutboundEntry> = {}): OutboundEntry {
  return { clientId, seq, messageId, qos: 1, state: 'queued', ...extra };
}

export function subscription(clientId: string, filter: string, extra: Partial<SubscriptionRecord> = {}): SubscriptionRecord {
  return { clientId, filter, qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0, ...extra };
}

/** Deterministic bytes that are not a repeating short pattern (so truncation or reordering shows). */
export function patternBytes(length: number, seed = 1): Buffer {
  const b = Buffer.allocUnsafe(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

const byString = <T>(key: (v: T) => string) => (a: T, b: T): number => {
  const x = key(a);
  const y = key(b);
  return x < y ? -1 : x > y ? 1 : 0;
};

/** Everything a driver holds, in a canonical order, for the clients named. */
export async function dumpDriver(d: StorageDriver, clientIds: readonly string[]) {
  const outbound: Record<string, unknown> = {};
  const inbound2: Record<string, number[]> = {};
  for (const c of clientIds) {
    outbound[c] = await d.listOutbound(c);
    inbound2[c] = await d.listInboundQos2(c);
  }
  return {
    sessions: (await d.listSessions()).sort(byString((s) => s.clientId)),
    subscriptions: (await d.listSubscriptions()).sort(byString((s) => `${s.clientId}\u0000${s.filter}`)),
    outbound,
    inbound2,
    summary: [...(await d.outboundSummary())].sort(byString(([c]) => c)),
    retained: (await d.listRetained()).sort(byString((m) => m.topic)),
    delayed: (await d.listDelayed()).sort(byString((r) => r.id)),
  };
}

function dumpModel(m: StorageModel, clientIds: readonly string[]) {
  const outbound: Record<string, unknown> = {};
  const inbound2: Record<string, number[]> = {};
  for (const c of clientIds) {
    outbound[c] = m.outboundOf(c);
    inbound2[c] = m.inbound2Of(c);
  }
  return {
    sessions: [...m.sessions.values()].sort(byString((s) => s.clientId)),
    subscriptions: [...m.subs.values()].sort(byString((s) => `${s.clientId}\u0000${s.filter}`)),
    outbound,
    inbound2,
    summary: [...m.summary()].sort(byString(([c]) => c)),
    retained: [...m.retained.values()].sort(byString((x) => x.topic)),
    delayed: [...m.delayed.values()].sort(byString((r) => r.id)),
  };
}

async function expectOpError(p: Promise<unknown>, opIndex: number): Promise<StorageOpError> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e, 'apply() should have rejected').toBeInstanceOf(StorageOpError);
  expect((e as StorageOpError).opIndex).toBe(opIndex);
  return e as StorageOpError;
}

async function expectStorageError(p: Promise<unknown>): Promise<void> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e, 'call should have rejected').toBeInstanceOf(StorageError);
}

// ---------------------------------------------------------------------------------------------
// Model-based test: generators and commands.

const CLIENTS = ['a', 'ab', '', 'ü/é', '客户端/设备/1', '😀//x/'] as const;
const MSG_IDS = ['m1', 'm2', 'm3', 'ñ4'] as const;
const FILTERS = ['x/#', '$share/g/y/+', 'ä/+/ö', '#'] as const;
const TOPICS = ['t', 'a/b/c', '///', 'ö/😀'] as const;
const DELAYED_IDS = ['d1', 'd2', 'δ3'] as const;

const textArb = fc.string({ unit: 'grapheme', maxLength: 6 });
const bytesArb = fc.uint8Array({ maxLength: 48 }).map((u) => Buffer.from(u));
const qosArb = fc.constantFrom(0 as const, 1 as const, 2 as const);
const seqArb = fc.oneof(fc.integer({ min: 0, max: 6 }), fc.constantFrom(15, 16, 255, 256, 2 ** 40, Number.MAX_SAFE_INTEGER));

const propertiesArb = fc.record(
  {
    payloadFormatIndicator: fc.boolean(),
    messageExpiryInterval: fc.integer({ min: 0, max: 0xffffffff }),
    contentType: textArb,
    responseTopic: textArb,
    correlationData: bytesArb,
    userProperties: fc.dictionary(fc.constantFrom('k', 'ü', '__proto__', ''), fc.oneof(textArb, fc.array(textArb, { maxLength: 3 })), {
      maxKeys: 3,
    }),
  },
  { requiredKeys: [] },
);

const messageArb = (idArb: fc.Arbitrary<string>): fc.Arbitrary<StoredMessage> =>
  fc.record(
    {
      id: idArb,
      topic: fc.constantFrom(...TOPICS),
      payload: bytesArb,
      qos: qosArb,
      retain: fc.boolean(),
      properties: propertiesArb,
      createdAt: fc.integer({ min: 0, max: 2 ** 45 }),
      expiresAt: fc.integer({ min: 0, max: 2 ** 45 }),
      origin: fc.constantFrom(...CLIENTS),
    },
    { requiredKeys: ['id', 'topic', 'payload', 'qos', 'retain', 'createdAt'] },
  );

const sessionArb: fc.Arbitrary<SessionRecord> = fc
  .record(
    {
      clientId: fc.constantFrom(...CLIENTS),
      protocolVersion: fc.constantFrom(3 as const, 4 as const, 5 as const),
      expiryInterval: fc.constantFrom(0, 60, 0xffffffff),
      disconnectedAt: fc.option(fc.integer({ min: 0, max: 2 ** 45 }), { nil: null }),
      will: fc.option(
        fc.record({ message: messageArb(fc.constant('will')), delayInterval: fc.integer({ min: 0, max: 0xffffffff }) }),
        { nil: null },
      ),
    },
    { requiredKeys: ['clientId', 'protocolVersion', 'expiryInterval', 'disconnectedAt'] },
  );

const subArb: fc.Arbitrary<SubscriptionRecord> = fc.record(
  {
    clientId: fc.constantFrom(...CLIENTS),
    filter: fc.constantFrom(...FILTERS),
    qos: qosArb,
    noLocal: fc.boolean(),
    retainAsPublished: fc.boolean(),
    retainHandling: fc.constantFrom(0 as const, 1 as const, 2 as const),
    subscriptionId: fc.integer({ min: 1, max: 268_435_455 }),
  },
  { requiredKeys: ['clientId', 'filter', 'qos', 'noLocal', 'retainAsPublished', 'retainHandling'] },
);

const entryArb: fc.Arbitrary<OutboundEntry> = fc
  .record(
    {
      clientId: fc.constantFrom(...CLIENTS),
      seq: seqArb,
      messageId: fc.constantFrom(...MSG_IDS),
      flow: fc.constantFrom('queued', 'queued-with-id', 'sent', 'pubrel'),
      qos: qosArb,
      packetId: fc.constantFrom(1, 2, 65535),
      subscriptionIds: fc.option(fc.array(fc.integer({ min: 1, max: 268_435_455 }), { maxLength: 3 }), { nil: undefined }),
      retain: fc.option(fc.boolean(), { nil: undefined }),
    },
    { requiredKeys: ['clientId', 'seq', 'messageId', 'flow', 'qos', 'packetId'] },
  )
  .map(({ flow, qos, packetId, subscriptionIds, retain, ...rest }) => {
    const e: OutboundEntry = { ...rest, qos, state: 'queued' };
    if (flow === 'queued-with-id') e.packetId = packetId;
    if (flow === 'sent') Object.assign(e, { state: 'sent', qos: qos === 0 ? 1 : qos, packetId });
    if (flow === 'pubrel') Object.assign(e, { state: 'pubrel', qos: 2, packetId });
    if (subscriptionIds !== undefined) e.subscriptionIds = subscriptionIds;
    if (retain !== undefined) e.retain = retain;
    return e;
  });

const delayedArb: fc.Arbitrary<DelayedRecord> = fc.record({
  id: fc.constantFrom(...DELAYED_IDS),
  message: messageArb(fc.constantFrom('dm1', 'dm2')),
  fireAt: fc.integer({ min: 0, max: 2 ** 45 }),
});

const singleOpArb: fc.Arbitrary<StorageOp> = fc.oneof(
  { weight: 3, arbitrary: sessionArb.map((s): StorageOp => ({ op: 'session.put', session: s })) },
  { weight: 1, arbitrary: fc.constantFrom(...CLIENTS).map((c): StorageOp => ({ op: 'session.delete', clientId: c })) },
  { weight: 1, arbitrary: subArb.map((s): StorageOp => ({ op: 'sub.put', sub: s })) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom(...CLIENTS), fc.constantFrom(...FILTERS))
      .map(([c, f]): StorageOp => ({ op: 'sub.delete', clientId: c, filter: f })),
  },
  { weight: 2, arbitrary: messageArb(fc.constantFrom(...MSG_IDS)).map((m): StorageOp => ({ op: 'msg.put', message: m })) },
  { weight: 1, arbitrary: entryArb.map((e): StorageOp => ({ op: 'out.put', entry: e })) },
  {
    weight: 3,
    arbitrary: fc.tuple(fc.constantFrom(...CLIENTS), seqArb).map(([c, s]): StorageOp => ({ op: 'out.delete', clientId: c, seq: s })),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom(...CLIENTS), fc.constantFrom(1, 2, 65535))
      .map(([c, p]): StorageOp => ({ op: 'in2.put', clientId: c, packetId: p })),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom(...CLIENTS), fc.constantFrom(1, 2, 65535))
      .map(([c, p]): StorageOp => ({ op: 'in2.delete', clientId: c, packetId: p })),
  },
  { weight: 1, arbitrary: messageArb(fc.constant('r')).map((m): StorageOp => ({ op: 'retain.put', message: m })) },
  { weight: 1, arbitrary: fc.constantFrom(...TOPICS).map((t): StorageOp => ({ op: 'retain.delete', topic: t })) },
  { weight: 1, arbitrary: delayedArb.map((r): StorageOp => ({ op: 'delayed.put', record: r })) },
  { weight: 1, arbitrary: fc.constantFrom(...DELAYED_IDS).map((id): StorageOp => ({ op: 'delayed.delete', id })) },
);

/** Usually true: a bundle brings what its op needs, so most batches are valid and state grows. */
const mostly = fc.integer({ min: 0, max: 19 }).map((x) => x !== 0);

/**
 * An op together with (usually) the session.put / msg.put it depends on; now and then the
 * prerequisite is left out, so batches that must be rejected whole come up too.
 */
const bundleArb: fc.Arbitrary<StorageOp[]> = fc.oneof(
  { weight: 3, arbitrary: singleOpArb.map((op) => [op]) },
  {
    weight: 4,
    arbitrary: fc
      .tuple(entryArb, sessionArb, messageArb(fc.constantFrom(...MSG_IDS)), mostly, mostly)
      .map(([e, s, m, withSession, withMessage]) => {
        const ops: StorageOp[] = [];
        if (withSession) ops.push({ op: 'session.put', session: { ...s, clientId: e.clientId } });
        if (withMessage) ops.push({ op: 'msg.put', message: { ...m, id: e.messageId } });
        ops.push({ op: 'out.put', entry: e });
        return ops;
      }),
  },
  {
    weight: 1,
    arbitrary: fc.tuple(subArb, sessionArb, mostly).map(([sub, s, withSession]) => {
      const ops: StorageOp[] = withSession ? [{ op: 'session.put', session: { ...s, clientId: sub.clientId } }] : [];
      ops.push({ op: 'sub.put', sub });
      return ops;
    }),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom(...CLIENTS), fc.constantFrom(1, 2, 65535), sessionArb, mostly)
      .map(([c, p, s, withSession]) => {
        const ops: StorageOp[] = withSession ? [{ op: 'session.put', session: { ...s, clientId: c } }] : [];
        ops.push({ op: 'in2.put', clientId: c, packetId: p });
        return ops;
      }),
  },
);

const batchArb = fc.array(bundleArb, { minLength: 0, maxLength: 6 }).map((bundles) => bundles.flat());

interface Real {
  driver: StorageDriver;
  reopen?: () => Promise<StorageDriver>;
}

function describeOps(ops: readonly StorageOp[]): string {
  return ops
    .map((op) => {
      switch (op.op) {
        case 'out.put':
          return `out.put(${JSON.stringify(op.entry.clientId)},${op.entry.seq},${op.entry.messageId},${op.entry.state})`;
        case 'out.delete':
          return `out.delete(${JSON.stringify(op.clientId)},${op.seq})`;
        case 'msg.put':
          return `msg.put(${op.message.id})`;
        case 'session.put':
          return `session.put(${JSON.stringify(op.session.clientId)})`;
        case 'session.delete':
          return `session.delete(${JSON.stringify(op.clientId)})`;
        default:
          return op.op;
      }
    })
    .join(', ');
}

async function applyAndCompare(model: StorageModel, real: Real, ops: readonly StorageOp[]): Promise<void> {
  const expectedOk = model.apply(ops);
  const outcome = await real.driver.apply(ops).then(
    () => null,
    (e: unknown) => e,
  );
  if (expectedOk) expect(outcome, `apply([${describeOps(ops)}]) should resolve`).toBeNull();
  else expect(outcome, `apply([${describeOps(ops)}]) should reject`).toBeInstanceOf(StorageOpError);
}

async function compare(model: StorageModel, real: Real): Promise<void> {
  expect(await dumpDriver(real.driver, CLIENTS)).toEqual(dumpModel(model, CLIENTS));
  const counter = bodyCounter(real.driver);
  if (counter !== null) expect(await counter.messageBodyCount()).toBe(model.messages.size);
}

class ApplyCommand implements fc.AsyncCommand<StorageModel, Real> {
  constructor(readonly ops: StorageOp[]) {}
  check(): boolean {
    return true;
  }
  async run(model: StorageModel, real: Real): Promise<void> {
    await applyAndCompare(model, real, this.ops);
    await compare(model, real);
  }
  toString(): string {
    return `apply([${describeOps(this.ops)}])`;
  }
}

/** Several apply() calls made without waiting: they must land as if made one after another. */
class PipelinedCommand implements fc.AsyncCommand<StorageModel, Real> {
  constructor(readonly batches: StorageOp[][]) {}
  check(): boolean {
    return true;
  }
  async run(model: StorageModel, real: Real): Promise<void> {
    const outcomes = this.batches.map((ops) =>
      real.driver.apply(ops).then(
        () => null,
        (e: unknown) => e,
      ),
    );
    for (const [i, ops] of this.batches.entries()) {
      const ok = model.apply(ops);
      const outcome = await outcomes[i];
      if (ok) expect(outcome, `pipelined apply #${i} should resolve`).toBeNull();
      else expect(outcome, `pipelined apply #${i} should reject`).toBeInstanceOf(StorageOpError);
    }
    await compare(model, real);
  }
  toString(): string {
    return `pipelined(${this.batches.map((b) => `[${describeOps(b)}]`).join(' ')})`;
  }
}

class ReopenCommand implements fc.AsyncCommand<StorageModel, Real> {
  check(_model: Readonly<StorageModel>): boolean {
    return true;
  }
  async run(model: StorageModel, real: Real): Promise<void> {
    if (real.reopen === undefined) return;
    await real.driver.close();
    real.driver = await real.reopen();
    await compare(model, real);
  }
  toString(): string {
    return 'reopen';
  }
}

// ---------------------------------------------------------------------------------------------
// The suite.

export function storageConformanceSuite(
  name: string,
  makeDriver: () => Promise<ConformanceDriverHandle>,
  options: ConformanceOptions = {},
): void {
  interface Harness {
    driver: StorageDriver;
    canReopen: boolean;
    /** Closes the driver and opens it again over the same data (or just returns it, if unsupported). */
    reopen(): Promise<StorageDriver>;
  }

  async function withDriver(fn: (h: Harness) => Promise<void>): Promise<void> {
    const made = await makeDriver();
    const h: Harness = {
      driver: made.driver,
      canReopen: made.reopen !== undefined,
      async reopen() {
        if (made.reopen === undefined) return h.driver;
        await h.driver.close();
        h.driver = await made.reopen();
        return h.driver;
      },
    };
    try {
      await fn(h);
    } finally {
      await made.cleanup();
    }
  }

  const t = (title: string, fn: (h: Harness) => Promise<void>, timeout?: number): void => {
    it(title, () => withDriver(fn), timeout);
  };

  describe(`storage driver conformance: ${name}`, () => {
    describe('sessions', () => {
      t('session.put stores, replaces and keeps will, expiry and disconnect time exactly', async (h) => {
        const will = { message: message('w1', { topic: 'will/x', retain: true, qos: 2, payload: Buffer.alloc(0) }), delayInterval: 30 };
        await h.driver.apply([
          { op: 'session.put', session: session('c1', { protocolVersion: 3, expiryInterval: 0 }) },
          { op: 'session.put', session: session('c2', { will, disconnectedAt: T0 + 5, expiryInterval: 0xffffffff }) },
          { op: 'session.put', session: session('c3', { will: null, protocolVersion: 4 }) },
        ]);
        const expected = [
          session('c1', { protocolVersion: 3, expiryInterval: 0 }),
          session('c2', { will, disconnectedAt: T0 + 5, expiryInterval: 0xffffffff }),
          session('c3', { will: null, protocolVersion: 4 }),
        ];
        expect((await h.driver.listSessions()).sort(byString((s) => s.clientId))).toStrictEqual(expected);
        await h.driver.apply([{ op: 'session.put', session: session('c2', { disconnectedAt: null }) }]);
        expected[1] = session('c2', { disconnectedAt: null });
        await h.reopen();
        expect((await h.driver.listSessions()).sort(byString((s) => s.clientId))).toStrictEqual(expected);
      });

      t('session.delete cascades to subscriptions, outbound entries and inbound QoS 2 ids, and only its own', async (h) => {
        const ids = ['a', 'ab', 'a/', 'b'];
        const ops: StorageOp[] = [{ op: 'msg.put', message: message('shared') }];
        for (const c of ids) {
          ops.push(
            { op: 'session.put', session: session(c) },
            { op: 'sub.put', sub: subscription(c, 'x/+') },
            { op: 'sub.put', sub: subscription(c, '$share/g/y') },
            { op: 'out.put', entry: entry(c, 1, 'shared') },
            { op: 'out.put', entry: entry(c, 2, 'shared') },
            { op: 'in2.put', clientId: c, packetId: 7 },
          );
        }
        await h.driver.apply(ops);
        await h.driver.apply([{ op: 'session.delete', clientId: 'a' }]);
        await h.reopen();
        const dump = await dumpDriver(h.driver, ids);
        expect(dump.sessions.map((s) => s.clientId)).toEqual(['a/', 'ab', 'b']);
        expect(dump.subscriptions.filter((s) => s.clientId === 'a')).toEqual([]);
        expect(dump.subscriptions).toHaveLength(6);
        expect(dump.outbound['a']).toEqual([]);
        expect(dump.inbound2['a']).toEqual([]);
        for (const c of ['ab', 'a/', 'b']) {
          expect((dump.outbound[c] as unknown[]).length).toBe(2);
          expect(dump.inbound2[c]).toEqual([7]);
        }
        expect(new Map(dump.summary).has('a')).toBe(false);
        // Deleting a session that does not exist is allowed and changes nothing.
        await h.driver.apply([{ op: 'session.delete', clientId: 'nobody' }]);
        expect(await dumpDriver(h.driver, ids)).toEqual(dump);
      });

      t('a session deleted and created again in one batch starts empty', async (h) => {
        await h.driver.apply([
          { op: 'session.put', session: session('c') },
          { op: 'msg.put', message: message('m') },
          { op: 'out.put', entry: entry('c', 1, 'm') },
          { op: 'sub.put', sub: subscription('c', 'old') },
        ]);
        await h.driver.apply([
          { op: 'out.put', entry: entry('c', 2, 'm') },
          { op: 'session.delete', clientId: 'c' },
          { op: 'session.put', session: session('c', { expiryInterval: 1 }) },
          { op: 'sub.put', sub: subscription('c', 'new') },
          { op: 'msg.put', message: message('n') },
          { op: 'out.put', entry: entry('c', 1, 'n') },
        ]);
        await h.reopen();
        expect(await h.driver.listSessions()).toEqual([session('c', { expiryInterval: 1 })]);
        expect(await h.driver.listSubscriptions()).toEqual([subscription('c', 'new')]);
        expect(await h.driver.listOutbound('c')).toEqual([{ ...entry('c', 1, 'n'), message: message('n') }]);
        const counter = bodyCounter(h.driver);
        if (counter !== null) expect(await counter.messageBodyCount()).toBe(1);
      });
    });

    describe('subscriptions', () => {
      t('sub.put stores and replaces per (clientId, filter); sub.delete removes; missing delete is a no-op', async (h) => {
        await h.driver.apply([
          { op: 'session.put', session: session('c') },
          { op: 'session.put', session: session('d') },
          { op: 'sub.put', sub: subscription('c', 'a/#', { qos: 2, noLocal: true, subscriptionId: 268_435_455 }) },
          { op: 'sub.put', sub: subscription('c', '$share/g/a/+', { retainAsPublished: true, retainHandling: 2 }) },
          { op: 'sub.put', sub: subscription('d', 'a/#', { qos: 0, retainHandling: 1 }) },
        ]);
        await h.driver.apply([
          { op: 'sub.put', sub: subscription('c', 'a/#', { qos: 0 }) },
          { op: 'sub.delete', clientId: 'd', filter: 'a/#' },
          { op: 'sub.delete', clientId: 'd', filter: 'never' },
        ]);
        await h.reopen();
        expect((await h.driver.listSubscriptions()).sort(byString((s) => s.filter))).toStrictEqual([
          subscription('c', '$share/g/a/+', { retainAsPublished: true, retainHandling: 2 }),
          subscription('c', 'a/#', { qos: 0 }),
        ]);
      });
    });

    describe('outbound entries', () => {
      t('listOutbound returns entries in seq order whatever the insert order (numeric, not lexicographic)', async (h) => {
        const seqs = [10, 9, 2 ** 40, 0, 255, 256, 16, 15, Number.MAX_SAFE_INTEGER, 1, 100];
        await h.driver.apply([{ op: 'session.put', session: session('c') }, { op: 'msg.put', message: message('m') }, { op: 'out.put', entry: entry('c', 5, 'm') }]);
        for (const s of seqs) await h.driver.apply([{ op: 'out.put', entry: entry('c', s, 'm') }]);
        const sorted = [...seqs, 5].sort((a, b) => a - b);
        expect((await h.driver.listOutbound('c')).map((e) => e.seq)).toEqual(sorted);
        await h.reopen();
        expect((await h.driver.listOutbound('c')).map((e) => e.seq)).toEqual(sorted);
        expect(await h.driver.listOutbound('nobody')).toEqual([]);
      });

      t('out.put replaces the entry: queued -> sent (packetId) -> pubrel, then out.delete', async (h) => {
        const m = message('m', { qos: 2 });
        await h.driver.apply([{ op: 'session.put', session: session('c') }, { op: 'msg.put', message: m }, { op: 'out.put', entry: entry('c', 3, 'm', { qos: 2 }) }]);
        expect(await h.driver.listOutbound('c')).toStrictEqual([{ ...entry('c', 3, 'm', { qos: 2 }), message: m }]);
        const sent = entry('c', 3, 'm', { qos: 2, state: 'sent', packetId: 42, subscriptionIds: [1, 9], retain: true });
        await h.driver.apply([{ op: 'out.put', entry: sent }]);
        expect(await h.driver.listOutbound('c')).toStrictEqual([{ ...sent, message: m }]);
        const pubrel = entry('c', 3, 'm', { qos: 2, state: 'pubrel', packetId: 42 });
        await h.driver.apply([{ op: 'out.put', entry: pubrel }]);
        await h.reopen();
        expect(await h.driver.listOutbound('c')).toStrictEqual([{ ...pubrel, message: m }]);
        expect(await h.driver.outboundSummary()).toEqual(new Map([['c', { count: 1, maxSeq: 3 }]]));
        await h.driver.apply([{ op: 'out.delete', clientId: 'c', seq: 3 }, { op: 'out.delete', clientId: 'c', seq: 99 }]);
        expect(await h.driver.listOutbound('c')).toEqual([]);
        expect(await h.driver.outboundSummary()).toEqual(new Map());
      });

      t('outboundSummary gives count and highest remaining seq per session that has entries', async (h) => {
        await h.driver.apply([
          { op: 'session.put', session: session('A') },
          { op: 'session.put', session: session('B') },
          { op: 'session.put', session: session('C') },
          { op: 'msg.put', message: message('m') },
          { op: 'out.put', entry: entry('A', 3, 'm') },
          { op: 'out.put', entry: entry('A', 7, 'm') },
          { op: 'out.put', entry: entry('A', 5, 'm') },
          { op: 'out.put', entry: entry('B', 1, 'm') },
        ]);
        expect(await h.driver.outboundSummary()).toEqual(
          new Map([
            ['A', { count: 3, maxSeq: 7 }],
            ['B', { count: 1, maxSeq: 1 }],
          ]),
        );
        await h.driver.apply([{ op: 'out.delete', clientId: 'A', seq: 7 }, { op: 'out.delete', clientId: 'B', seq: 1 }]);
        await h.reopen();
        expect(await h.driver.outboundSummary()).toEqual(new Map([['A', { count: 2, maxSeq: 5 }]]));
      });
    });

    describe('message bodies', () => {
      t('a body shared by several entries is stored once and dropped with its last reference', async (h) => {
        const m = message('shared', { payload: patternBytes(1000) });
        await h.driver.apply([
          ...['A', 'B', 'C', 'D'].map((c): StorageOp => ({ op: 'session.put', session: session(c) })),
          { op: 'msg.put', message: m },
          { op: 'out.put', entry: entry('A', 1, 'shared') },
          { op: 'out.put', entry: entry('B', 1, 'shared') },
          { op: 'out.put', entry: entry('C', 1, 'shared') },
          { op: 'out.put', entry: entry('D', 4, 'shared') },
        ]);
        const counter = (): Promise<number | null> => bodyCounter(h.driver)?.messageBodyCount() ?? Promise.resolve(null);
        if (bodyCounter(h.driver)) expect(await counter()).toBe(1);
        await h.driver.apply([{ op: 'out.delete', clientId: 'A', seq: 1 }, { op: 'out.delete', clientId: 'B', seq: 1 }]);
        await h.reopen();
        expect((await h.driver.listOutbound('C'))[0]?.message).toStrictEqual(m);
        // An entry may reference a body stored by an earlier batch while some entry still holds it.
        await h.driver.apply([{ op: 'out.put', entry: entry('A', 2, 'shared') }, { op: 'out.delete', clientId: 'A', seq: 2 }]);
        await h.driver.apply([{ op: 'out.delete', clientId: 'C', seq: 1 }]);
        // The last reference goes with a session.delete.
        await h.driver.apply([{ op: 'session.delete', clientId: 'D' }]);
        if (bodyCounter(h.driver)) expect(await counter()).toBe(0);
        // Once collected, the body is gone: referencing it again needs a new msg.put.
        await expectOpError(h.driver.apply([{ op: 'out.put', entry: entry('A', 3, 'shared') }]), 0);
        await h.driver.apply([{ op: 'msg.put', message: m }, { op: 'out.put', entry: entry('A', 3, 'shared') }]);
        expect((await h.driver.listOutbound('A')).map((e) => e.message)).toStrictEqual([m]);
      });

      t('replacing an entry moves its reference; a body nobody references is never kept', async (h) => {
        await h.driver.apply([
          { op: 'session.put', session: session('c') },
          { op: 'msg.put', message: message('m1') },
          { op: 'msg.put', message: message('m2') },
          { op: 'msg.put', message: message('lonely') },
          { op: 'out.put', entry: entry('c', 1, 'm1') },
          { op: 'out.put', entry: entry('c', 1, 'm2') },
        ]);
        expect((await h.driver.listOutbound('c')).map((e) => e.message.id)).toEqual(['m2']);
        if (bodyCounter(h.driver)) expect(await bodyCounter(h.driver)!.messageBodyCount()).toBe(1);
        await h.reopen();
        await expectOpError(h.driver.apply([{ op: 'out.put', entry: entry('c', 2, 'm1') }]), 0);
        await expectOpError(h.driver.apply([{ op: 'out.put', entry: entry('c', 2, 'lonely') }]), 0);
        // Put, referenced and released within one batch: never stored.
        await h.driver.apply([
          { op: 'msg.put', message: message('brief') },
          { op: 'out.put', entry: entry('c', 5, 'brief') },
          { op: 'out.delete', clientId: 'c', seq: 5 },
        ]);
        if (bodyCounter(h.driver)) expect(await bodyCounter(h.driver)!.messageBodyCount()).toBe(1);
        await expectOpError(h.driver.apply([{ op: 'out.put', entry: entry('c', 6, 'brief') }]), 0);
        // A second msg.put of a stored id replaces the body for every entry.
        await h.driver.apply([{ op: 'msg.put', message: message('m2', { payload: Buffer.from('v2') }) }]);
        expect((await h.driver.listOutbound('c'))[0]?.message.payload).toEqual(Buffer.from('v2'));
      });
    });

    describe('inbound QoS 2 ids, retained and delayed messages', () => {
      t('in2.put/in2.delete: ascending ids, puts idempotent, deletes of missing ids allowed', async (h) => {
        await h.driver.apply([
          { op: 'session.put', session: session('c') },
          { op: 'session.put', session: session('cc') },
          { op: 'in2.put', clientId: 'c', packetId: 5 },
          { op: 'in2.put', clientId: 'c', packetId: 65535 },
          { op: 'in2.put', clientId: 'c', packetId: 1 },
          { op: 'in2.put', clientId: 'c', packetId: 5 },
          { op: 'in2.put', clientId: 'cc', packetId: 2 },
        ]);
        expect(await h.driver.listInboundQos2('c')).toEqual([1, 5, 65535]);
        await h.driver.apply([{ op: 'in2.delete', clientId: 'c', packetId: 5 }, { op: 'in2.delete', clientId: 'c', packetId: 6 }]);
        await h.reopen();
        expect(await h.driver.listInboundQos2('c')).toEqual([1, 65535]);
        expect(await h.driver.listInboundQos2('cc')).toEqual([2]);
        expect(await h.driver.listInboundQos2('none')).toEqual([]);
      });

      t('retain.put stores per topic and replaces; retain.delete removes', async (h) => {
        const r1 = message('r1', { topic: 'x/y', retain: true });
        const r2 = message('r2', { topic: 'x/y', retain: true, payload: Buffer.from('newer'), qos: 0 });
        const r3 = message('r3', { topic: 'x', retain: true, expiresAt: T0 + 10_000, properties: { messageExpiryInterval: 10 } });
        await h.driver.apply([{ op: 'retain.put', message: r1 }, { op: 'retain.put', message: r3 }]);
        await h.driver.apply([{ op: 'retain.put', message: r2 }]);
        expect((await h.driver.listRetained()).sort(byString((m) => m.topic))).toStrictEqual([r3, r2]);
        await h.driver.apply([{ op: 'retain.delete', topic: 'x' }, { op: 'retain.delete', topic: 'never' }]);
        await h.reopen();
        expect(await h.driver.listRetained()).toStrictEqual([r2]);
      });

      t('delayed.put stores per id and replaces; delayed.delete removes', async (h) => {
        const d1: DelayedRecord = { id: 'd1', message: message('x1', { topic: '$delayed/10/t' }), fireAt: T0 + 10_000 };
        const d2: DelayedRecord = { id: 'd2', message: message('x2'), fireAt: T0 + 5 };
        const d1b: DelayedRecord = { id: 'd1', message: message('x3'), fireAt: T0 + 20_000 };
        await h.driver.apply([{ op: 'delayed.put', record: d1 }, { op: 'delayed.put', record: d2 }]);
        await h.driver.apply([{ op: 'delayed.put', record: d1b }, { op: 'delayed.delete', id: 'd2' }, { op: 'delayed.delete', id: 'nope' }]);
        await h.reopen();
        expect(await h.driver.listDelayed()).toStrictEqual([d1b]);
      });
    });

    describe('payloads and names', () => {
      t('5 MB, empty and all-byte-values payloads round-trip exactly everywhere a message is stored', async (h) => {
        const big = patternBytes(5 * 1024 * 1024, 7);
        const binary = Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 7) & 0xff));
        const props = {
          payloadFormatIndicator: false,
          correlationData: Buffer.from([0, 255, 0]),
          contentType: '',
          userProperties: { __proto__x: 'y', '': '', 'ü': ['1', '2'] },
        };
        const mBig = message('big', { payload: big });
        const mEmpty = message('empty', { payload: Buffer.alloc(0), properties: {} });
        const mBin = message('bin', { payload: binary, properties: props });
        await h.driver.apply([
          { op: 'session.put', session: session('c', { will: { message: message('will', { payload: big }), delayInterval: 0 } }) },
          { op: 'msg.put', message: mBig },
          { op: 'msg.put', message: mEmpty },
          { op: 'msg.put', message: mBin },
          { op: 'out.put', entry: entry('c', 1, 'big') },
          { op: 'out.put', entry: entry('c', 2, 'empty') },
          { op: 'out.put', entry: entry('c', 3, 'bin') },
          { op: 'retain.put', message: { ...mBig, topic: 'big' } },
          { op: 'retain.put', message: { ...mEmpty, topic: 'empty' } },
          { op: 'delayed.put', record: { id: 'd', message: mBin, fireAt: 1 } },
        ]);
        await h.reopen();
        // Deep equality walks a Buffer byte by byte (seconds for 5 MB): compare payloads with equals().
        const samePayload = (got: StoredMessage | undefined, want: StoredMessage): void => {
          expect(got).toBeDefined();
          expect(Buffer.isBuffer(got!.payload)).toBe(true);
          expect(got!.payload.length).toBe(want.payload.length);
          expect(got!.payload.equals(want.payload)).toBe(true);
          expect({ ...got!, payload: null }).toStrictEqual({ ...want, payload: null });
        };
        const out = await h.driver.listOutbound('c');
        expect(out.map((e) => e.seq)).toEqual([1, 2, 3]);
        samePayload(out[0]?.message, mBig);
        samePayload(out[1]?.message, mEmpty);
        samePayload(out[2]?.message, mBin);
        const retained = (await h.driver.listRetained()).sort(byString((m) => m.topic));
        samePayload(retained[0], { ...mBig, topic: 'big' });
        samePayload(retained[1], { ...mEmpty, topic: 'empty' });
        expect((await h.driver.listDelayed())[0]?.message).toStrictEqual(mBin);
        samePayload((await h.driver.listSessions())[0]?.will?.message, message('will', { payload: big }));
      }, 60_000);

      t('a user property named "__proto__" stays a plain entry', async (h) => {
        const userProperties = JSON.parse('{"__proto__":"x","a":["b"]}') as Record<string, string | string[]>;
        const m = message('p', { properties: { userProperties } });
        await h.driver.apply([{ op: 'retain.put', message: m }]);
        await h.reopen();
        const got = (await h.driver.listRetained())[0]!.properties!.userProperties!;
        expect(Object.keys(got).sort()).toEqual(['__proto__', 'a']);
        expect(Object.getOwnPropertyDescriptor(got, '__proto__')?.value).toBe('x');
      });

      t('multi-byte and slash-heavy client ids, filters, topics and ids work as keys', async (h) => {
        const ids = ['客户端/设备/1', 'ü', '😀/😁', '/', '//', 'a/b/c/d/e/f/g', '$SYS/x', 'ü/'];
        const ops: StorageOp[] = [];
        ids.forEach((c, i) => {
          ops.push(
            { op: 'session.put', session: session(c) },
            { op: 'sub.put', sub: subscription(c, `${c}/+/#`) },
            { op: 'msg.put', message: message(`${c}#msg`, { topic: `${c}/${c}`, origin: c }) },
            { op: 'out.put', entry: entry(c, i, `${c}#msg`) },
            { op: 'in2.put', clientId: c, packetId: i + 1 },
            { op: 'retain.put', message: message(`r${i}`, { topic: c }) },
            { op: 'delayed.put', record: { id: `${c}⏰`, message: message(`d${i}`), fireAt: i } },
          );
        });
        await h.driver.apply(ops);
        await h.reopen();
        const dump = await dumpDriver(h.driver, ids);
        expect(dump.sessions.map((s) => s.clientId).sort()).toEqual([...ids].sort());
        ids.forEach((c, i) => {
          expect(dump.outbound[c]).toEqual([{ ...entry(c, i, `${c}#msg`), message: message(`${c}#msg`, { topic: `${c}/${c}`, origin: c }) }]);
          expect(dump.inbound2[c]).toEqual([i + 1]);
        });
        expect(dump.subscriptions.map((s) => s.filter).sort()).toEqual(ids.map((c) => `${c}/+/#`).sort());
        expect(dump.retained.map((m) => m.topic).sort()).toEqual([...ids].sort());
        expect(dump.delayed.map((d) => d.id).sort()).toEqual(ids.map((c) => `${c}⏰`).sort());
        await h.driver.apply([{ op: 'session.delete', clientId: 'ü' }]);
        expect(await h.driver.listOutbound('ü/')).toHaveLength(1);
        expect(await h.driver.listInboundQos2('ü/')).toHaveLength(1);
      });

      t('records are copies: mutating what was passed in or what came out changes nothing stored', async (h) => {
        const m = message('m', { payload: Buffer.from('original'), properties: { userProperties: { k: ['v'] } } });
        const e = entry('c', 1, 'm', { subscriptionIds: [1] });
        await h.driver.apply([{ op: 'session.put', session: session('c') }, { op: 'msg.put', message: m }, { op: 'out.put', entry: e }]);
        m.payload.write('XXXXXXXX');
        (m.properties!.userProperties!['k'] as string[]).push('w');
        e.subscriptionIds!.push(2);
        const first = await h.driver.listOutbound('c');
        first[0]!.message.payload.fill(0);
        first[0]!.subscriptionIds!.push(3);
        const again = await h.driver.listOutbound('c');
        expect(again[0]!.message.payload.toString()).toBe('original');
        expect(again[0]!.message.properties).toEqual({ userProperties: { k: ['v'] } });
        expect(again[0]!.subscriptionIds).toEqual([1]);
      });
    });

    describe('scale and concurrency', () => {
      t('1,000 sessions with outbound entries, then half of them deleted in one batch', async (h) => {
        const n = 1000;
        const client = (i: number): string => `client-${i}/设备`;
        const writes: Array<Promise<void>> = [];
        for (let start = 0; start < n; start += 100) {
          const ops: StorageOp[] = [{ op: 'msg.put', message: message('shared') }];
          for (let i = start; i < start + 100; i++) {
            ops.push(
              { op: 'session.put', session: session(client(i)) },
              { op: 'sub.put', sub: subscription(client(i), `t/${i}`) },
              { op: 'msg.put', message: message(`own-${i}`, { payload: patternBytes(64, i + 1) }) },
              { op: 'out.put', entry: entry(client(i), 1, 'shared') },
              { op: 'out.put', entry: entry(client(i), 2, `own-${i}`) },
              { op: 'out.put', entry: entry(client(i), 3 + i, 'shared') },
            );
          }
          writes.push(h.driver.apply(ops));
        }
        await Promise.all(writes);
        await h.reopen();
        expect(await h.driver.listSessions()).toHaveLength(n);
        const summary = await h.driver.outboundSummary();
        expect(summary.size).toBe(n);
        for (let i = 0; i < n; i++) expect(summary.get(client(i))).toEqual({ count: 3, maxSeq: 3 + i });
        const sample = await h.driver.listOutbound(client(777));
        expect(sample.map((e) => [e.seq, e.message.id])).toEqual([[1, 'shared'], [2, 'own-777'], [780, 'shared']]);
        expect(sample[1]!.message.payload.equals(patternBytes(64, 778))).toBe(true);
        const deletes: StorageOp[] = [];
        for (let i = 0; i < n; i += 2) deletes.push({ op: 'session.delete', clientId: client(i) });
        await h.driver.apply(deletes);
        expect((await h.driver.outboundSummary()).size).toBe(n / 2);
        expect(await h.driver.listSubscriptions()).toHaveLength(n / 2);
        if (bodyCounter(h.driver)) expect(await bodyCounter(h.driver)!.messageBodyCount()).toBe(1 + n / 2);
      }, 60_000);

      t('concurrent apply() calls all land, in call order, and a rejected one does not affect the others', async (h) => {
        await h.driver.apply([{ op: 'session.put', session: session('c') }, { op: 'msg.put', message: message('m') }, { op: 'out.put', entry: entry('c', 0, 'm') }]);
        const calls: Array<Promise<unknown>> = [];
        for (let i = 1; i <= 100; i++) {
          calls.push(
            h.driver.apply([
              { op: 'session.put', session: session(`s${i}`) },
              { op: 'msg.put', message: message(`m${i}`) },
              { op: 'out.put', entry: entry('c', i, `m${i}`) },
              { op: 'out.delete', clientId: 'c', seq: i - 1 },
            ]),
          );
        }
        const bad = h.driver.apply([{ op: 'session.put', session: session('bad') }, { op: 'out.put', entry: entry('c', 500, 'never-put') }]);
        // Issued after the first 100 without waiting: sees their effect (in2 of a session put above).
        const after = h.driver.apply([{ op: 'in2.put', clientId: 's100', packetId: 9 }, { op: 'out.put', entry: entry('c', 101, 'm100') }]);
        await Promise.all(calls);
        await expectOpError(bad, 1);
        await after;
        expect((await h.driver.listOutbound('c')).map((e) => [e.seq, e.messageId])).toEqual([[100, 'm100'], [101, 'm100']]);
        expect(await h.driver.listSessions()).toHaveLength(101);
        expect(await h.driver.listInboundQos2('s100')).toEqual([9]);
        if (bodyCounter(h.driver)) expect(await bodyCounter(h.driver)!.messageBodyCount()).toBe(1);
      });

      t('concurrent readers see whole batches while writes go on', async (h) => {
        await h.driver.apply([{ op: 'session.put', session: session('c') }]);
        const writes: Array<Promise<void>> = [];
        const reads: Array<Promise<void>> = [];
        for (let i = 1; i <= 30; i++) {
          // Every batch keeps exactly one entry, moving it to a new seq and a new body.
          writes.push(
            h.driver.apply([
              { op: 'msg.put', message: message(`m${i}`) },
              { op: 'out.put', entry: entry('c', i, `m${i}`) },
              { op: 'out.delete', clientId: 'c', seq: i - 1 },
            ]),
          );
          reads.push(
            h.driver.listOutbound('c').then((list) => {
              expect(list.length).toBeLessThanOrEqual(1);
              if (list.length === 1) expect(list[0]!.message.id).toBe(`m${list[0]!.seq}`);
            }),
          );
        }
        await Promise.all([...writes, ...reads]);
        expect((await h.driver.listOutbound('c')).map((e) => e.seq)).toEqual([30]);
      });
    });

    describe('atomicity and validation', () => {
      const invalid: Array<[string, StorageOp[], number]> = [
        ['out.put of a message id that was never put', [{ op: 'session.put', session: session('n') }, { op: 'msg.put', message: message('ok') }, { op: 'out.put', entry: entry('n', 1, 'never') }], 2],
        ['sub.put for a session that does not exist', [{ op: 'retain.put', message: message('r', { topic: 'r' }) }, { op: 'sub.put', sub: subscription('ghost', 'x') }], 1],
        ['in2.put for a session that does not exist', [{ op: 'in2.put', clientId: 'ghost', packetId: 1 }], 0],
        ['out.put after session.delete in the same batch', [{ op: 'session.put', session: session('n') }, { op: 'msg.put', message: message('ok') }, { op: 'session.delete', clientId: 'n' }, { op: 'out.put', entry: entry('n', 1, 'ok') }], 3],
        ['packetId 0', [{ op: 'session.put', session: session('n') }, { op: 'in2.put', clientId: 'n', packetId: 0 }], 1],
        ['packetId 65536', [{ op: 'session.put', session: session('n') }, { op: 'in2.put', clientId: 'n', packetId: 65536 }], 1],
        ['qos 3', [{ op: 'retain.put', message: { ...message('q'), qos: 3 as 0 } }], 0],
        ['negative seq', [{ op: 'out.delete', clientId: 'n', seq: -1 }], 0],
        ['fractional seq', [{ op: 'out.delete', clientId: 'n', seq: 1.5 }], 0],
        ['U+0000 in a client id', [{ op: 'session.put', session: session('a\u0000b') }], 0],
        ['lone surrogate in a topic', [{ op: 'retain.delete', topic: 'a\ud800' }], 0],
        ['unknown op kind', [{ op: 'session.put', session: session('n') }, { op: 'session.rename' } as unknown as StorageOp], 1],
        ['sent without packetId', [{ op: 'session.put', session: session('n') }, { op: 'msg.put', message: message('ok') }, { op: 'out.put', entry: entry('n', 1, 'ok', { state: 'sent' }) }], 2],
        ['pubrel at qos 1', [{ op: 'session.put', session: session('n') }, { op: 'msg.put', message: message('ok') }, { op: 'out.put', entry: entry('n', 1, 'ok', { state: 'pubrel', packetId: 1 }) }], 2],
        ['a property that is never stored (topicAlias)', [{ op: 'msg.put', message: message('p', { properties: { topicAlias: 3 } as never }) }], 0],
        ['a string payload', [{ op: 'retain.put', message: { ...message('s'), payload: 'text' as unknown as Buffer } }], 0],
        ['protocol version 6', [{ op: 'session.put', session: session('n', { protocolVersion: 6 as 5 }) }], 0],
        ['subscription id 0', [{ op: 'session.put', session: session('n') }, { op: 'sub.put', sub: subscription('n', 'x', { subscriptionId: 0 }) }], 1],
      ];
      for (const [what, ops, index] of invalid) {
        t(`a batch with ${what} rejects with StorageOpError naming op #${index} and applies nothing`, async (h) => {
          await h.driver.apply([{ op: 'session.put', session: session('keep') }, { op: 'msg.put', message: message('k') }, { op: 'out.put', entry: entry('keep', 1, 'k') }]);
          const before = await dumpDriver(h.driver, ['keep', 'n', 'ghost']);
          await expectOpError(h.driver.apply(ops), index);
          expect(await dumpDriver(h.driver, ['keep', 'n', 'ghost'])).toEqual(before);
          if (bodyCounter(h.driver)) expect(await bodyCounter(h.driver)!.messageBodyCount()).toBe(1);
          // The driver keeps working after a rejected batch.
          await h.driver.apply([{ op: 'out.delete', clientId: 'keep', seq: 1 }]);
          expect(await h.driver.listOutbound('keep')).toEqual([]);
        });
      }

      t('sub.put, out.put and in2.put for a session deleted by an earlier batch are rejected', async (h) => {
        await h.driver.apply([
          { op: 'session.put', session: session('gone') },
          { op: 'session.put', session: session('stays') },
          { op: 'msg.put', message: message('m') },
          { op: 'out.put', entry: entry('stays', 1, 'm') },
        ]);
        await h.driver.apply([{ op: 'session.delete', clientId: 'gone' }]);
        for (let round = 0; round < 2; round++) {
          await expectOpError(h.driver.apply([{ op: 'sub.put', sub: subscription('gone', 'x') }]), 0);
          await expectOpError(h.driver.apply([{ op: 'out.put', entry: entry('gone', 1, 'm') }]), 0);
          await expectOpError(h.driver.apply([{ op: 'in2.put', clientId: 'gone', packetId: 1 }]), 0);
          await h.reopen();
        }
        expect(await dumpDriver(h.driver, ['gone'])).toMatchObject({ sessions: [session('stays')], subscriptions: [] });
      });

      t('an empty batch resolves and changes nothing', async (h) => {
        await h.driver.apply([]);
        expect(await h.driver.listSessions()).toEqual([]);
      });
    });

    describe('lifecycle', () => {
      t('reopen after close keeps everything (or, without reopen, calls reject after close)', async (h) => {
        const ops: StorageOp[] = [
          { op: 'session.put', session: session('c', { will: { message: message('w'), delayInterval: 5 }, disconnectedAt: T0 }) },
          { op: 'sub.put', sub: subscription('c', 'f/#', { subscriptionId: 5 }) },
          { op: 'msg.put', message: message('m', { properties: { contentType: 'text/plain', responseTopic: 'r', userProperties: { a: 'b' } }, expiresAt: T0 + 1, origin: 'o' }) },
          { op: 'out.put', entry: entry('c', 1, 'm', { qos: 1, state: 'sent', packetId: 3, retain: false }) },
          { op: 'out.put', entry: entry('c', 2, 'm') },
          { op: 'in2.put', clientId: 'c', packetId: 4 },
          { op: 'retain.put', message: message('r', { topic: 'ret', retain: true }) },
          { op: 'delayed.put', record: { id: 'd', message: message('dm'), fireAt: T0 + 60_000 } },
        ];
        await h.driver.apply(ops);
        const before = await dumpDriver(h.driver, ['c']);
        if (h.canReopen) {
          await h.reopen();
          expect(await dumpDriver(h.driver, ['c'])).toStrictEqual(before);
          await h.reopen();
          expect(await dumpDriver(h.driver, ['c'])).toStrictEqual(before);
          // Reference counts survive a reopen: dropping the two entries collects the body.
          await h.driver.apply([{ op: 'out.delete', clientId: 'c', seq: 1 }, { op: 'out.delete', clientId: 'c', seq: 2 }]);
          await expectOpError(h.driver.apply([{ op: 'out.put', entry: entry('c', 3, 'm') }]), 0);
        } else {
          await h.driver.close();
          await expectStorageError(h.driver.listSessions());
        }
      });

      t('after close() every call rejects with StorageError, and close() is idempotent', async (h) => {
        await h.driver.apply([{ op: 'session.put', session: session('c') }]);
        const pending = h.driver.apply([{ op: 'session.put', session: session('d') }]);
        await h.driver.close();
        // A call made before close() resolves: close waits for it.
        await pending;
        await h.driver.close();
        const d = h.driver;
        await expectStorageError(d.apply([{ op: 'session.put', session: session('e') }]));
        await expectStorageError(d.apply([]));
        await expectStorageError(d.listSessions());
        await expectStorageError(d.listSubscriptions());
        await expectStorageError(d.listOutbound('c'));
        await expectStorageError(d.outboundSummary());
        await expectStorageError(d.listInboundQos2('c'));
        await expectStorageError(d.listRetained());
        await expectStorageError(d.listDelayed());
        if (h.canReopen) {
          await h.reopen();
          expect((await h.driver.listSessions()).map((s) => s.clientId).sort()).toEqual(['c', 'd']);
        }
      });
    });

    describe('model-based (fast-check)', () => {
      const runs = Number(process.env['STORAGE_FC_RUNS'] ?? options.modelRuns ?? 40);
      const seedEnv = process.env['STORAGE_FC_SEED'];
      it(`random batches, pipelined batches and reopens match the model (${runs} runs)`, async () => {
        const commands = fc.commands(
          [
            batchArb.map((ops) => new ApplyCommand(ops)),
            fc.array(batchArb, { minLength: 2, maxLength: 4 }).map((bs) => new PipelinedCommand(bs)),
            fc.constant(new ReopenCommand()),
          ],
          { maxCommands: 25 },
        );
        await fc.assert(
          fc.asyncProperty(commands, async (cmds) => {
            const made = await makeDriver();
            const real: Real = { driver: made.driver };
            if (made.reopen !== undefined) real.reopen = made.reopen;
            try {
              await fc.asyncModelRun(() => ({ model: new StorageModel(), real }), cmds);
            } finally {
              await made.cleanup();
            }
          }),
          { numRuns: runs, ...(seedEnv !== undefined ? { seed: Number(seedEnv) } : {}) },
        );
      }, 120_000);
    });
  });
}
