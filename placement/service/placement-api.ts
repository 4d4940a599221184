// The placement API's semantics, one function per unary RPC of placement.proto, on a
// PlacementNode. The gRPC server and the embedded client both call these, so the two behave the
// same. Failures are CodedErrors (PC_NOT_LEADER with the leader in details, ...).

import { create } from '@bufbuild/protobuf';
import { CodedError, isErrorCode } from '../../common/errors.js';
import {
  GetObjectResponseSchema,
  KvGetResponseSchema,
  KvListResponseSchema,
  ListNodesResponseSchema,
  ListObjectsResponseSchema,
  ListRoutesResponseSchema,
  MemberRole,
  StatusResponseSchema,
  TransferLeaderResponseSchema,
  HeartbeatResponseSchema,
  AddMemberResponseSchema,
  PromoteLearnerResponseSchema,
  RemoveMemberResponseSchema,
  MemberSchema,
  type MetadataObject,
} from '../../proto/gen/placement_pb.js';
import type { CommandResult } from '../../proto/gen/placement_log_pb.js';
import { caseOfKind, makeCommand, objectKey } from '../state/index.js';
import type { PlacementNode } from './placement-node.js';

import type { PlacementApi } from '../client/api-types.js';

export type { PlacementApi };

type ResultCase = NonNullable<CommandResult['result']['case']>;

type ResultValue<C extends ResultCase> = Extract<CommandResult['result'], { case: C }>['value'];

function unwrap<C extends ResultCase>(r: CommandResult, c: C): ResultValue<C> {
  if (r.result.case === 'error') {
    const { code, message } = r.result.value;
    throw new CodedError(isErrorCode(code) ? code : 'INTERNAL', message);
  }
  if (r.result.case !== c) throw new CodedError('INTERNAL', `command result is ${String(r.result.case)}, expected ${c}`);
  return r.result.value as unknown as ResultValue<C>;
}

function invalid(message: string): CodedError {
  return new CodedError('PC_INVALID_ARGUMENT', message);
}

function keyOf(obj: MetadataObject | undefined): { c: NonNullable<MetadataObject['object']['case']>; key: string } {
  const o = obj?.object ?? ({ case: undefined } as MetadataObject['object']);
  const k = objectKey(o);
  if ('error' in k) throw invalid(k.error);
  return { c: o.case!, key: k.key };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function members(node: PlacementNode) {
  return node.status().members.map((m) =>
    create(MemberSchema, { id: m.id, address: m.address, role: m.learner ? MemberRole.LEARNER : MemberRole.VOTER, matchIndex: m.matchIndex }),
  );
}

export function placementApi(node: PlacementNode): PlacementApi {
  const read = async () => {
    await node.linearizable();
    return node.view;
  };
  return {
    async kvSet(req) {
      if (req.key === '') throw invalid('kv key must not be empty');
      const r = await node.propose(makeCommand({ requestId: req.requestId, op: { case: 'kvSet', value: req } }));
      return unwrap(r, 'kvSet');
    },
    async kvDelete(req) {
      if (req.key === '') throw invalid('kv key must not be empty');
      const r = await node.propose(makeCommand({ requestId: req.requestId, op: { case: 'kvDelete', value: req } }));
      return unwrap(r, 'kvDelete');
    },
    async kvGet(req) {
      const s = await read();
      const entry = s.getKv(req.key);
      return create(KvGetResponseSchema, { found: entry !== undefined, entry, index: s.appliedIndex });
    },
    async kvList(req) {
      const s = await read();
      return create(KvListResponseSchema, { entries: s.listKv(req.prefix), index: s.appliedIndex });
    },
    async status() {
      const st = node.status();
      return create(StatusResponseSchema, {
        nodeId: st.nodeId,
        clusterName: st.clusterName,
        address: st.address,
        role: st.role,
        term: st.term,
        leaderId: st.leaderId,
        leaderAddress: st.leaderAddress,
        commitIndex: st.commitIndex,
        appliedIndex: st.appliedIndex,
        firstIndex: st.firstIndex,
        lastIndex: st.lastIndex,
        snapshotIndex: st.snapshotIndex,
        members: st.members.map((m) => ({ id: m.id, address: m.address, role: m.learner ? MemberRole.LEARNER : MemberRole.VOTER, matchIndex: m.matchIndex })),
        removed: st.removed,
      });
    },
    async transferLeader(req) {
      node.transferLeader(req.to);
      // Answer once `to` leads as far as this member knows, so a caller can act on it. A
      // transfer the leader abandons (it takes longer than an election timeout) ends in
      // PC_TIMEOUT; the caller may ask again.
      const deadline = Date.now() + 2 * node.electionTimeoutMs + 500;
      while (node.leaderId !== req.to) {
        if (Date.now() > deadline) {
          throw new CodedError('PC_TIMEOUT', `node ${req.to} did not become leader within ${2 * node.electionTimeoutMs + 500} ms (leader is ${node.leaderId})`);
        }
        await sleep(10);
      }
      return create(TransferLeaderResponseSchema, { leaderId: req.to, term: node.status().term });
    },
    async addMember(req) {
      const index = await node.changeMembership({ kind: req.asLearner ? 'add-learner' : 'add-voter', nodeId: req.nodeId, address: req.address });
      return create(AddMemberResponseSchema, { index, members: members(node) });
    },
    async promoteLearner(req) {
      const index = await node.changeMembership({ kind: 'promote', nodeId: req.nodeId });
      return create(PromoteLearnerResponseSchema, { index, members: members(node) });
    },
    async removeMember(req) {
      const index = await node.changeMembership({ kind: 'remove', nodeId: req.nodeId });
      return create(RemoveMemberResponseSchema, { index, members: members(node) });
    },
    async registerNode(req) {
      if (!Number.isSafeInteger(req.nodeId) || req.nodeId <= 0) throw invalid(`node_id must be a positive integer, got ${req.nodeId}`);
      const r = await node.propose(makeCommand({ requestId: req.requestId, op: { case: 'registerNode', value: req } }));
      const out = unwrap(r, 'registerNode');
      // The registration counts as the first heartbeat.
      try {
        node.heartbeat(req.kind, req.nodeId, out.node?.incarnation ?? 0);
      } catch {
        // Leadership moved meanwhile: the next leader grants a full timeout anyway.
      }
      return out;
    },
    async heartbeat(req) {
      node.heartbeat(req.kind, req.nodeId, req.incarnation);
      return create(HeartbeatResponseSchema);
    },
    async unregisterNode(req) {
      const r = await node.propose(makeCommand({ requestId: req.requestId, op: { case: 'unregisterNode', value: req } }));
      return unwrap(r, 'unregisterNode');
    },
    async listNodes(req) {
      const s = await read();
      return create(ListNodesResponseSchema, { nodes: s.listNodes(req.kind), index: s.appliedIndex });
    },
    async putObject(req) {
      keyOf(req.object);
      const r = await node.propose(makeCommand({ requestId: req.requestId, op: { case: 'putObject', value: req } }));
      return unwrap(r, 'putObject');
    },
    async deleteObject(req) {
      keyOf(req.object);
      const r = await node.propose(makeCommand({ requestId: req.requestId, op: { case: 'deleteObject', value: req } }));
      return unwrap(r, 'deleteObject');
    },
    async getObject(req) {
      const { c, key } = keyOf(req.object);
      const s = await read();
      const object = s.getObject(c, key);
      return create(GetObjectResponseSchema, { found: object !== undefined, object, index: s.appliedIndex });
    },
    async listObjects(req) {
      const c = caseOfKind.get(req.kind);
      if (c === undefined) throw invalid(`object kind ${req.kind} unknown`);
      const s = await read();
      return create(ListObjectsResponseSchema, { objects: s.listObjects(c, req.keyPrefix), index: s.appliedIndex });
    },
    async listRoutes() {
      const s = await read();
      return create(ListRoutesResponseSchema, { routes: s.listRoutes(), index: s.appliedIndex });
    },
  };
}
