import net from 'node:net';
import type { MqttBroker } from '../mqtt/broker.js';
import { adoptSocket, listen, SOCKET_HIGH_WATER_MARK, type BoundListener, type SocketAcceptor } from './listener.js';

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

/** MQTT over TCP for sockets accepted by another process (see SocketAcceptor). */
export function tcpAcceptor(broker: MqttBroker): SocketAcceptor {
  const sockets = new Set<net.Socket>();
  return {
    name: 'mqtt-tcp',
    accept(socket) {
      adoptSocket(socket);
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      broker.accept(socket, { transport: 'tcp', remoteAddress: socket.remoteAddress ?? '', remotePort: socket.remotePort ?? 0 });
    },
    async close() {
      for (const s of sockets) s.destroy();
    },
  };
}

export function closeServer(server: net.Server, sockets: Set<{ destroy(): void }>): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    for (const s of sockets) s.destroy();
  });
}
