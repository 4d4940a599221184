import { describe, expect, it } from 'vitest';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { RaftMessageSchema, type MessageType } from '../../../proto/gen/raft_pb.js';
import { isRaftError } from '../../raft/errors.js';
import type { Entry, Message } from '../../raft/types.js';
import { messageFromPb, messageToPb } from '../raft-codec.js';

const b = (...xs: number[]) => Uint8Array.from(xs);
const entries: Entry[] = [
  { term: 3, index: 7, type: 'normal', data: b(1, 2, 3) },
  { term: 3, index: 8, type: 'conf-change', data: b(9) },
];
const base = { from: 1, to: 2, term: 3 };

// One of every message type, every field set to a non-default value.
const messages: Message[] = [
  { ...base, term: 0, type: 'MsgProp', entries },
  { ...base, type: 'MsgApp', index: 6, logTerm: 2, entries, commit: 5 },
  { ...base, type: 'MsgAppResp', index: 8, reject: true, rejectHint: 4, logTerm: 2 },
  { ...base, type: 'MsgVote', index: 8, logTerm: 3, transfer: true },
  { ...base, type: 'MsgPreVote', index: 8, logTerm: 3, transfer: false },
  { ...base, type: 'MsgVoteResp', reject: true },
  { ...base, type: 'MsgPreVoteResp', reject: false },
  { ...base, type: 'MsgSnap', snapshot: { metadata: { index: 100, term: 3, confState: { voters: [1, 2, 3], learners: [4] } }, data: b(5, 6) } },
  { ...base, type: 'MsgHeartbeat', commit: 9, context: b(7) },
  { ...base, type: 'MsgHeartbeatResp', context: b(7) },
  { ...base, type: 'MsgTimeoutNow' },
  { ...base, type: 'MsgTransferLeader', transferee: 3 },
  { ...base, term: 0, type: 'MsgReadIndex', context: b(1) },
  { ...base, type: 'MsgReadIndexResp', index: 12, context: b(1) },
];

describe('raft message codec', () => {
  it.each(messages.map((m) => [m.type, m] as const))('%s survives protobuf encoding unchanged', (_t, m) => {
    const wire = toBinary(RaftMessageSchema, messageToPb(m));
    const data = m.type === 'MsgSnap' ? m.snapshot.data : undefined;
    expect(messageFromPb(fromBinary(RaftMessageSchema, wire), data)).toEqual(m);
  });

  it('refuses an unknown type or a non-integer index with RAFT_CORRUPT', () => {
    expect(() => messageFromPb(create(RaftMessageSchema, { type: 99 as MessageType }))).toThrow(expect.objectContaining({ code: 'RAFT_CORRUPT' }));
    let err: unknown;
    try {
      messageFromPb(create(RaftMessageSchema, { type: 2, index: 1.5 }));
    } catch (e: unknown) {
      err = e;
    }
    expect(isRaftError(err, 'RAFT_CORRUPT')).toBe(true);
  });
});
