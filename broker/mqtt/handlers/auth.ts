import type { Connection } from '../connection.js';
import type { IAuthPacket } from '../packets.js';
import { RC } from '../reason-codes.js';
import { protocolError } from './dispatch.js';

/**
 * AUTH outside an enhanced-authentication exchange. The broker offers no authentication method
 * yet (CONNECT with one is refused with 0x8C), so any AUTH is a protocol error [MQTT-4.12.0-1].
 */
export function handleAuth(conn: Connection, packet: IAuthPacket): void {
  const method = packet.properties?.authenticationMethod;
  protocolError(conn, method ? `authentication method "${method}" was not negotiated` : 'AUTH without an authentication exchange',
    method ? RC.BAD_AUTHENTICATION_METHOD : RC.PROTOCOL_ERROR);
}
