import type { Connection } from '../connection.js';
import type { IUnsubscribePacket } from '../packets.js';
import { RC } from '../reason-codes.js';

/** UNSUBSCRIBE (section 3.10): remove each subscription; UNSUBACK once durable [MQTT-3.10.4-4]. */
export function handleUnsubscribe(conn: Connection, p: IUnsubscribePacket): void {
  const broker = conn.broker;
  const session = conn.session!;
  const codes = p.unsubscriptions.map((filter) =>
    broker.unsubscribe(session, filter) ? RC.SUCCESS : RC.NO_SUBSCRIPTION_EXISTED);
  broker.persister.after(() => {
    if (conn.closed) return;
    if (conn.protocolVersion === 5) conn.writePacket({ cmd: 'unsuback', messageId: p.messageId, granted: codes });
    else conn.writePacket({ cmd: 'unsuback', messageId: p.messageId, granted: [] });
  });
}
