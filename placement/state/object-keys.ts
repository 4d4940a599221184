// How each kind of metadata object is identified: its kind name (used in watch keys,
// `<kind>/<key>`) and its key, derived from its identifying fields. Key parts are URI-encoded and
// joined with "/", so a prefix of parts is a prefix of keys (list a client's subscriptions with
// `subscriptionKeyPrefix(clientId)`).

import { ObjectKind, type MetadataObject } from '../../proto/gen/placement_pb.js';

export type ObjectCase = NonNullable<MetadataObject['object']['case']>;
export type ObjectValue<C extends ObjectCase> = Extract<MetadataObject['object'], { case: C }>['value'];

/** Watch-key prefix of each kind: `user/alice`, `journal-segment/ns/shard/0000000000000001`. */
export const kindNames: Readonly<Record<ObjectCase, string>> = {
  user: 'user',
  acl: 'acl',
  blacklist: 'blacklist',
  session: 'session',
  subscription: 'subscription',
  topicRewrite: 'topic-rewrite',
  autoSubscribe: 'auto-subscribe',
  schema: 'schema',
  connector: 'connector',
  journalShard: 'journal-shard',
  journalSegment: 'journal-segment',
};

export const kindOfCase: Readonly<Record<ObjectCase, ObjectKind>> = {
  user: ObjectKind.USER,
  acl: ObjectKind.ACL,
  blacklist: ObjectKind.BLACKLIST,
  session: ObjectKind.SESSION,
  subscription: ObjectKind.SUBSCRIPTION,
  topicRewrite: ObjectKind.TOPIC_REWRITE,
  autoSubscribe: ObjectKind.AUTO_SUBSCRIBE,
  schema: ObjectKind.SCHEMA,
  connector: ObjectKind.CONNECTOR,
  journalShard: ObjectKind.JOURNAL_SHARD,
  journalSegment: ObjectKind.JOURNAL_SEGMENT,
};

export const caseOfKind: ReadonlyMap<ObjectKind, ObjectCase> = new Map(
  (Object.entries(kindOfCase) as [ObjectCase, ObjectKind][]).map(([c, k]) => [k, c]),
);

const enc = encodeURIComponent;

function parts(...ps: (string | number)[]): string {
  return ps.map((p) => enc(String(p))).join('/');
}

/** A fixed-width decimal, so segment keys sort by sequence number. */
function seqPart(n: number): string {
  return String(n).padStart(16, '0');
}

/**
 * The key of an object within its kind, or a reason why its identifying fields are missing.
 * Only identifying fields are read, so a delete or get request may carry nothing else.
 */
export function objectKey(obj: MetadataObject['object']): { key: string } | { error: string } {
  const need = (ok: boolean, what: string, key: () => string) => (ok ? { key: key() } : { error: `${what} must not be empty` });
  switch (obj.case) {
    case 'user':
      return need(obj.value.username !== '', 'user.username', () => parts(obj.value.username));
    case 'acl': {
      const a = obj.value;
      return need(a.resourceName !== '', 'acl.resource_name', () => parts(a.resourceType, a.resourceName, a.action, a.topic, a.ip));
    }
    case 'blacklist':
      return need(obj.value.resourceName !== '', 'blacklist.resource_name', () => parts(obj.value.type, obj.value.resourceName));
    case 'session':
      return need(obj.value.clientId !== '', 'session.client_id', () => parts(obj.value.clientId));
    case 'subscription':
      return need(obj.value.clientId !== '' && obj.value.filter !== '', 'subscription.client_id and filter', () =>
        parts(obj.value.clientId, obj.value.filter),
      );
    case 'topicRewrite':
      return need(obj.value.sourceTopic !== '', 'topic_rewrite.source_topic', () => parts(obj.value.action, obj.value.sourceTopic));
    case 'autoSubscribe':
      return need(obj.value.topic !== '', 'auto_subscribe.topic', () => parts(obj.value.topic));
    case 'schema':
      return need(obj.value.name !== '', 'schema.name', () => parts(obj.value.name));
    case 'connector':
      return need(obj.value.name !== '', 'connector.name', () => parts(obj.value.name));
    case 'journalShard':
      return need(obj.value.name !== '', 'journal_shard.name', () => parts(obj.value.namespace, obj.value.name));
    case 'journalSegment': {
      const s = obj.value;
      return need(s.shard !== '' && Number.isSafeInteger(s.segmentSeq) && s.segmentSeq >= 0, 'journal_segment.shard', () =>
        `${parts(s.namespace, s.shard)}/${seqPart(s.segmentSeq)}`,
      );
    }
    case undefined:
      return { error: 'object must name its kind (user, acl, ...)' };
  }
}

/** Prefix of every subscription key of one client. */
export function subscriptionKeyPrefix(clientId: string): string {
  return `${enc(clientId)}/`;
}

/** Prefix of every segment key of one journal shard. */
export function segmentKeyPrefix(namespace: string, shard: string): string {
  return `${parts(namespace, shard)}/`;
}
