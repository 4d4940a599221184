// Public surface of the placement state machine.
export { PlacementState, SnapshotDecodeError, nodeKey } from './placement-state.js';
export { applyMemberChange, encodeMemberContext, decodeMemberContext, type MemberChange } from './apply-member-change.js';
export { applyCommand, applyCommands, DEDUP_WINDOW, DEFAULT_HEARTBEAT_TIMEOUT_MS, type ApplyOutcome } from './apply-command.js';
export { encodeCommand, encodeCommands, decodeCommand, decodeCommands, makeCommand, CommandDecodeError } from './command-codec.js';
export {
  objectKey,
  kindNames,
  kindOfCase,
  caseOfKind,
  subscriptionKeyPrefix,
  segmentKeyPrefix,
  type ObjectCase,
  type ObjectValue,
} from './object-keys.js';
