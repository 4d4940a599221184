// The one interface for everything a broker persists (DESIGN.md section 5).
//
// Writes go through `apply(ops)`: one atomic, durable batch. The broker gathers the ops of one
// event-loop tick and applies them together (group commit), and acknowledges a QoS 1/2 PUBLISH
// only after the batch that holds it has resolved. Reads are plain methods used at start-up and
// when a persistent session reconnects; nothing on the publish hot path reads storage.

export type QoS = 0 | 1 | 2;

/** MQTT 5 properties that travel with an application message (never topicAlias or subscriptionIdentifier). */
export interface MessageProperties {
  payloadFormatIndicator?: boolean;
  messageExpiryInterval?: number;
  contentType?: string;
  responseTopic?: string;
  correlationData?: Buffer;
  userProperties?: Record<string, string | string[]>;
}

export interface StoredMessage {
  /** Unique per broker cluster; assigned by the broker. */
  id: string;
  topic: string;
  payload: Buffer;
  qos: QoS;
  retain: boolean;
  properties?: MessageProperties;
  /** ms since epoch when the broker received it. */
  createdAt: number;
  /** ms since epoch when its message expiry interval runs out; absent = never. */
  expiresAt?: number;
  /** client id of the publisher (No Local needs it). */
  origin?: string;
}

export interface WillRecord {
  message: StoredMessage;
  /** seconds (MQTT 5 will delay interval); 0 for v3. */
  delayInterval: number;
}

export interface SessionRecord {
  clientId: string;
  protocolVersion: 3 | 4 | 5;
  /** seconds; 0xFFFFFFFF = never expires. */
  expiryInterval: number;
  /** ms since epoch of the last disconnect; null while a connection holds the session. */
  disconnectedAt: number | null;
  will?: WillRecord | null;
}

export interface SubscriptionRecord {
  clientId: string;
  /** The filter as the client sent it, `$share/g/...` included. */
  filter: string;
  qos: QoS;
  noLocal: boolean;
  retainAsPublished: boolean;
  retainHandling: 0 | 1 | 2;
  subscriptionId?: number;
}

/**
 * One message on its way to one session: queued (no packetId yet), sent (packetId assigned,
 * waiting for PUBACK/PUBREC) or pubrel (PUBREC received, waiting for PUBCOMP).
 */
export interface OutboundEntry {
  clientId: string;
  /** Order within the session's queue; assigned by the broker, strictly increasing. */
  seq: number;
  messageId: string;
  /** The QoS it is delivered with (min of publish and granted QoS). */
  qos: QoS;
  packetId?: number;
  state: 'queued' | 'sent' | 'pubrel';
  /** Subscription identifiers to attach (MQTT 5). */
  subscriptionIds?: number[];
  /** RETAIN flag to deliver with (Retain As Published). */
  retain?: boolean;
}

export interface DelayedRecord {
  id: string;
  message: StoredMessage;
  /** ms since epoch. */
  fireAt: number;
}

export type StorageOp =
  | { op: 'session.put'; session: SessionRecord }
  /** Removes the session and everything it owns: subscriptions, outbound entries, inbound QoS 2 ids. */
  | { op: 'session.delete'; clientId: string }
  | { op: 'sub.put'; sub: SubscriptionRecord }
  | { op: 'sub.delete'; clientId: string; filter: string }
  /** Stores a message body once; outbound entries reference it, the driver drops it when none does. */
  | { op: 'msg.put'; message: StoredMessage }
  /** Inserts or replaces the entry (clientId, seq). */
  | { op: 'out.put'; entry: OutboundEntry }
  | { op: 'out.delete'; clientId: string; seq: number }
  | { op: 'in2.put'; clientId: string; packetId: number }
  | { op: 'in2.delete'; clientId: string; packetId: number }
  | { op: 'retain.put'; message: StoredMessage }
  | { op: 'retain.delete'; topic: string }
  | { op: 'delayed.put'; record: DelayedRecord }
  | { op: 'delayed.delete'; id: string };

export interface OutboundWithMessage extends OutboundEntry {
  message: StoredMessage;
}

export interface OutboundSummary {
  count: number;
  maxSeq: number;
}

export interface StorageDriver {
  readonly name: string;
  open(): Promise<void>;
  /** Atomically and durably applies the ops in order. Rejects with StorageError and applies nothing when the backend fails. */
  apply(ops: readonly StorageOp[]): Promise<void>;
  listSessions(): Promise<SessionRecord[]>;
  listSubscriptions(): Promise<SubscriptionRecord[]>;
  /** The session's outbound entries in seq order, each with its message. */
  listOutbound(clientId: string): Promise<OutboundWithMessage[]>;
  /** Count and highest seq of outbound entries per session that has any. */
  outboundSummary(): Promise<Map<string, OutboundSummary>>;
  listInboundQos2(clientId: string): Promise<number[]>;
  listRetained(): Promise<StoredMessage[]>;
  listDelayed(): Promise<DelayedRecord[]>;
  close(): Promise<void>;
}

export class StorageError extends Error {
  /** A code of the catalogue in common/errors.ts: BR_STORAGE_UNAVAILABLE unless a more precise one applies. */
  readonly code: string;
  constructor(message: string, options?: { cause?: unknown; code?: string }) {
    super(message, options);
    this.code = options?.code ?? 'BR_STORAGE_UNAVAILABLE';
    this.name = 'StorageError';
  }
}
