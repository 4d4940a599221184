// SUBSCRIBE (section 3.8): validate each filter, add or replace the subscription, SUBACK once the
// change is durable, then send matching retained messages as Retain Handling says.
//
// `$exclusive/{filter}` first takes the filter's lock (broker/mqtt/exclusive.ts), which may be
// asynchronous (placement, in a cluster): the connection's later packets are held meanwhile, so
// they are handled, and answered, after this SUBSCRIBE as they arrived.

import type { Connection } from '../connection.js';
import type { ISubscribePacket } from '../packets.js';
import type { SubscriptionRecord } from '../../storage/driver.js';
import type { Session } from '../session.js';
import { RC } from '../reason-codes.js';
import { parseFilter, topicFilterError, type ParsedFilter } from '../topic.js';
import { protocolError } from './dispatch.js';

type Request = ISubscribePacket['subscriptions'][number];

/** One filter of the packet after the checks that need no lock: a refusal, or what to add. */
type Checked = { rc: number } | { req: Request; parsed: ParsedFilter };

/** The outcome of an exclusive filter's lock: taken, held by another session, or not reachable. */
type LockOutcome = 'held' | 'taken' | 'failed';

export function handleSubscribe(conn: Connection, p: ISubscribePacket): void {
  const broker = conn.broker;
  const opts = broker.options;
  const v5 = conn.protocolVersion === 5;
  const session = conn.session!;
  const subId = v5 ? p.properties?.subscriptionIdentifier : undefined;
  if (subId !== undefined && !opts.subscriptionIdentifierAvailable) {
    return protocolError(conn, 'subscription identifiers are not available', RC.SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED);
  }
  const checked: Checked[] = [];
  for (const s of p.subscriptions) {
    const parsed = parseFilter(s.topic);
    let denied = 0;
    if (typeof parsed === 'string') {
      checked.push({ rc: RC.TOPIC_FILTER_INVALID });
    } else if (topicFilterError(parsed.filter, opts) !== null) {
      checked.push({ rc: RC.TOPIC_FILTER_INVALID });
    } else if (parsed.group !== undefined && !opts.sharedSubscriptionAvailable) {
      checked.push({ rc: RC.SHARED_SUBSCRIPTIONS_NOT_SUPPORTED });
    } else if (parsed.group !== undefined && s.nl) {
      return protocolError(conn, '[MQTT-3.8.3-4] No Local must not be set on a shared subscription');
    } else if (!opts.wildcardSubscriptionAvailable && /[+#]/.test(parsed.filter)) {
      checked.push({ rc: RC.WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED });
    } else if ((denied = broker.security.checkSubscribe(conn, parsed.filter, s.qos)) !== 0) {
      if (broker.security.disconnectOnDeny) return protocolError(conn, `not authorized to subscribe to ${s.topic}`, RC.NOT_AUTHORIZED);
      checked.push({ rc: denied });
    } else {
      checked.push({ req: s, parsed });
    }
  }

  const exclusive: number[] = [];
  for (let i = 0; i < checked.length; i++) {
    const c = checked[i]!;
    if ('parsed' in c && c.parsed.exclusive) exclusive.push(i);
  }
  if (exclusive.length === 0) {
    apply(conn, p, session, subId, checked, null);
    return;
  }
  // One exclusive filter may hold up the connection's later packets, never reorder them.
  conn.hold();
  const locks = broker.exclusive;
  const clientId = session.clientId;
  const outcomes = new Map<number, LockOutcome>();
  void Promise.all(exclusive.map((i) => {
    const parsed = (checked[i] as { parsed: ParsedFilter }).parsed;
    // A lock table that throws instead of rejecting is treated alike.
    return new Promise<boolean>((resolve) => resolve(locks.acquire(parsed.filter, clientId))).then(
      (ok) => { outcomes.set(i, ok ? 'held' : 'taken'); },
      (err: unknown) => {
        broker.log.warn('exclusive subscription lock unavailable', { clientId, filter: parsed.filter, error: err instanceof Error ? err.message : String(err) });
        outcomes.set(i, 'failed');
      },
    );
  })).then(() => {
    if (conn.closed || conn.session !== session) {
      // The connection went while the locks were taken: keep only what a subscription uses.
      for (const i of exclusive) {
        const c = checked[i] as { req: Request; parsed: ParsedFilter };
        if (outcomes.get(i) === 'held' && broker.sessions.get(clientId)?.subs.has(c.req.topic) !== true) locks.release(c.parsed.filter, clientId);
      }
      return;
    }
    apply(conn, p, session, subId, checked, outcomes);
    conn.resume();
  }).catch((err: unknown) => {
    broker.log.error('SUBSCRIBE failed', { clientId, error: err instanceof Error ? err.message : String(err) });
    conn.destroy('internal error');
  });
}

/** Adds the accepted subscriptions in packet order; SUBACK once durable, then retained messages. */
function apply(
  conn: Connection, p: ISubscribePacket, session: Session, subId: number | undefined,
  checked: readonly Checked[], outcomes: ReadonlyMap<number, LockOutcome> | null,
): void {
  const broker = conn.broker;
  const opts = broker.options;
  const v5 = conn.protocolVersion === 5;
  const granted: number[] = [];
  const accepted: Array<{ rec: SubscriptionRecord; parsed: ParsedFilter; isNew: boolean }> = [];
  for (let i = 0; i < checked.length; i++) {
    const c = checked[i]!;
    let rc: number;
    if ('rc' in c) {
      rc = c.rc;
    } else {
      const { req: s, parsed } = c;
      const lock = outcomes?.get(i);
      if (lock === 'taken') {
        // Another session holds this exclusive subscription.
        rc = RC.QUOTA_EXCEEDED;
      } else if (lock === 'failed') {
        rc = RC.UNSPECIFIED_ERROR;
      } else if (opts.maxSubscriptionsPerClient > 0 && !session.subs.has(s.topic) && session.subs.size >= opts.maxSubscriptionsPerClient) {
        rc = RC.QUOTA_EXCEEDED;
        if (lock === 'held') broker.exclusive.release(parsed.filter, session.clientId);
      } else {
        const qos = (s.qos < opts.maxQos ? s.qos : opts.maxQos) as 0 | 1 | 2;
        const rec: SubscriptionRecord = {
          clientId: session.clientId,
          filter: s.topic,
          qos,
          noLocal: v5 ? !!s.nl : false,
          retainAsPublished: v5 ? !!s.rap : false,
          retainHandling: (v5 ? (s.rh ?? 0) : 0) as 0 | 1 | 2,
          subscriptionId: subId,
        };
        const isNew = broker.subscribe(session, rec, parsed);
        accepted.push({ rec, parsed, isNew });
        rc = qos;
      }
    }
    // v3 has a single failure code 0x80 [MQTT-3.9.3-2].
    granted.push(v5 || rc < 0x80 ? rc : 0x80);
  }
  broker.persister.after((err) => {
    if (conn.closed) return;
    if (err !== null) {
      broker.log.error('storage failed; subscription not confirmed', { clientId: conn.clientId, error: err.message });
      conn.destroy('storage unavailable');
      return;
    }
    conn.writePacket({ cmd: 'suback', messageId: p.messageId, granted });
    for (const { rec, parsed, isNew } of accepted) {
      // [MQTT-3.3.1-9..11] Retain Handling; retained messages are not sent to shared subscriptions.
      if (parsed.group !== undefined || rec.retainHandling === 2 || (rec.retainHandling === 1 && !isNew)) continue;
      broker.sendRetained(session, rec, parsed.filter);
    }
  });
}
