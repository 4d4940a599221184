// The dispatcher: enforces the connection state machine (CONNECT first and once [MQTT-3.1.0-1]
// [MQTT-3.1.0-2], no server-to-client packet types from a client) and hands each packet to its handler.

import type { Connection } from '../connection.js';
import type { Packet } from '../packets.js';
import { RC } from '../reason-codes.js';
import { handleConnect } from './connect.js';
import { handlePublish } from './publish.js';
import { handlePuback } from './puback.js';
import { handlePubrec } from './pubrec.js';
import { handlePubrel } from './pubrel.js';
import { handlePubcomp } from './pubcomp.js';
import { handleSubscribe } from './subscribe.js';
import { handleUnsubscribe } from './unsubscribe.js';
import { handlePingreq } from './pingreq.js';
import { handleDisconnect } from './disconnect.js';
import { handleAuth } from './auth.js';

export function dispatch(conn: Connection, packet: Packet): void {
  if (conn.state === 'awaiting-connect') {
    if (packet.cmd !== 'connect') {
      conn.destroy(`[MQTT-3.1.0-1] first packet was ${packet.cmd.toUpperCase()}, not CONNECT`);
      return;
    }
    handleConnect(conn, packet);
    return;
  }
  if (conn.session === null && packet.cmd !== 'auth' && conn.broker.security.inExchange(conn)) {
    // [MQTT-4.12.0-4] during enhanced authentication only AUTH may come before CONNACK.
    return protocolError(conn, `${packet.cmd.toUpperCase()} during an authentication exchange`);
  }
  switch (packet.cmd) {
    case 'publish': return handlePublish(conn, packet);
    case 'puback': return handlePuback(conn, packet);
    case 'pubrec': return handlePubrec(conn, packet);
    case 'pubrel': return handlePubrel(conn, packet);
    case 'pubcomp': return handlePubcomp(conn, packet);
    case 'subscribe': return handleSubscribe(conn, packet);
    case 'unsubscribe': return handleUnsubscribe(conn, packet);
    case 'pingreq': return handlePingreq(conn);
    case 'disconnect': return handleDisconnect(conn, packet);
    case 'auth': return handleAuth(conn, packet);
    case 'connect':
      return protocolError(conn, '[MQTT-3.1.0-2] a second CONNECT on one connection');
    default:
      return protocolError(conn, `a client must not send ${packet.cmd.toUpperCase()}`);
  }
}

/** A protocol violation: DISCONNECT 0x82 in v5 [MQTT-4.13.1-1], a plain close in v3. */
export function protocolError(conn: Connection, message: string, reasonCode: number = RC.PROTOCOL_ERROR): void {
  conn.broker.log.debug('protocol error', { clientId: conn.clientId, message });
  if (conn.protocolVersion === 5) conn.disconnect(reasonCode, message);
  else conn.destroy(message);
}
