// CONNECT: validates the request, opens or resumes the session, answers CONNACK (section 3.1/3.2).

import type { Connection } from '../connection.js';
import type { IConnackPacket, IConnectPacket } from '../packets.js';
import { CodedError } from '../../../common/errors.js';
import { RC, v3ConnackCode } from '../reason-codes.js';
import { topicNameError } from '../topic.js';
import { isValidUtf8 } from '../utf8.js';

type ConnackProperties = NonNullable<IConnackPacket['properties']>;

export function handleConnect(conn: Connection, p: IConnectPacket): void {
  const broker = conn.broker;
  const opts = broker.options;
  const v = (p.protocolVersion ?? 4) as 3 | 4 | 5;
  conn.protocolVersion = v;
  conn.state = 'connecting';
  const props = p.properties ?? {};

  let clientId = p.clientId ?? '';
  let assigned: string | undefined;
  if (clientId.length === 0) {
    if (v === 5) {
      // [MQTT-3.1.3-6] the Server assigns a unique id and returns it [MQTT-3.2.2-16].
      clientId = assigned = broker.assignClientId();
    } else if (v === 4 && p.clean) {
      clientId = broker.assignClientId(); // [MQTT-3.1.3-6] [MQTT-3.1.3-7]
    } else {
      return refuse(conn, RC.CLIENT_IDENTIFIER_NOT_VALID, '[MQTT-3.1.3-8] an empty client id needs clean session = 1');
    }
  }
  if (Buffer.byteLength(clientId) > opts.maxClientIdLength) {
    return refuse(conn, RC.CLIENT_IDENTIFIER_NOT_VALID, `client id longer than ${opts.maxClientIdLength} bytes`);
  }
  conn.clientId = clientId;
  conn.username = p.username;

  if (v === 5) {
    conn.clientReceiveMaximum = props.receiveMaximum ?? 65535;
    conn.clientMaxPacketSize = props.maximumPacketSize ?? 0;
    conn.clientTopicAliasMaximum = props.topicAliasMaximum ?? 0;
    conn.requestProblemInformation = props.requestProblemInformation ?? true;
  }

  // Keep alive: the Server Keep Alive overrides the client's in v5 [MQTT-3.2.2-21].
  let keepalive = p.keepalive ?? 0;
  let serverKeepAlive: number | undefined;
  if (v === 5 && opts.serverKeepAlive > 0 && opts.serverKeepAlive !== keepalive) {
    keepalive = serverKeepAlive = opts.serverKeepAlive;
  } else if (v === 5 && keepalive > opts.maxKeepAlive) {
    keepalive = serverKeepAlive = opts.maxKeepAlive;
  }
  conn.keepaliveMs = keepalive * 1000;

  let expiry: number;
  let expiryChanged: number | undefined;
  if (v === 5) {
    expiry = props.sessionExpiryInterval ?? 0;
    if (expiry > opts.maxSessionExpiryInterval) expiry = expiryChanged = opts.maxSessionExpiryInterval;
  } else {
    expiry = p.clean ? 0 : opts.v3SessionExpiryInterval;
  }

  if (p.will) {
    const w = p.will;
    const wp = w.properties ?? {};
    const err = topicNameError(w.topic, opts);
    if (err !== null) return refuse(conn, RC.TOPIC_NAME_INVALID, `will topic: ${err}`);
    const qos = (w.qos ?? 0) as 0 | 1 | 2;
    if (qos > opts.maxQos) return refuse(conn, RC.QOS_NOT_SUPPORTED, `[MQTT-3.2.2-12] will QoS ${qos} exceeds maximum QoS ${opts.maxQos}`);
    if (w.retain && !opts.retainAvailable) return refuse(conn, RC.RETAIN_NOT_SUPPORTED, '[MQTT-3.2.2-13] retain is not available');
    const payload = typeof w.payload === 'string' ? Buffer.from(w.payload) : w.payload;
    if (wp.payloadFormatIndicator && !isValidUtf8(payload)) {
      return refuse(conn, RC.PAYLOAD_FORMAT_INVALID, 'will payload is not valid UTF-8 but its payload format indicator says so');
    }
    const { willDelayInterval, ...messageProps } = wp;
    conn.will = {
      message: broker.ensureId(broker.makeMessage(w.topic, payload, qos, !!w.retain, v === 5 ? messageProps : undefined, clientId)),
      delayInterval: v === 5 ? (willDelayInterval ?? 0) : 0,
    };
  }

  conn.connectExpiryInterval = expiry;
  // Rate limit, flapping, blacklist, authentication (maybe an AUTH exchange) and ACL set-up;
  // `accept` runs once they pass, perhaps later (incoming packets are held meanwhile).
  broker.security.admit(conn, p, (authProps) => claim(authProps), (code, message) => refuse(conn, code, message));

  /** In a cluster the session may live on another broker: take it over first (broker/cluster/). */
  function claim(authProps: Partial<ConnackProperties> | undefined): void {
    const cluster = broker.cluster;
    if (cluster === null) return accept(authProps);
    conn.hold();
    cluster.claimSession(clientId, conn).then(
      () => {
        if (!conn.closed) accept(authProps);
      },
      (err: unknown) => {
        if (conn.closed) return;
        if (err instanceof CodedError && err.code === 'BR_CLIENT_ID_INVALID') return refuse(conn, RC.CLIENT_IDENTIFIER_NOT_VALID, err.message);
        broker.log.warn('could not take the session over', { clientId, error: err instanceof Error ? err.message : String(err) });
        refuse(conn, RC.SERVER_UNAVAILABLE, 'session owner unreachable');
      },
    );
  }

  function accept(authProps: Partial<ConnackProperties> | undefined): void {
    const { session, present } = broker.openSession(conn, clientId, !!p.clean, expiry);
    conn.inboundPending = session.inbound2.size;
    conn.hold();
    broker.persister.after((err) => {
      if (conn.closed) return;
      if (err !== null) {
        broker.log.error('storage failed while opening a session', { clientId, error: err.message });
        refuse(conn, RC.SERVER_UNAVAILABLE, 'session storage unavailable');
        return;
      }
      const connack: IConnackPacket = { cmd: 'connack', sessionPresent: present };
      if (v === 5) {
        connack.reasonCode = RC.SUCCESS;
        const cp: ConnackProperties = {
          topicAliasMaximum: opts.topicAliasMaximum,
          maximumPacketSize: opts.maxPacketSize,
        };
        if (opts.receiveMaximum < 65535) cp.receiveMaximum = opts.receiveMaximum;
        if (opts.maxQos < 2) cp.maximumQoS = opts.maxQos;
        if (!opts.retainAvailable) cp.retainAvailable = false;
        if (!opts.wildcardSubscriptionAvailable) cp.wildcardSubscriptionAvailable = false;
        if (!opts.subscriptionIdentifierAvailable) cp.subscriptionIdentifiersAvailable = false;
        if (!opts.sharedSubscriptionAvailable) cp.sharedSubscriptionAvailable = false;
        if (assigned !== undefined) cp.assignedClientIdentifier = assigned;
        if (serverKeepAlive !== undefined) cp.serverKeepAlive = serverKeepAlive;
        if (expiryChanged !== undefined) cp.sessionExpiryInterval = expiryChanged;
        if (props.requestResponseInformation) cp.responseInformation = `response/${clientId}`;
        if (authProps !== undefined) Object.assign(cp, authProps);
        connack.properties = cp;
      } else {
        connack.returnCode = 0;
        // [MQTT-3.2.2-1] session present is 0 with clean session; v3.1 has no such flag.
        if (v === 3) connack.sessionPresent = false;
      }
      conn.writePacket(connack);
      conn.state = 'connected';
      broker.stats.connects++;
      session.resend();
      conn.resume();
    });
  }
}

/** CONNACK with a failure code, then close [MQTT-3.2.2-5] [MQTT-3.2.2-7]. */
export function refuse(conn: Connection, reasonCode: number, message: string): void {
  conn.broker.stats.refused++;
  conn.broker.log.info('connection refused', { clientId: conn.clientId, reason: message, code: reasonCode });
  if (conn.protocolVersion === 5) {
    conn.writePacket({ cmd: 'connack', sessionPresent: false, reasonCode, properties: { reasonString: message } });
  } else {
    conn.writePacket({ cmd: 'connack', sessionPresent: false, returnCode: v3ConnackCode(reasonCode) });
  }
  conn.end(`refused: ${message}`);
}
