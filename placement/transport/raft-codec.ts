// Raft messages between the core's plain types (placement/raft/types.ts) and raft.proto. A
// message that does not decode into a valid core message is refused with RaftError RAFT_CORRUPT
// rather than stepped half-formed into the core.

import { create } from '@bufbuild/protobuf';
import { RaftError } from '../raft/errors.js';
import type { Entry, Message, MessageType, Snapshot } from '../raft/types.js';
import {
  EntryType as PbEntryType,
  MessageType as PbType,
  RaftMessageSchema,
  type Entry as PbEntry,
  type RaftMessage,
  type SnapshotMetadata as PbSnapshotMetadata,
} from '../../proto/gen/raft_pb.js';

const toPbType: Readonly<Record<MessageType, PbType>> = {
  MsgProp: PbType.PROP,
  MsgApp: PbType.APP,
  MsgAppResp: PbType.APP_RESP,
  MsgVote: PbType.VOTE,
  MsgVoteResp: PbType.VOTE_RESP,
  MsgPreVote: PbType.PRE_VOTE,
  MsgPreVoteResp: PbType.PRE_VOTE_RESP,
  MsgSnap: PbType.SNAP,
  MsgHeartbeat: PbType.HEARTBEAT,
  MsgHeartbeatResp: PbType.HEARTBEAT_RESP,
  MsgTimeoutNow: PbType.TIMEOUT_NOW,
  MsgTransferLeader: PbType.TRANSFER_LEADER,
  MsgReadIndex: PbType.READ_INDEX,
  MsgReadIndexResp: PbType.READ_INDEX_RESP,
};

const fromPbType = new Map<PbType, MessageType>((Object.entries(toPbType) as [MessageType, PbType][]).map(([k, v]) => [v, k]));

const EMPTY = new Uint8Array(0);

function entryToPb(e: Entry): PbEntry {
  return { $typeName: 'robustmq.raft.v1.Entry', term: e.term, index: e.index, type: e.type === 'normal' ? PbEntryType.NORMAL : PbEntryType.CONF_CHANGE, data: e.data };
}

function entryFromPb(e: PbEntry): Entry {
  if (e.type !== PbEntryType.NORMAL && e.type !== PbEntryType.CONF_CHANGE) throw new RaftError('RAFT_CORRUPT', `entry type ${e.type} unknown`);
  return { term: e.term, index: e.index, type: e.type === PbEntryType.NORMAL ? 'normal' : 'conf-change', data: e.data };
}

/** The message without a snapshot's data (which travels in InstallSnapshot chunks). */
export function messageToPb(m: Message): RaftMessage {
  const pb = create(RaftMessageSchema, { type: toPbType[m.type], from: m.from, to: m.to, term: m.term });
  switch (m.type) {
    case 'MsgProp':
      pb.entries = m.entries.map(entryToPb);
      break;
    case 'MsgApp':
      pb.index = m.index;
      pb.logTerm = m.logTerm;
      pb.entries = m.entries.map(entryToPb);
      pb.commit = m.commit;
      break;
    case 'MsgAppResp':
      pb.index = m.index;
      pb.reject = m.reject;
      pb.rejectHint = m.rejectHint;
      pb.logTerm = m.logTerm;
      break;
    case 'MsgVote':
    case 'MsgPreVote':
      pb.index = m.index;
      pb.logTerm = m.logTerm;
      pb.transfer = m.transfer;
      break;
    case 'MsgVoteResp':
    case 'MsgPreVoteResp':
      pb.reject = m.reject;
      break;
    case 'MsgSnap': {
      const md = m.snapshot.metadata;
      pb.snapshot = {
        $typeName: 'robustmq.raft.v1.SnapshotMetadata',
        index: md.index,
        term: md.term,
        confState: { $typeName: 'robustmq.raft.v1.ConfState', voters: [...md.confState.voters], learners: [...md.confState.learners] },
      };
      break;
    }
    case 'MsgHeartbeat':
      pb.commit = m.commit;
      pb.context = m.context;
      break;
    case 'MsgHeartbeatResp':
      pb.context = m.context;
      break;
    case 'MsgTimeoutNow':
      break;
    case 'MsgTransferLeader':
      pb.transferee = m.transferee;
      break;
    case 'MsgReadIndex':
      pb.context = m.context;
      break;
    case 'MsgReadIndexResp':
      pb.index = m.index;
      pb.context = m.context;
      break;
  }
  return pb;
}

function snapshotFromPb(md: PbSnapshotMetadata | undefined, data: Uint8Array): Snapshot {
  if (!md) throw new RaftError('RAFT_CORRUPT', 'MsgSnap without snapshot metadata');
  return {
    metadata: { index: md.index, term: md.term, confState: { voters: [...(md.confState?.voters ?? [])], learners: [...(md.confState?.learners ?? [])] } },
    data,
  };
}

/** `snapshotData` is the assembled snapshot for MsgSnap; ignored for other types. */
export function messageFromPb(pb: RaftMessage, snapshotData: Uint8Array = EMPTY): Message {
  const type = fromPbType.get(pb.type);
  if (type === undefined) throw new RaftError('RAFT_CORRUPT', `raft message type ${pb.type} unknown`);
  for (const [name, v] of [['from', pb.from], ['to', pb.to], ['term', pb.term], ['index', pb.index], ['commit', pb.commit]] as const) {
    if (!Number.isSafeInteger(v) || v < 0) throw new RaftError('RAFT_CORRUPT', `raft message ${name} ${v} is not a non-negative integer`);
  }
  const base = { from: pb.from, to: pb.to, term: pb.term };
  switch (type) {
    case 'MsgProp':
      return { ...base, type, entries: pb.entries.map(entryFromPb) };
    case 'MsgApp':
      return { ...base, type, index: pb.index, logTerm: pb.logTerm, entries: pb.entries.map(entryFromPb), commit: pb.commit };
    case 'MsgAppResp':
      return { ...base, type, index: pb.index, reject: pb.reject, rejectHint: pb.rejectHint, logTerm: pb.logTerm };
    case 'MsgVote':
    case 'MsgPreVote':
      return { ...base, type, index: pb.index, logTerm: pb.logTerm, transfer: pb.transfer };
    case 'MsgVoteResp':
    case 'MsgPreVoteResp':
      return { ...base, type, reject: pb.reject };
    case 'MsgSnap':
      return { ...base, type, snapshot: snapshotFromPb(pb.snapshot, snapshotData) };
    case 'MsgHeartbeat':
      return { ...base, type, commit: pb.commit, context: pb.context };
    case 'MsgHeartbeatResp':
      return { ...base, type, context: pb.context };
    case 'MsgTimeoutNow':
      return { ...base, type };
    case 'MsgTransferLeader':
      return { ...base, type, transferee: pb.transferee };
    case 'MsgReadIndex':
      return { ...base, type, context: pb.context };
    case 'MsgReadIndexResp':
      return { ...base, type, index: pb.index, context: pb.context };
  }
}
