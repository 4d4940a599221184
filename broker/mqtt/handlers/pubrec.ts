import type { Connection } from '../connection.js';
import type { IPubrecPacket } from '../packets.js';
import { RC } from '../reason-codes.js';

/**
 * PUBREC: the client holds the QoS 2 message. Answer PUBREL once the new state is durable, so a
 * restart resends PUBREL and never the PUBLISH [MQTT-4.3.3-5]. A failure reason code ends the
 * exchange without PUBREL (MQTT 5, section 4.3.3).
 */
export function handlePubrec(conn: Connection, p: IPubrecPacket): void {
  const session = conn.session!;
  const pid = p.messageId!;
  if ((p.reasonCode ?? 0) >= 0x80) {
    if (session.complete(pid)) session.pump();
    return;
  }
  const entry = session.received(pid);
  const broker = conn.broker;
  broker.persister.after(() => {
    if (conn.closed) return;
    if (entry === undefined && conn.protocolVersion === 5) {
      conn.writePacket({ cmd: 'pubrel', messageId: pid, reasonCode: RC.PACKET_IDENTIFIER_NOT_FOUND });
    } else {
      conn.sendPubrel(pid);
    }
  });
}
