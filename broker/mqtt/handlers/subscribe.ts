// SUBSCRIBE (section 3.8): validate each filter, add or replace the subscription, SUBACK once the
// change is durable, then send matching retained messages as Retain Handling says.

import type { Connection } from '../connection.js';
import type { ISubscribePacket } from '../packets.js';
import type { SubscriptionRecord } from '../../storage/driver.js';
import { RC } from '../reason-codes.js';
import { parseFilter, topicFilterError, type ParsedFilter } from '../topic.js';
import { protocolError } from './dispatch.js';

export function handleSubscribe(conn: Connection, p: ISubscribePacket): void {
  const broker = conn.broker;
  const opts = broker.options;
  const v5 = conn.protocolVersion === 5;
  const session = conn.session!;
  const subId = v5 ? p.properties?.subscriptionIdentifier : undefined;
  if (subId !== undefined && !opts.subscriptionIdentifierAvailable) {
    return protocolError(conn, 'subscription identifiers are not available', RC.SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED);
  }
  const granted: number[] = [];
  const accepted: Array<{ rec: SubscriptionRecord; parsed: ParsedFilter; isNew: boolean }> = [];
  for (const s of p.subscriptions) {
    const parsed = parseFilter(s.topic);
    let rc: number;
    let denied = 0;
    if (typeof parsed === 'string') {
      rc = RC.TOPIC_FILTER_INVALID;
    } else if (topicFilterError(parsed.filter, opts) !== null) {
      rc = RC.TOPIC_FILTER_INVALID;
    } else if (parsed.group !== undefined && !opts.sharedSubscriptionAvailable) {
      rc = RC.SHARED_SUBSCRIPTIONS_NOT_SUPPORTED;
    } else if (parsed.group !== undefined && s.nl) {
      return protocolError(conn, '[MQTT-3.8.3-4] No Local must not be set on a shared subscription');
    } else if (!opts.wildcardSubscriptionAvailable && /[+#]/.test(parsed.filter)) {
      rc = RC.WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED;
    } else if (opts.maxSubscriptionsPerClient > 0 && !session.subs.has(s.topic) && session.subs.size >= opts.maxSubscriptionsPerClient) {
      rc = RC.QUOTA_EXCEEDED;
    } else if ((denied = broker.security.checkSubscribe(conn, parsed.filter, s.qos)) !== 0) {
      if (broker.security.disconnectOnDeny) return protocolError(conn, `not authorized to subscribe to ${s.topic}`, RC.NOT_AUTHORIZED);
      rc = denied;
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
