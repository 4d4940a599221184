// The state machine's transition function: apply(state, index, command) -> (result, watch
// events). It reads nothing but its arguments (time comes in the command's now_ms, set by the
// proposing leader), so every replica that applies the same log reaches the same state; it
// mutates `state` in place for speed (tests check determinism through snapshot bytes).
//
// A command refused for a reason in its content (a conflict, a missing key field) changes nothing
// and yields a CommandError result: refusals are replicated outcomes too, so every replica and
// every retry sees the same answer.

import { create } from '@bufbuild/protobuf';
import {
  ClusterNodeSchema,
  EventType,
  KvEntrySchema,
  NodeStatus,
  StoredObjectSchema,
  WatchEventSchema,
  type ClusterNode,
  type MetadataObject,
  type StoredObject,
  type WatchEvent,
  type WatchValue,
} from '../../proto/gen/placement_pb.js';
import { CommandResultSchema, DedupEntrySchema, MemberRecordSchema, type Command, type CommandResult } from '../../proto/gen/placement_log_pb.js';
import { kindNames, objectKey } from './object-keys.js';
import { nodeKey, type PlacementState } from './placement-state.js';

/** A retried request is recognised for this many log indexes after it was first applied. */
export const DEDUP_WINDOW = 100_000;

/** Heartbeat timeout of a node that registered with 0. */
export const DEFAULT_HEARTBEAT_TIMEOUT_MS = 10_000;

export interface ApplyOutcome {
  readonly result: CommandResult;
  readonly events: readonly WatchEvent[];
  /** The request id was seen before: the stored result is returned and nothing changed. */
  readonly duplicate: boolean;
}

type Value = NonNullable<WatchValue['value']>;

function event(index: number, type: EventType, key: string, value: Value): WatchEvent {
  return create(WatchEventSchema, { index, type, key, value: { value } });
}

function refuse(code: string, message: string): CommandResult {
  return create(CommandResultSchema, { result: { case: 'error', value: { code, message } } });
}

function routeEvents(state: PlacementState, index: number, filters: Iterable<string>): WatchEvent[] {
  const out: WatchEvent[] = [];
  for (const filter of new Set(filters)) {
    const r = state.route(filter);
    out.push(
      r
        ? event(index, EventType.PUT, `route/${filter}`, { case: 'route', value: r })
        : event(index, EventType.DELETE, `route/${filter}`, { case: 'route', value: { $typeName: 'robustmq.placement.v1.RouteEntry', filter, brokers: [] } }),
    );
  }
  return out;
}

function subscriptionOf(o: StoredObject | undefined): { filter: string; brokerId: number } | undefined {
  const obj = o?.object?.object;
  return obj?.case === 'subscription' ? obj.value : undefined;
}

export function applyCommand(state: PlacementState, index: number, cmd: Command): ApplyOutcome {
  return applyCommands(state, index, [cmd])[0]!;
}

/** The commands of one log entry, in order, all at the entry's index. */
export function applyCommands(state: PlacementState, index: number, cmds: readonly Command[]): ApplyOutcome[] {
  if (index <= state.appliedIndex) throw new RangeError(`apply(${index}) at or below applied index ${state.appliedIndex}`);
  state.appliedIndex = index;
  return cmds.map((cmd) => applyOne(state, index, cmd));
}

function applyOne(state: PlacementState, index: number, cmd: Command): ApplyOutcome {
  const rid = cmd.requestId;
  const dedupKey = rid && rid.clientId !== '' ? `${rid.clientId}#${rid.seq}` : undefined;
  if (dedupKey !== undefined) {
    const seen = state.dedup.get(dedupKey);
    if (seen?.result) return { result: seen.result, events: [], duplicate: true };
  }

  const { result, events } = transition(state, index, cmd);

  if (dedupKey !== undefined) {
    state.dedup.set(dedupKey, create(DedupEntrySchema, { clientId: rid!.clientId, seq: rid!.seq, index, result }));
  }
  // Oldest first (insertion order): stop at the first entry still inside the window.
  for (const [k, d] of state.dedup) {
    if (d.index > index - DEDUP_WINDOW) break;
    state.dedup.delete(k);
  }
  return { result, events, duplicate: false };
}

function transition(state: PlacementState, index: number, cmd: Command): { result: CommandResult; events: WatchEvent[] } {
  const op = cmd.op;
  const ok = (result: CommandResult['result'], events: WatchEvent[] = []) => ({ result: create(CommandResultSchema, { result }), events });
  switch (op.case) {
    case 'kvSet': {
      const { key, value } = op.value;
      if (key === '') return { result: refuse('PC_INVALID_ARGUMENT', 'kv key must not be empty'), events: [] };
      const prev = state.kv.get(key);
      const entry = create(KvEntrySchema, { key, value, createIndex: prev?.createIndex ?? index, modIndex: index });
      state.kv.set(key, entry);
      return ok({ case: 'kvSet', value: { $typeName: 'robustmq.placement.v1.KvSetResponse', index } }, [
        event(index, EventType.PUT, `kv/${key}`, { case: 'kv', value: entry }),
      ]);
    }
    case 'kvDelete': {
      const { key } = op.value;
      const prev = state.kv.get(key);
      state.kv.delete(key);
      return ok(
        { case: 'kvDelete', value: { $typeName: 'robustmq.placement.v1.KvDeleteResponse', existed: prev !== undefined, index } },
        prev ? [event(index, EventType.DELETE, `kv/${key}`, { case: 'kv', value: prev })] : [],
      );
    }
    case 'registerNode': {
      const r = op.value;
      if (!Number.isSafeInteger(r.nodeId) || r.nodeId <= 0) {
        return { result: refuse('PC_INVALID_ARGUMENT', `node_id must be a positive integer, got ${r.nodeId}`), events: [] };
      }
      const key = nodeKey(r.kind, r.nodeId);
      const node = create(ClusterNodeSchema, {
        kind: r.kind,
        nodeId: r.nodeId,
        address: r.address,
        labels: { ...r.labels },
        heartbeatTimeoutMs: r.heartbeatTimeoutMs > 0 ? r.heartbeatTimeoutMs : DEFAULT_HEARTBEAT_TIMEOUT_MS,
        status: NodeStatus.ALIVE,
        registeredAtMs: cmd.nowMs,
        statusChangedAtMs: cmd.nowMs,
        incarnation: index,
      });
      state.nodes.set(key, node);
      return ok({ case: 'registerNode', value: { $typeName: 'robustmq.placement.v1.RegisterNodeResponse', node, index } }, [
        event(index, EventType.PUT, `node/${key}`, { case: 'node', value: node }),
      ]);
    }
    case 'unregisterNode': {
      const key = nodeKey(op.value.kind, op.value.nodeId);
      const prev = state.nodes.get(key);
      state.nodes.delete(key);
      return ok(
        { case: 'unregisterNode', value: { $typeName: 'robustmq.placement.v1.UnregisterNodeResponse', existed: prev !== undefined, index } },
        prev ? [event(index, EventType.DELETE, `node/${key}`, { case: 'node', value: prev })] : [],
      );
    }
    case 'expireNode': {
      const key = nodeKey(op.value.kind, op.value.nodeId);
      const n = state.nodes.get(key);
      if (!n || n.status !== NodeStatus.ALIVE || n.incarnation !== op.value.incarnation) return ok({ case: 'expired', value: false });
      const dead: ClusterNode = create(ClusterNodeSchema, { ...n, status: NodeStatus.DEAD, statusChangedAtMs: cmd.nowMs });
      state.nodes.set(key, dead);
      return ok({ case: 'expired', value: true }, [event(index, EventType.PUT, `node/${key}`, { case: 'node', value: dead })]);
    }
    case 'putObject': {
      const req = op.value;
      const obj = req.object?.object ?? ({ case: undefined } as MetadataObject['object']);
      const k = objectKey(obj);
      if ('error' in k) return { result: refuse('PC_INVALID_ARGUMENT', k.error), events: [] };
      const c = obj.case!;
      const objects = state.objectsOf(c);
      const prev = objects.get(k.key);
      if (req.expectedModIndex !== undefined) {
        const actual = prev?.modIndex ?? 0;
        if (req.expectedModIndex === 0 && prev) {
          return { result: refuse('PC_ALREADY_EXISTS', `${kindNames[c]} ${k.key} already exists`), events: [] };
        }
        if (actual !== req.expectedModIndex) {
          return {
            result: refuse('PC_CONFLICT', `${kindNames[c]} ${k.key} is at mod_index ${actual}, not ${req.expectedModIndex}`),
            events: [],
          };
        }
      }
      const stored = create(StoredObjectSchema, { object: req.object, key: k.key, createIndex: prev?.createIndex ?? index, modIndex: index });
      objects.set(k.key, stored);
      const events = [event(index, EventType.PUT, `${kindNames[c]}/${k.key}`, { case: 'object', value: stored })];
      if (c === 'subscription') {
        const old = subscriptionOf(prev);
        const now = subscriptionOf(stored)!;
        if (!old || old.filter !== now.filter || old.brokerId !== now.brokerId) {
          if (old) state.addRoute(old.filter, old.brokerId, -1);
          state.addRoute(now.filter, now.brokerId, 1);
          events.push(...routeEvents(state, index, old ? [old.filter, now.filter] : [now.filter]));
        }
      }
      return ok({ case: 'putObject', value: { $typeName: 'robustmq.placement.v1.PutObjectResponse', created: prev === undefined, index } }, events);
    }
    case 'deleteObject': {
      const obj = op.value.object?.object ?? ({ case: undefined } as MetadataObject['object']);
      const k = objectKey(obj);
      if ('error' in k) return { result: refuse('PC_INVALID_ARGUMENT', k.error), events: [] };
      const c = obj.case!;
      const objects = state.objectsOf(c);
      const prev = objects.get(k.key);
      objects.delete(k.key);
      const events = prev ? [event(index, EventType.DELETE, `${kindNames[c]}/${k.key}`, { case: 'object', value: prev })] : [];
      const old = subscriptionOf(prev);
      if (old) {
        state.addRoute(old.filter, old.brokerId, -1);
        events.push(...routeEvents(state, index, [old.filter]));
      }
      return ok({ case: 'deleteObject', value: { $typeName: 'robustmq.placement.v1.DeleteObjectResponse', existed: prev !== undefined, index } }, events);
    }
    case 'setMemberAddresses': {
      for (const m of op.value.members) {
        if (!Number.isSafeInteger(m.nodeId) || m.nodeId <= 0 || m.address === '') {
          return { result: refuse('PC_INVALID_ARGUMENT', `member address ${m.nodeId}@${m.address} is not a positive id and a host:port`), events: [] };
        }
      }
      for (const m of op.value.members) {
        const prev = state.members.get(m.nodeId);
        state.members.set(m.nodeId, create(MemberRecordSchema, { nodeId: m.nodeId, address: m.address, removedAt: prev?.removedAt ?? 0 }));
      }
      return ok({ case: 'memberAddressesSet', value: true });
    }
    case undefined:
      return { result: refuse('PC_INVALID_ARGUMENT', 'command has no operation'), events: [] };
  }
}
