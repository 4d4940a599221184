// A committed Raft membership change, as the replicated state records it: the member's address
// (carried in the conf-change entry's context) and, for a removal, the index it happened at.
// Raft's conf state stays the authority on who is a member; these records say where members are
// and let any member tell a removed node that it was removed. Pure, like applyCommand.

import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { MemberChangeContextSchema, MemberRecordSchema } from '../../proto/gen/placement_log_pb.js';
import type { PlacementState } from './placement-state.js';

export interface MemberChange {
  /** `add` covers add-learner, add-voter and promotion; `remove` a removal. */
  readonly type: 'add' | 'remove';
  readonly nodeId: number;
  /** The member's advertised address; '' keeps the one recorded. */
  readonly address: string;
}

export function applyMemberChange(state: PlacementState, index: number, change: MemberChange): void {
  if (index <= state.appliedIndex) throw new RangeError(`apply(${index}) at or below applied index ${state.appliedIndex}`);
  state.appliedIndex = index;
  const prev = state.members.get(change.nodeId);
  const address = change.address !== '' ? change.address : (prev?.address ?? '');
  state.members.set(
    change.nodeId,
    create(MemberRecordSchema, { nodeId: change.nodeId, address, removedAt: change.type === 'remove' ? index : 0 }),
  );
}

/** The context bytes of a conf change that names the member's address. */
export function encodeMemberContext(address: string): Uint8Array {
  return toBinary(MemberChangeContextSchema, create(MemberChangeContextSchema, { address }));
}

/** The address in a conf change's context; '' for none (the founding entries carry none) or garbage. */
export function decodeMemberContext(context: Uint8Array | undefined): string {
  if (context === undefined || context.byteLength === 0) return '';
  try {
    return fromBinary(MemberChangeContextSchema, context).address;
  } catch {
    return '';
  }
}
