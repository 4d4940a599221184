// The state machine as a pure function of the log: a model test, determinism through snapshots,
// de-duplication of retried requests, and conditional writes. FC_SEED=n replays a failure.

import fc from 'fast-check';
import { create } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { EventType, MetadataObjectSchema, NodeKind, NodeStatus } from '../../../proto/gen/placement_pb.js';
import type { Command } from '../../../proto/gen/placement_log_pb.js';
import { applyCommand, applyCommands, decodeCommand, decodeCommands, encodeCommand, encodeCommands, makeCommand, PlacementState, type ApplyOutcome } from '../index.js';

const params = (runs: number) => ({ numRuns: runs, ...(process.env.FC_SEED ? { seed: Number(process.env.FC_SEED) } : {}) });
const bytes = (s: string) => new TextEncoder().encode(s);

const key = fc.constantFrom('a', 'b', 'c', 'd/e');
const client = fc.constantFrom('c1', 'c2', 'c3');
const filter = fc.constantFrom('t/1', 't/+', '#');
const broker = fc.constantFrom(1, 2);

/** Commands with request ids drawn from a small space, so retries (duplicates) happen. */
const commandArb: fc.Arbitrary<Command> = fc
  .tuple(
    fc.oneof(
      fc.record({ case: fc.constant('kvSet' as const), key, value: fc.string({ maxLength: 3 }) }),
      fc.record({ case: fc.constant('kvDelete' as const), key }),
      fc.record({ case: fc.constant('register' as const), nodeId: broker }),
      fc.record({ case: fc.constant('unregister' as const), nodeId: broker }),
      fc.record({ case: fc.constant('expire' as const), nodeId: broker, incarnation: fc.integer({ min: 0, max: 30 }) }),
      fc.record({ case: fc.constant('subscribe' as const), clientId: client, filter, brokerId: broker }),
      fc.record({ case: fc.constant('unsubscribe' as const), clientId: client, filter }),
      fc.record({ case: fc.constant('user' as const), username: fc.constantFrom('alice', 'bob'), expect: fc.option(fc.integer({ min: 0, max: 30 })) }),
    ),
    fc.option(fc.tuple(fc.constantFrom('x', 'y'), fc.integer({ min: 1, max: 15 }))),
    fc.integer({ min: 0, max: 1_000_000 }),
  )
  .map(([op, rid, nowMs]) => {
    const requestId = rid ? { clientId: rid[0], seq: rid[1] } : undefined;
    const base = { nowMs, ...(requestId ? { requestId } : {}) };
    switch (op.case) {
      case 'kvSet':
        return makeCommand({ ...base, op: { case: 'kvSet', value: { key: op.key, value: bytes(op.value) } } });
      case 'kvDelete':
        return makeCommand({ ...base, op: { case: 'kvDelete', value: { key: op.key } } });
      case 'register':
        return makeCommand({ ...base, op: { case: 'registerNode', value: { kind: NodeKind.BROKER, nodeId: op.nodeId, address: `h:${op.nodeId}` } } });
      case 'unregister':
        return makeCommand({ ...base, op: { case: 'unregisterNode', value: { kind: NodeKind.BROKER, nodeId: op.nodeId } } });
      case 'expire':
        return makeCommand({ ...base, op: { case: 'expireNode', value: { kind: NodeKind.BROKER, nodeId: op.nodeId, incarnation: op.incarnation } } });
      case 'subscribe':
        return makeCommand({
          ...base,
          op: { case: 'putObject', value: { object: { object: { case: 'subscription', value: { clientId: op.clientId, filter: op.filter, brokerId: op.brokerId } } } } },
        });
      case 'unsubscribe':
        return makeCommand({
          ...base,
          op: { case: 'deleteObject', value: { object: { object: { case: 'subscription', value: { clientId: op.clientId, filter: op.filter } } } } },
        });
      case 'user':
        return makeCommand({
          ...base,
          op: {
            case: 'putObject',
            value: { object: { object: { case: 'user', value: { username: op.username, passwordHash: 'h' } } }, ...(op.expect === null ? {} : { expectedModIndex: op.expect }) },
          },
        });
    }
  });

function applyAll(state: PlacementState, log: readonly Command[], from = 0): ApplyOutcome[] {
  return log.slice(from).map((c, i) => applyCommand(state, from + i + 1, c));
}

/** The reference: plain maps, no de-duplication window, written independently of apply. */
class Model {
  kv = new Map<string, string>();
  nodes = new Map<number, { alive: boolean; incarnation: number }>();
  subs = new Map<string, { filter: string; brokerId: number }>();
  users = new Map<string, number>();
  seen = new Map<string, unknown>();

  apply(index: number, c: Command): void {
    const rid = c.requestId && c.requestId.clientId !== '' ? `${c.requestId.clientId}#${c.requestId.seq}` : undefined;
    if (rid !== undefined && this.seen.has(rid)) return;
    if (rid !== undefined) this.seen.set(rid, true);
    const op = c.op;
    switch (op.case) {
      case 'kvSet':
        this.kv.set(op.value.key, new TextDecoder().decode(op.value.value));
        break;
      case 'kvDelete':
        this.kv.delete(op.value.key);
        break;
      case 'registerNode':
        this.nodes.set(op.value.nodeId, { alive: true, incarnation: index });
        break;
      case 'unregisterNode':
        this.nodes.delete(op.value.nodeId);
        break;
      case 'expireNode': {
        const n = this.nodes.get(op.value.nodeId);
        if (n && n.incarnation === op.value.incarnation) n.alive = false;
        break;
      }
      case 'putObject': {
        const o = op.value.object!.object;
        if (o.case === 'subscription') this.subs.set(`${o.value.clientId} ${o.value.filter}`, { filter: o.value.filter, brokerId: o.value.brokerId });
        if (o.case === 'user') {
          const cur = this.users.get(o.value.username) ?? 0;
          if (op.value.expectedModIndex === undefined || op.value.expectedModIndex === cur) this.users.set(o.value.username, index);
        }
        break;
      }
      case 'deleteObject': {
        const o = op.value.object!.object;
        if (o.case === 'subscription') this.subs.delete(`${o.value.clientId} ${o.value.filter}`);
        break;
      }
      default:
        break;
    }
  }

  routes(): Map<string, Map<number, number>> {
    const r = new Map<string, Map<number, number>>();
    for (const s of this.subs.values()) {
      const m = r.get(s.filter) ?? new Map<number, number>();
      m.set(s.brokerId, (m.get(s.brokerId) ?? 0) + 1);
      r.set(s.filter, m);
    }
    return r;
  }
}

describe('placement state machine', () => {
  it('agrees with a reference model on every command sequence', () => {
    fc.assert(
      fc.property(fc.array(commandArb, { maxLength: 60 }), (log) => {
        const state = new PlacementState();
        const model = new Model();
        log.forEach((c, i) => {
          applyCommand(state, i + 1, c);
          model.apply(i + 1, c);
        });
        expect(Object.fromEntries(state.listKv('').map((e) => [e.key, new TextDecoder().decode(e.value)]))).toEqual(Object.fromEntries(model.kv));
        expect(
          Object.fromEntries(state.listNodes(NodeKind.BROKER).map((n) => [n.nodeId, { alive: n.status === NodeStatus.ALIVE, incarnation: n.incarnation }])),
        ).toEqual(Object.fromEntries(model.nodes));
        expect(Object.fromEntries(state.listRoutes().map((r) => [r.filter, Object.fromEntries(r.brokers.map((b) => [b.brokerId, b.count]))]))).toEqual(
          Object.fromEntries([...model.routes()].map(([f, m]) => [f, Object.fromEntries(m)])),
        );
        expect(Object.fromEntries(state.listObjects('user', '').map((o) => [o.key, o.modIndex]))).toEqual(Object.fromEntries(model.users));
      }),
      params(300),
    );
  });

  it('is a function of the log: restoring a snapshot and applying the rest (twice) gives the same state', () => {
    fc.assert(
      fc.property(fc.array(commandArb, { minLength: 1, maxLength: 60 }), fc.nat(), (log, cut) => {
        const k = cut % (log.length + 1);
        const whole = new PlacementState();
        const wholeOut = applyAll(whole, log);
        const prefix = new PlacementState();
        applyAll(prefix, log.slice(0, k));
        const snap = prefix.snapshot();
        for (let round = 0; round < 2; round++) {
          const restored = PlacementState.restore(snap);
          expect(restored.appliedIndex).toBe(k);
          const out = applyAll(restored, log, k);
          expect(restored.snapshot()).toEqual(whole.snapshot());
          expect(out.map((o) => [o.result, o.events])).toEqual(wholeOut.slice(k).map((o) => [o.result, o.events]));
        }
        // The encoding on the log loses nothing.
        expect(log.map((c) => decodeCommand(encodeCommand(c)))).toEqual(log);
      }),
      params(200),
    );
  });

  it('applies a batch entry like its commands one after another at the same index', () => {
    fc.assert(
      fc.property(fc.array(commandArb, { minLength: 1, maxLength: 20 }), (cmds) => {
        const batched = new PlacementState();
        const outs = applyCommands(batched, 1, decodeCommands(encodeCommands(cmds)));
        expect(outs).toHaveLength(cmds.length);
        for (const e of outs.flatMap((o) => o.events)) expect(e.index).toBe(1);
        // The same commands in separate entries reach the same KV contents and routes.
        const single = new PlacementState();
        cmds.forEach((c, i) => applyCommand(single, i + 1, c));
        const kv = (s: PlacementState) => s.listKv('').map((e) => [e.key, e.value]);
        expect(kv(batched)).toEqual(kv(single));
        expect(batched.listRoutes()).toEqual(single.listRoutes());
      }),
      params(200),
    );
  });

  it('applies a retried request once and answers the retry with the first result', () => {
    const s = new PlacementState();
    const set = (v: string) => makeCommand({ requestId: { clientId: 'c', seq: 1 }, op: { case: 'kvSet', value: { key: 'k', value: bytes(v) } } });
    const first = applyCommand(s, 1, set('one'));
    applyCommand(s, 2, makeCommand({ requestId: { clientId: 'd', seq: 1 }, op: { case: 'kvSet', value: { key: 'k', value: bytes('two') } } }));
    const retry = applyCommand(s, 3, set('one'));
    expect(retry.duplicate).toBe(true);
    expect(retry.events).toEqual([]);
    expect(retry.result).toEqual(first.result);
    expect(new TextDecoder().decode(s.getKv('k')!.value)).toBe('two');
  });

  it('refuses conditional puts that do not match, with typed codes, and changes nothing', () => {
    const s = new PlacementState();
    const put = (expectedModIndex?: number) =>
      makeCommand({
        op: {
          case: 'putObject',
          value: { object: create(MetadataObjectSchema, { object: { case: 'user', value: { username: 'alice' } } }), ...(expectedModIndex === undefined ? {} : { expectedModIndex }) },
        },
      });
    expect(applyCommand(s, 1, put(0)).result.result.case).toBe('putObject');
    expect(applyCommand(s, 2, put(0)).result.result).toMatchObject({ case: 'error', value: { code: 'PC_ALREADY_EXISTS' } });
    expect(applyCommand(s, 3, put(7)).result.result).toMatchObject({ case: 'error', value: { code: 'PC_CONFLICT' } });
    const ok = applyCommand(s, 4, put(1));
    expect(ok.result.result).toMatchObject({ case: 'putObject', value: { created: false, index: 4 } });
    expect(ok.events.map((e) => [e.key, e.type])).toEqual([['user/alice', EventType.PUT]]);
    expect(applyCommand(s, 5, makeCommand({ op: { case: 'kvSet', value: { key: '' } } })).result.result).toMatchObject({
      case: 'error',
      value: { code: 'PC_INVALID_ARGUMENT' },
    });
  });

  it('announces route changes when a filter gains its first or loses its last subscriber on a broker', () => {
    const s = new PlacementState();
    const sub = (clientId: string, brokerId: number) =>
      makeCommand({ op: { case: 'putObject', value: { object: { object: { case: 'subscription', value: { clientId, filter: 't/#', brokerId } } } } } });
    const e1 = applyCommand(s, 1, sub('a', 1)).events;
    expect(e1.map((e) => e.key)).toEqual(['subscription/a/t%2F%23', 'route/t/#']);
    expect(s.route('t/#')?.brokers.map((b) => [b.brokerId, b.count])).toEqual([[1, 1]]);
    applyCommand(s, 2, sub('b', 1));
    applyCommand(s, 3, sub('b', 2)); // moved to broker 2
    expect(s.route('t/#')?.brokers.map((b) => [b.brokerId, b.count])).toEqual([
      [1, 1],
      [2, 1],
    ]);
    const del = (clientId: string) =>
      makeCommand({ op: { case: 'deleteObject', value: { object: { object: { case: 'subscription', value: { clientId, filter: 't/#' } } } } } });
    applyCommand(s, 4, del('a'));
    const last = applyCommand(s, 5, del('b')).events;
    expect(last.map((e) => [e.key, e.type])).toEqual([
      ['subscription/b/t%2F%23', EventType.DELETE],
      ['route/t/#', EventType.DELETE],
    ]);
    expect(s.listRoutes()).toEqual([]);
  });
});
