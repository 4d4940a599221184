import net from 'node:net';
import type { MqttBroker } from '../mqtt/broker.js';
import { listen, SOCKET_HIGH_WATER_MARK, type BoundListener } from './listener.js';

/** MQTT over plain TCP (port 1883 by default). */
export async function startTcpListener(broker: MqttBroker, host: string, port: number): Promise<BoundListener> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ noDelay: true, highWaterMark: SOCKET_HIGH_WATER_MARK }, (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    broker.accept(socket, { transport: 'tcp', remoteAddress: socket.remoteAddress ?? '', remotePort: socket.remotePort ?? 0 });
  });
  const bound = await listen(server, host, port);
  return {
    name: 'mqtt-tcp', host, port: bound,
    close: () => closeServer(server, sockets),
  };
}

export function closeServer(server: net.Server, sockets: Set<{ destroy(): void }>): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    for (const s of sockets) s.destroy();
  });
}
