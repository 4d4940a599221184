import type { Connection } from '../connection.js';
import type { IPubackPacket } from '../packets.js';

/** PUBACK from the client ends a QoS 1 delivery (section 4.3.2); the freed slot takes the next queued message. */
export function handlePuback(conn: Connection, p: IPubackPacket): void {
  const session = conn.session!;
  if (session.complete(p.messageId!)) session.pump();
}
