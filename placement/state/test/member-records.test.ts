import { create } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { CommandSchema } from '../../../proto/gen/placement_log_pb.js';
import { applyCommand, applyMemberChange, decodeMemberContext, encodeMemberContext, PlacementState } from '../index.js';

const setAddresses = (members: { nodeId: number; address: string }[]) =>
  create(CommandSchema, { op: { case: 'setMemberAddresses', value: { members } } });

describe('member records in the replicated state', () => {
  it('records addresses from conf changes and commands, tombstones removals, and survives a snapshot', () => {
    const s = new PlacementState();
    expect(applyCommand(s, 1, setAddresses([{ nodeId: 1, address: 'a:1' }, { nodeId: 2, address: 'b:2' }])).result.result).toEqual({
      case: 'memberAddressesSet',
      value: true,
    });
    applyMemberChange(s, 2, { type: 'add', nodeId: 4, address: 'd:4' });
    applyMemberChange(s, 3, { type: 'add', nodeId: 4, address: '' }); // a promotion keeps the address
    applyMemberChange(s, 4, { type: 'remove', nodeId: 2, address: '' });
    expect([s.memberAddress(1), s.memberAddress(2), s.memberAddress(4), s.memberAddress(9)]).toEqual(['a:1', 'b:2', 'd:4', '']);
    expect([s.memberRemovedAt(1), s.memberRemovedAt(2), s.memberRemovedAt(4)]).toEqual([0, 4, 0]);
    expect(s.appliedIndex).toBe(4);

    const r = PlacementState.restore(s.snapshot());
    expect(r.snapshot()).toEqual(s.snapshot());
    expect([r.memberAddress(4), r.memberRemovedAt(2)]).toEqual(['d:4', 4]);

    // Re-adding a removed id clears its tombstone.
    applyMemberChange(s, 5, { type: 'add', nodeId: 2, address: 'b:3' });
    expect([s.memberAddress(2), s.memberRemovedAt(2)]).toEqual(['b:3', 0]);
  });

  it('refuses a malformed address command as a replicated result, and applies in order only', () => {
    const s = new PlacementState();
    const out = applyCommand(s, 1, setAddresses([{ nodeId: 0, address: 'a:1' }]));
    expect(out.result.result.case).toBe('error');
    expect(s.members.size).toBe(0);
    expect(() => applyMemberChange(s, 1, { type: 'add', nodeId: 3, address: 'c:3' })).toThrow(RangeError);
  });

  it('carries the address in a conf change context; anything else reads as none', () => {
    expect(decodeMemberContext(encodeMemberContext('host:1228'))).toBe('host:1228');
    expect(decodeMemberContext(undefined)).toBe('');
    expect(decodeMemberContext(new Uint8Array([0xff, 0xff, 0xff]))).toBe('');
  });
});
