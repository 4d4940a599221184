import type { Connection } from '../connection.js';
import type { IAuthPacket } from '../packets.js';
import { RC } from '../reason-codes.js';
import { protocolError } from './dispatch.js';

/**
 * AUTH (section 3.15): the security layer takes the steps of a SCRAM-SHA-256 exchange and
 * re-authentication; any other AUTH is a protocol error [MQTT-4.12.0-1].
 */
export function handleAuth(conn: Connection, packet: IAuthPacket): void {
  if (conn.broker.security.onAuthPacket(conn, packet)) return;
  const method = packet.properties?.authenticationMethod;
  protocolError(conn, method ? `authentication method "${method}" was not negotiated` : 'AUTH without an authentication exchange',
    method ? RC.BAD_AUTHENTICATION_METHOD : RC.PROTOCOL_ERROR);
}
