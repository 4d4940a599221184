import type { Connection } from '../connection.js';
import type { IPubcompPacket } from '../packets.js';

/** PUBCOMP ends a QoS 2 delivery (section 4.3.3); the packet id is free again. */
export function handlePubcomp(conn: Connection, p: IPubcompPacket): void {
  const session = conn.session!;
  if (session.complete(p.messageId!)) session.pump();
}
