// The coded error catalogue: every error that crosses a process or protocol boundary has one
// code here, mapped once to a gRPC status, to an MQTT 5 reason code where one applies, and to an
// HTTP status where the admin API can return it. docs/errors.md lists the same codes; a test
// (common/test/errors.test.ts) keeps the two in step.
//
// Prefixes: CFG_ configuration, BR_ broker, PC_ placement center, JR_ journal engine,
// CTL_ robust-ctl, INTERNAL for a bug.

/**
 * gRPC status codes (grpc/doc/statuscodes.md). Kept here as plain numbers so that modules which
 * only need the mapping do not load @grpc/grpc-js; a test checks them against grpc-js' `status`.
 */
export const GrpcStatus = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;
export type GrpcStatusName = keyof typeof GrpcStatus;

export interface ErrorSpec {
  /** One sentence: what happened, from the caller's point of view. */
  readonly description: string;
  readonly grpc: GrpcStatusName;
  /** MQTT 5 reason code (section 2.4 of the spec) sent to the client, when the error reaches one. */
  readonly mqtt?: number;
  /** HTTP status when the admin API answers with this error. */
  readonly http?: number;
}

export const errorCatalogue = {
  // Configuration (the process exits with code 2).
  CFG_INVALID: {
    description: 'The configuration has unknown keys or values of the wrong type or range.',
    grpc: 'INVALID_ARGUMENT',
  },
  CFG_FILE_UNREADABLE: {
    description: 'The --config file cannot be read or is not valid TOML.',
    grpc: 'INVALID_ARGUMENT',
  },

  // Broker start-up and storage.
  BR_LISTEN_FAILED: {
    description: 'A listener cannot bind its host and port (in use, or not permitted).',
    grpc: 'UNAVAILABLE',
  },
  BR_STORAGE_LOCKED: {
    description: 'The storage directory is held by another process.',
    grpc: 'FAILED_PRECONDITION',
  },
  BR_STORAGE_UNAVAILABLE: {
    description: 'The storage driver cannot read or write; the operation was not made durable.',
    grpc: 'UNAVAILABLE',
    mqtt: 0x80,
    http: 503,
  },

  // Broker: MQTT protocol and authorization. Reason codes per MQTT 5.0 section 2.4.
  BR_MALFORMED_PACKET: {
    description: 'A packet could not be parsed according to the specification.',
    grpc: 'INVALID_ARGUMENT',
    mqtt: 0x81,
  },
  BR_PROTOCOL_ERROR: {
    description: 'A packet was well formed but not allowed at this point of the protocol.',
    grpc: 'FAILED_PRECONDITION',
    mqtt: 0x82,
  },
  BR_UNSUPPORTED_PROTOCOL_VERSION: {
    description: 'The CONNECT protocol name or level is not one the broker speaks.',
    grpc: 'INVALID_ARGUMENT',
    mqtt: 0x84,
  },
  BR_CLIENT_ID_INVALID: {
    description: 'The client identifier is not accepted (empty with clean session off in v3, or too long).',
    grpc: 'INVALID_ARGUMENT',
    mqtt: 0x85,
  },
  BR_BAD_CREDENTIALS: {
    description: 'The user name or password is wrong.',
    grpc: 'UNAUTHENTICATED',
    mqtt: 0x86,
  },
  BR_NOT_AUTHORIZED: {
    description: 'The client is not allowed to do this (ACL).',
    grpc: 'PERMISSION_DENIED',
    mqtt: 0x87,
    http: 403,
  },
  BR_CLIENT_BANNED: {
    description: 'The client, user or address is on the blacklist.',
    grpc: 'PERMISSION_DENIED',
    mqtt: 0x8a,
  },
  BR_SERVER_SHUTTING_DOWN: {
    description: 'The broker is stopping.',
    grpc: 'UNAVAILABLE',
    mqtt: 0x8b,
  },
  BR_KEEP_ALIVE_TIMEOUT: {
    description: 'Nothing was received within 1.5 times the keep alive.',
    grpc: 'DEADLINE_EXCEEDED',
    mqtt: 0x8d,
  },
  BR_SESSION_TAKEN_OVER: {
    description: 'Another connection with the same client identifier took over the session.',
    grpc: 'ABORTED',
    mqtt: 0x8e,
  },
  BR_TOPIC_FILTER_INVALID: {
    description: 'A topic filter is not well formed or exceeds the configured limits.',
    grpc: 'INVALID_ARGUMENT',
    mqtt: 0x8f,
  },
  BR_TOPIC_NAME_INVALID: {
    description: 'A topic name is not well formed (wildcards, bad UTF-8, too long).',
    grpc: 'INVALID_ARGUMENT',
    mqtt: 0x90,
  },
  BR_PACKET_ID_IN_USE: {
    description: 'The packet identifier is already in use by an unfinished exchange.',
    grpc: 'ALREADY_EXISTS',
    mqtt: 0x91,
  },
  BR_PACKET_ID_NOT_FOUND: {
    description: 'No exchange is waiting for this packet identifier.',
    grpc: 'NOT_FOUND',
    mqtt: 0x92,
  },
  BR_RECEIVE_MAXIMUM_EXCEEDED: {
    description: 'The client sent more unacknowledged QoS 1/2 PUBLISH packets than the receive maximum.',
    grpc: 'RESOURCE_EXHAUSTED',
    mqtt: 0x93,
  },
  BR_TOPIC_ALIAS_INVALID: {
    description: 'A topic alias is 0, above the maximum, or used before it was set.',
    grpc: 'INVALID_ARGUMENT',
    mqtt: 0x94,
  },
  BR_PACKET_TOO_LARGE: {
    description: 'A packet exceeds the maximum packet size.',
    grpc: 'RESOURCE_EXHAUSTED',
    mqtt: 0x95,
  },
  BR_QUOTA_EXCEEDED: {
    description: 'A configured quota (subscriptions per client, offline queue) is exhausted.',
    grpc: 'RESOURCE_EXHAUSTED',
    mqtt: 0x97,
  },
  BR_PAYLOAD_FORMAT_INVALID: {
    description: 'The payload is marked UTF-8 but is not valid UTF-8.',
    grpc: 'INVALID_ARGUMENT',
    mqtt: 0x99,
  },
  BR_RETAIN_NOT_SUPPORTED: {
    description: 'A retained PUBLISH arrived while retain is disabled.',
    grpc: 'UNIMPLEMENTED',
    mqtt: 0x9a,
  },
  BR_QOS_NOT_SUPPORTED: {
    description: 'A PUBLISH or will used a QoS above the configured maximum.',
    grpc: 'UNIMPLEMENTED',
    mqtt: 0x9b,
  },
  BR_SHARED_SUBSCRIPTIONS_NOT_SUPPORTED: {
    description: 'A $share or $queue subscription arrived while shared subscriptions are disabled.',
    grpc: 'UNIMPLEMENTED',
    mqtt: 0x9e,
  },
  BR_SUBSCRIPTION_IDS_NOT_SUPPORTED: {
    description: 'A subscription identifier arrived while they are disabled.',
    grpc: 'UNIMPLEMENTED',
    mqtt: 0xa1,
  },
  BR_WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED: {
    description: 'A wildcard filter arrived while wildcard subscriptions are disabled.',
    grpc: 'UNIMPLEMENTED',
    mqtt: 0xa2,
  },

  // Broker cluster (broker/cluster/): a publisher sees 0x80 (v5) or a closed connection (v3).
  BR_CLUSTER_PEER_UNREACHABLE: {
    description: 'Another broker this one had to forward to or take a session from is dead or did not answer in time.',
    grpc: 'UNAVAILABLE',
    mqtt: 0x80,
  },
  BR_CLUSTER_PEER_STORAGE_FAILED: {
    description: 'Another broker could not store what its persistent sessions need of a forwarded message.',
    grpc: 'UNAVAILABLE',
    mqtt: 0x80,
  },
  BR_CLUSTER_SESSION_CLAIM_FAILED: {
    description: 'Placement did not confirm this broker as the owner of the session (other brokers kept claiming it).',
    grpc: 'ABORTED',
    mqtt: 0x88,
  },
  BR_CLUSTER_PEER_PROTOCOL: {
    description: 'Another broker sent a forwarded batch that does not decode; it was refused whole.',
    grpc: 'INVALID_ARGUMENT',
    mqtt: 0x80,
  },
  BR_CLUSTER_FENCED: {
    description: 'This broker lost contact with placement for a whole heartbeat timeout and stopped serving until it is back.',
    grpc: 'UNAVAILABLE',
    mqtt: 0x88,
  },

  // Broker admin HTTP API.
  BR_ADMIN_NOT_FOUND: {
    description: 'No admin API route (or no such object) matches the request path.',
    grpc: 'NOT_FOUND',
    http: 404,
  },
  BR_ADMIN_METHOD_NOT_ALLOWED: {
    description: 'The admin API route exists but not for this HTTP method.',
    grpc: 'UNIMPLEMENTED',
    http: 405,
  },
  BR_ADMIN_BAD_REQUEST: {
    description: 'The admin API request has a bad query or body.',
    grpc: 'INVALID_ARGUMENT',
    http: 400,
  },
  BR_ADMIN_INTERNAL: {
    description: 'An admin API handler failed; the broker logged the cause.',
    grpc: 'INTERNAL',
    http: 500,
  },

  // Placement center.
  PC_NOT_LEADER: {
    description: 'This placement node is not the Raft leader; the leader address is in the error metadata.',
    grpc: 'FAILED_PRECONDITION',
  },
  PC_NO_LEADER: {
    description: 'The placement cluster has no leader right now (election in progress or no quorum).',
    grpc: 'UNAVAILABLE',
  },
  PC_PROPOSAL_DROPPED: {
    description: 'A write was dropped before it committed (leadership changed); it may be retried.',
    grpc: 'UNAVAILABLE',
  },
  PC_NOT_FOUND: {
    description: 'The requested placement object or key does not exist.',
    grpc: 'NOT_FOUND',
  },
  PC_ALREADY_EXISTS: {
    description: 'A placement object with this name already exists.',
    grpc: 'ALREADY_EXISTS',
  },
  PC_MEMBERSHIP_CHANGE_PENDING: {
    description: 'A membership change is already in progress; only one may be pending.',
    grpc: 'FAILED_PRECONDITION',
  },
  PC_TIMEOUT: {
    description: 'The request did not commit within its deadline; its outcome is unknown.',
    grpc: 'DEADLINE_EXCEEDED',
  },
  PC_INVALID_ARGUMENT: {
    description: 'A placement request is malformed (an empty key, an object without its identifying fields).',
    grpc: 'INVALID_ARGUMENT',
  },
  PC_CONFLICT: {
    description: "A conditional placement write found the object at another mod_index than expected; re-read and retry.",
    grpc: 'ABORTED',
  },
  PC_NODE_NOT_REGISTERED: {
    description: 'A heartbeat names a node that is not registered or was marked dead; the node must register again.',
    grpc: 'NOT_FOUND',
  },
  PC_UNREACHABLE: {
    description: 'A placement node could not be reached (connection refused or lost); the client tries another member.',
    grpc: 'UNAVAILABLE',
  },
  PC_WATCH_COMPACTED: {
    description: 'A watch asked to resume from a log index this node no longer retains; list again, then watch from the listed index.',
    grpc: 'OUT_OF_RANGE',
  },
  PC_MEMBERSHIP_CHANGE_INVALID: {
    description: 'The membership change does not fit the current members (already a member elsewhere, promoting a voter by add, removing the last voter).',
    grpc: 'FAILED_PRECONDITION',
  },
  PC_MEMBER_NOT_FOUND: {
    description: 'The node named in a membership request or leader transfer is not a member (or not a voter) of the placement cluster.',
    grpc: 'NOT_FOUND',
  },
  PC_LEARNER_NOT_CAUGHT_UP: {
    description: "The learner's match index is too far behind the leader's last index to promote it yet; retry once it has caught up.",
    grpc: 'FAILED_PRECONDITION',
  },
  PC_NODE_REMOVED: {
    description: 'This placement node was removed from the cluster and no longer serves; the client tries another member.',
    grpc: 'UNAVAILABLE',
  },

  // Journal engine.
  JR_CORRUPT_SEGMENT: {
    description: 'A segment record batch failed its CRC check or is structurally invalid.',
    grpc: 'DATA_LOSS',
  },
  JR_SHARD_NOT_FOUND: {
    description: 'No shard with this name exists.',
    grpc: 'NOT_FOUND',
  },
  JR_SHARD_EXISTS: {
    description: 'A shard with this name already exists.',
    grpc: 'ALREADY_EXISTS',
  },
  JR_OFFSET_OUT_OF_RANGE: {
    description: 'The requested offset is below the log start (retention) or beyond its end.',
    grpc: 'OUT_OF_RANGE',
  },
  JR_NOT_SHARD_LEADER: {
    description: 'This journal node does not lead the shard; the leader address is in the error metadata.',
    grpc: 'FAILED_PRECONDITION',
  },
  JR_NOT_ENOUGH_REPLICAS: {
    description: 'Too few in-sync replicas to satisfy the requested acks.',
    grpc: 'UNAVAILABLE',
  },
  JR_RECORD_TOO_LARGE: {
    description: 'A record or batch exceeds the segment size limit.',
    grpc: 'INVALID_ARGUMENT',
  },
  JR_INVALID_RECORD: {
    description: 'A record in a write is malformed (value, key, header or timestamp of the wrong type or range).',
    grpc: 'INVALID_ARGUMENT',
  },
  JR_INVALID_ARGUMENT: {
    description: 'A journal request argument is malformed (shard name, offset, limits, empty batch).',
    grpc: 'INVALID_ARGUMENT',
  },
  JR_INVALID_OPTIONS: {
    description: 'A shard log was opened with an unknown option or a bad option value.',
    grpc: 'INVALID_ARGUMENT',
  },
  JR_BATCH_TOO_LARGE: {
    description: 'One write batch encodes to more than the maximum batch size.',
    grpc: 'INVALID_ARGUMENT',
  },
  JR_OFFSET_MISMATCH: {
    description: 'A replicated append did not start at the follower log end offset.',
    grpc: 'FAILED_PRECONDITION',
  },
  JR_CLOSED: {
    description: 'The shard log or journal node is closing or closed.',
    grpc: 'UNAVAILABLE',
  },
  JR_IO_ERROR: {
    description: 'A shard log write or fsync failed; the shard refuses writes until it is reopened.',
    grpc: 'UNAVAILABLE',
  },
  JR_SHARD_LOCKED: {
    description: 'Another live process holds the shard directory.',
    grpc: 'FAILED_PRECONDITION',
  },
  JR_KEY_INDEX_DISABLED: {
    description: 'A read by key on a shard created without a key index.',
    grpc: 'FAILED_PRECONDITION',
  },
  JR_WRITE_TIMEOUT: {
    description: 'The leader appended the write but it was not replicated as its acks require in time; its outcome is unknown.',
    grpc: 'DEADLINE_EXCEEDED',
  },
  JR_FENCED: {
    description: 'The request carries a leader epoch this replica no longer (or does not yet) follows.',
    grpc: 'FAILED_PRECONDITION',
  },
  JR_UNREACHABLE: {
    description: 'No journal node answered at the address used (connection refused or lost).',
    grpc: 'UNAVAILABLE',
  },
  JR_TIMEOUT: {
    description: 'A journal request got no answer within its deadline; its outcome is unknown.',
    grpc: 'DEADLINE_EXCEEDED',
  },
  JR_PLACEMENT_UNAVAILABLE: {
    description: 'The journal node cannot read or update shard metadata in the placement center right now.',
    grpc: 'UNAVAILABLE',
  },

  // robust-ctl.
  CTL_USAGE: {
    description: 'robust-ctl was called with an unknown command or bad options (exit code 2).',
    grpc: 'INVALID_ARGUMENT',
  },
  CTL_SERVER_UNREACHABLE: {
    description: 'robust-ctl cannot connect to the server it was pointed at (exit code 1).',
    grpc: 'UNAVAILABLE',
  },
  CTL_BAD_RESPONSE: {
    description: 'The server answered with an error status or a body robust-ctl cannot read (exit code 1).',
    grpc: 'UNKNOWN',
  },

  INTERNAL: {
    description: 'A bug: an invariant did not hold. The process logs the cause.',
    grpc: 'INTERNAL',
    mqtt: 0x80,
    http: 500,
  },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof errorCatalogue;

export function errorSpec(code: ErrorCode): ErrorSpec {
  return errorCatalogue[code];
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(errorCatalogue, value);
}

/**
 * An error that carries a catalogue code. `details` holds structured data for the receiver
 * (for example the leader's address for PC_NOT_LEADER) so that nobody parses it out of text.
 */
export class CodedError extends Error {
  readonly code: ErrorCode;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, options?: { details?: Record<string, unknown>; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CodedError';
    this.code = code;
    this.details = Object.freeze({ ...(options?.details ?? {}) });
  }

  get grpcStatus(): number {
    return GrpcStatus[errorCatalogue[this.code].grpc];
  }

  /** The MQTT 5 reason code for this error, or undefined when it never reaches a client. */
  get mqttReasonCode(): number | undefined {
    return (errorCatalogue[this.code] as ErrorSpec).mqtt;
  }

  get httpStatus(): number {
    return (errorCatalogue[this.code] as ErrorSpec).http ?? 500;
  }
}

export function isCodedError(err: unknown): err is CodedError {
  return err instanceof CodedError;
}
