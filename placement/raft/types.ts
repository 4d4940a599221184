/**
 * Data types of the Raft core. Every type here is plain data so a driver can map it one to one
 * onto protobuf for the gRPC transport and onto LevelDB records for the log store.
 *
 * Node ids are positive safe integers; 0 means "nobody" (no vote, no known leader).
 */

export type NodeId = number;
export const NONE: NodeId = 0;

export type EntryType = 'normal' | 'conf-change';

export interface Entry {
  readonly term: number;
  readonly index: number;
  readonly type: EntryType;
  readonly data: Uint8Array;
}

/** State that must be on stable storage before any message of the same Ready is sent. */
export interface HardState {
  readonly term: number;
  readonly vote: NodeId;
  readonly commit: number;
}

export const EMPTY_HARD_STATE: HardState = Object.freeze({ term: 0, vote: NONE, commit: 0 });

export interface ConfState {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

export interface SnapshotMetadata {
  readonly index: number;
  readonly term: number;
  readonly confState: ConfState;
}

export interface Snapshot {
  readonly metadata: SnapshotMetadata;
  readonly data: Uint8Array;
}

export const EMPTY_SNAPSHOT: Snapshot = Object.freeze({
  metadata: Object.freeze({ index: 0, term: 0, confState: Object.freeze({ voters: [], learners: [] }) }),
  data: new Uint8Array(0),
});

/**
 * One membership change at a time (Raft dissertation, section 4.1). `add-voter` on a learner
 * promotes it; `remove-node` removes a voter or a learner.
 */
export type ConfChangeType = 'add-voter' | 'add-learner' | 'remove-node';

export interface ConfChange {
  readonly type: ConfChangeType;
  readonly nodeId: NodeId;
  /** Opaque to Raft; a driver typically puts the new member's address here. */
  readonly context?: Uint8Array;
}

export type RaftRole = 'follower' | 'pre-candidate' | 'candidate' | 'leader';

/** Volatile state; reported in a Ready only when it changes, never persisted. */
export interface SoftState {
  readonly lead: NodeId;
  readonly role: RaftRole;
}

/** The answer to a readIndex(ctx) call: reading state applied up to `index` is linearizable. */
export interface ReadState {
  readonly index: number;
  readonly context: Uint8Array;
}

interface MessageBase {
  readonly from: NodeId;
  readonly to: NodeId;
  /** 0 only for MsgProp, MsgReadIndex and MsgTransferLeader, which are not term-checked. */
  readonly term: number;
}

/** A follower forwards proposals to its leader. */
export interface MsgProp extends MessageBase {
  readonly type: 'MsgProp';
  readonly entries: readonly Entry[];
}

export interface MsgApp extends MessageBase {
  readonly type: 'MsgApp';
  /** Index and term of the entry just before `entries`. */
  readonly index: number;
  readonly logTerm: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
}

export interface MsgAppResp extends MessageBase {
  readonly type: 'MsgAppResp';
  /** On success the follower's last index matching the leader; on rejection the rejected index. */
  readonly index: number;
  readonly reject: boolean;
  /** Fast back-off: the follower's largest index whose term is <= logTerm, and that term. */
  readonly rejectHint: number;
  readonly logTerm: number;
}

export interface MsgVote extends MessageBase {
  readonly type: 'MsgVote' | 'MsgPreVote';
  readonly index: number;
  readonly logTerm: number;
  /** Set when the campaign follows a leader transfer, which overrides the leader lease check. */
  readonly transfer: boolean;
}

export interface MsgVoteResp extends MessageBase {
  readonly type: 'MsgVoteResp' | 'MsgPreVoteResp';
  readonly reject: boolean;
}

export interface MsgSnap extends MessageBase {
  readonly type: 'MsgSnap';
  readonly snapshot: Snapshot;
}

export interface MsgHeartbeat extends MessageBase {
  readonly type: 'MsgHeartbeat';
  readonly commit: number;
  /** ReadIndex context being confirmed by this round, empty when none. */
  readonly context: Uint8Array;
}

export interface MsgHeartbeatResp extends MessageBase {
  readonly type: 'MsgHeartbeatResp';
  readonly context: Uint8Array;
}

export interface MsgTimeoutNow extends MessageBase {
  readonly type: 'MsgTimeoutNow';
}

export interface MsgTransferLeader extends MessageBase {
  readonly type: 'MsgTransferLeader';
  /** The node that should become leader. */
  readonly transferee: NodeId;
}

export interface MsgReadIndex extends MessageBase {
  readonly type: 'MsgReadIndex';
  readonly context: Uint8Array;
}

export interface MsgReadIndexResp extends MessageBase {
  readonly type: 'MsgReadIndexResp';
  readonly index: number;
  readonly context: Uint8Array;
}

export type Message =
  | MsgProp
  | MsgApp
  | MsgAppResp
  | MsgVote
  | MsgVoteResp
  | MsgSnap
  | MsgHeartbeat
  | MsgHeartbeatResp
  | MsgTimeoutNow
  | MsgTransferLeader
  | MsgReadIndex
  | MsgReadIndexResp;

export type MessageType = Message['type'];

/**
 * What the driver must do next, in this order:
 *  1. write `snapshot` (if any), `entries` and `hardState` to stable storage, with fsync when
 *     `mustSync` is true;
 *  2. apply `snapshot` and then `committedEntries` to the state machine;
 *  3. send `messages` (never before step 1: a vote or an append acknowledgement must not reach
 *     another node before the promise it makes is durable);
 *  4. call `advance(ready)`.
 */
export interface Ready {
  readonly softState?: SoftState;
  readonly hardState?: HardState;
  /** New log entries to append to stable storage (they may overwrite a conflicting suffix). */
  readonly entries: readonly Entry[];
  readonly snapshot?: Snapshot;
  readonly committedEntries: readonly Entry[];
  readonly messages: readonly Message[];
  readonly readStates: readonly ReadState[];
  readonly mustSync: boolean;
}
