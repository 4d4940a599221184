// PUBLISH from a client (section 3.3, 4.3): checks, topic alias resolution, routing (or, for
// `$delayed/{seconds}/{topic}`, storing for later), then the acknowledgement once every copy that
// a persistent session needs is durable.

import type { Connection } from '../connection.js';
import type { IPublishPacket } from '../packets.js';
import { DELAYED_PREFIX, parseDelayedTopic } from '../delayed.js';
import { RC } from '../reason-codes.js';
import { topicNameError } from '../topic.js';
import { isValidUtf8 } from '../utf8.js';
import { protocolError } from './dispatch.js';

export function handlePublish(conn: Connection, p: IPublishPacket): void {
  const broker = conn.broker;
  const opts = broker.options;
  const v5 = conn.protocolVersion === 5;
  const qos = p.qos;
  conn.messagesIn++;
  broker.stats.messagesIn++;

  if (qos > opts.maxQos) return protocolError(conn, `[MQTT-3.2.2-11] QoS ${qos} exceeds maximum QoS ${opts.maxQos}`, RC.QOS_NOT_SUPPORTED);
  if (p.retain && !opts.retainAvailable) return protocolError(conn, '[MQTT-3.2.2-14] retain is not available', RC.RETAIN_NOT_SUPPORTED);

  let topic = p.topic;
  const props = p.properties;
  if (v5 && props?.topicAlias !== undefined) {
    const alias = props.topicAlias;
    if (alias === 0 || alias > opts.topicAliasMaximum) {
      return protocolError(conn, `[MQTT-3.3.2-9] topic alias ${alias} is outside 1..${opts.topicAliasMaximum}`, RC.TOPIC_ALIAS_INVALID);
    }
    if (topic.length === 0) {
      const known = conn.aliasesIn.get(alias);
      if (known === undefined) return protocolError(conn, `topic alias ${alias} was never set on this connection`);
      topic = known;
    } else {
      conn.aliasesIn.set(alias, topic); // [MQTT-3.3.2-12]
    }
  } else if (topic.length === 0) {
    return protocolError(conn, '[MQTT-4.7.3-1] PUBLISH with an empty topic and no topic alias', v5 ? RC.PROTOCOL_ERROR : RC.MALFORMED_PACKET);
  }
  const topicErr = topicNameError(topic, opts);
  if (topicErr !== null) return protocolError(conn, topicErr, RC.TOPIC_NAME_INVALID);
  if (v5 && props?.subscriptionIdentifier !== undefined) {
    return protocolError(conn, '[MQTT-3.3.4-6] a PUBLISH from a client must not carry a subscription identifier');
  }
  // `$delayed/{seconds}/{topic}`: everything below (ACL included) concerns the real topic.
  let delaySeconds = -1;
  let delayError: string | null = null;
  if (topic.startsWith(DELAYED_PREFIX)) {
    const d = parseDelayedTopic(topic, opts);
    if (typeof d === 'string') {
      delayError = d;
    } else {
      delaySeconds = d.seconds;
      topic = d.topic;
    }
  }
  if (delayError !== null && (qos === 0 || !v5)) {
    // No acknowledgement to carry the refusal: MQTT 5 gets DISCONNECT 0x90, v3 a closed connection.
    return protocolError(conn, delayError, RC.TOPIC_NAME_INVALID);
  }

  const payload = typeof p.payload === 'string' ? Buffer.from(p.payload) : p.payload;
  const session = conn.session!;
  const pid = p.messageId!;

  // A resend the dead broker had stored the packet id of: maybe never forwarded (see
  // redeliverAdopted). The first PUBLISH with such an id is always a resend — the client may not
  // reuse it before PUBCOMP — so the DUP flag (which some clients never set) is not needed.
  const redeliver = qos === 2 && broker.cluster !== null && session.adoptedIn2 !== null && session.adoptedIn2.has(pid);
  if (qos === 2 && session.inbound2.has(pid) && !redeliver) {
    // [MQTT-4.3.3-9] a resent QoS 2 PUBLISH is not delivered again; just PUBREC once more.
    broker.persister.after(() => {
      if (!conn.closed) conn.writePacket({ cmd: 'pubrec', messageId: pid });
    });
    return;
  }
  // A redelivered packet id is already counted (it was in the session's QoS 2 state at CONNECT).
  if (qos > 0 && !redeliver) {
    conn.inboundPending++;
    if (v5 && conn.inboundPending > opts.receiveMaximum) {
      // [MQTT-3.3.4-9] (MQTT 5 only; v3 has no such limit) more unacknowledged QoS 1/2 publishes than our Receive Maximum.
      return protocolError(conn, `more than ${opts.receiveMaximum} unacknowledged QoS 1/2 publishes`, RC.RECEIVE_MAXIMUM_EXCEEDED);
    }
  }

  if (delayError !== null) {
    // [MQTT-3.3.4-1] the PUBACK/PUBREC says why: 0x90, Topic Name invalid; the connection stays.
    broker.stats.dropped++;
    ack(conn, qos as 1 | 2, pid, RC.TOPIC_NAME_INVALID, delayError);
    return;
  }

  if (v5 && props?.payloadFormatIndicator && !isValidUtf8(payload)) {
    // [MQTT-3.3.2-4] the payload claims UTF-8 and is not: refuse it with 0x99.
    broker.stats.dropped++;
    if (qos === 0) return;
    ack(conn, qos, pid, RC.PAYLOAD_FORMAT_INVALID, 'payload is not valid UTF-8');
    return;
  }

  // Security: rate limit (0x97) and ACL (0x87), one cached decision per topic.
  const denied = broker.security.checkPublish(conn, topic, qos, p.retain);
  if (denied !== 0) {
    if (denied === RC.NOT_AUTHORIZED && broker.security.disconnectOnDeny) {
      return protocolError(conn, `not authorized to publish to ${topic}`, RC.NOT_AUTHORIZED);
    }
    if (v5) {
      if (qos !== 0) ack(conn, qos, pid, denied, denied === RC.NOT_AUTHORIZED ? 'not authorized' : 'message rate limit exceeded');
      return;
    }
    // v3 has no negative acknowledgement: acknowledged as usual and not delivered [MQTT-3.3.5-2].
    if (qos === 0) return;
    if (qos === 2) session.inbound2.add(pid);
    broker.persister.after(() => ack(conn, qos, pid, RC.SUCCESS));
    return;
  }

  let messageProps: typeof props;
  if (v5 && props !== undefined) {
    const { topicAlias: _a, subscriptionIdentifier: _s, ...rest } = props;
    messageProps = Object.keys(rest).length > 0 ? rest : undefined;
  }
  const message = broker.makeMessage(topic, payload, qos, p.retain, messageProps, conn.clientId, conn.lastSeen);
  let matched: number;
  let delayedId: string | undefined;
  if (delaySeconds >= 0) {
    // Nothing is routed now; the stored record is what the acknowledgement waits for.
    delayedId = broker.delayed.publishLater(message, delaySeconds, conn.lastSeen).id;
    matched = 1;
  } else if (redeliver) {
    session.adoptedIn2!.delete(pid);
    broker.currentPublisher = conn;
    matched = broker.cluster!.redeliverAdopted(session, message, pid);
    broker.currentPublisher = null;
  } else {
    broker.currentPublisher = conn;
    broker.currentPacketId = qos === 2 ? pid : 0;
    matched = broker.router.publish(message);
    broker.currentPacketId = 0;
    broker.currentPublisher = null;
  }

  if (qos === 0) return;
  if (qos === 2) {
    session.inbound2.add(pid);
    if (session.persistent) broker.persister.add({ op: 'in2.put', clientId: session.clientId, packetId: pid });
  }
  broker.afterRouted(conn, (err) => {
    if (conn.closed) return;
    if (err !== null) {
      // Not durable: never acknowledge. v5 gets an error code, v3 a closed connection so it resends.
      broker.log.error('storage failed; publish not acknowledged', { clientId: conn.clientId, topic, error: err.message });
      if (qos === 2) session.inbound2.delete(pid);
      // Not acknowledged, so not kept either: the client publishes it again.
      if (delayedId !== undefined) broker.delayed.remove(delayedId);
      if (v5) ack(conn, qos, pid, RC.UNSPECIFIED_ERROR, 'storage unavailable');
      else conn.destroy('storage unavailable');
      return;
    }
    ack(conn, qos, pid, matched === 0 && v5 ? RC.NO_MATCHING_SUBSCRIBERS : RC.SUCCESS);
  });
}

function ack(conn: Connection, qos: 1 | 2, messageId: number, reasonCode: number, reasonString?: string): void {
  if (conn.closed) return;
  if (qos === 1 || reasonCode >= 0x80) conn.inboundPending--;
  const cmd = qos === 1 ? 'puback' : 'pubrec';
  if (conn.protocolVersion === 5 && reasonCode !== RC.SUCCESS) {
    conn.writePacket({ cmd, messageId, reasonCode, properties: reasonString ? { reasonString } : undefined });
  } else {
    conn.writePacket({ cmd, messageId });
  }
}
