import type { Connection } from '../connection.js';
import type { IDisconnectPacket } from '../packets.js';
import { RC } from '../reason-codes.js';
import { protocolError } from './dispatch.js';

/**
 * DISCONNECT from the client (section 3.14). Reason 0x04 keeps the will; anything else discards
 * it [MQTT-3.14.4-3]. MQTT 5 may change the session expiry here, but not from zero [MQTT-3.14.2-2].
 */
export function handleDisconnect(conn: Connection, p: IDisconnectPacket): void {
  const session = conn.session!;
  const newExpiry = conn.protocolVersion === 5 ? p.properties?.sessionExpiryInterval : undefined;
  if (newExpiry !== undefined) {
    if (conn.connectExpiryInterval === 0 && newExpiry !== 0) {
      return protocolError(conn, '[MQTT-3.14.2-2] session expiry was 0 at CONNECT and cannot be set at DISCONNECT');
    }
    session.expiryInterval = Math.min(newExpiry, conn.broker.options.maxSessionExpiryInterval);
  }
  conn.willDiscarded = (p.reasonCode ?? 0) !== RC.DISCONNECT_WITH_WILL;
  conn.end('client sent DISCONNECT');
}
