import type { Connection } from '../connection.js';
import type { IPubrelPacket } from '../packets.js';
import { RC } from '../reason-codes.js';

/**
 * PUBREL from the client: forget the QoS 2 packet id and answer PUBCOMP [MQTT-4.3.3-11], after the
 * forgetting is durable so a restart cannot mistake a new message with that id for a resend.
 */
export function handlePubrel(conn: Connection, p: IPubrelPacket): void {
  const session = conn.session!;
  const pid = p.messageId!;
  const known = session.inbound2.delete(pid);
  if (known) {
    conn.inboundPending--;
    if (session.persistent) conn.broker.persister.add({ op: 'in2.delete', clientId: session.clientId, packetId: pid });
    session.adoptedIn2?.delete(pid);
    const cluster = conn.broker.cluster;
    if (cluster !== null) conn.broker.persister.after(() => cluster.qos2Released(session.clientId, pid));
  }
  conn.broker.persister.after(() => {
    if (conn.closed) return;
    if (!known && conn.protocolVersion === 5) {
      conn.writePacket({ cmd: 'pubcomp', messageId: pid, reasonCode: RC.PACKET_IDENTIFIER_NOT_FOUND });
    } else {
      conn.writePacket({ cmd: 'pubcomp', messageId: pid });
    }
  });
}
