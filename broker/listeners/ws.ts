import http from 'node:http';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import { WebSocketServer, createWebSocketStream, type WebSocket } from 'ws';
import type { MqttBroker } from '../mqtt/broker.js';
import type { Socket } from 'node:net';
import { adoptSocket, listen, type BoundListener, type SocketAcceptor } from './listener.js';
import { tlsServerOptions, peerCommonName, type TlsFiles } from './tls.js';
import { closeServer } from './tcp.js';

/**
 * MQTT over WebSocket (8083) and secure WebSocket (8084) on one path (section 6 of the spec):
 * binary frames, subprotocol `mqtt` (or the older `mqttv3.1`). Frames carry a byte stream, so a
 * packet split across frames, or several in one, goes through the same incremental parser.
 */
export async function startWsListener(
  broker: MqttBroker, host: string, port: number, path: string, files?: TlsFiles,
): Promise<BoundListener> {
  const ws = createWsServer(broker, path, files);
  const bound = await listen(ws.server, host, port);
  return { name: files ? 'mqtt-wss' : 'mqtt-ws', host, port: bound, close: ws.close };
}

/**
 * MQTT over WebSocket / secure WebSocket for sockets accepted by another process: the TLS and
 * HTTP upgrade handshakes happen here.
 */
export function wsAcceptor(broker: MqttBroker, path: string, files?: TlsFiles): SocketAcceptor {
  const ws = createWsServer(broker, path, files);
  const raw = new Set<Socket>();
  return {
    name: files ? 'mqtt-wss' : 'mqtt-ws',
    accept(socket) {
      adoptSocket(socket);
      raw.add(socket);
      socket.once('close', () => raw.delete(socket));
      // Never listens: an http(s).Server serves whatever socket its 'connection' event carries.
      ws.server.emit('connection', socket);
    },
    async close() {
      await ws.close();
      for (const s of raw) s.destroy();
    },
  };
}

function createWsServer(broker: MqttBroker, path: string, files?: TlsFiles): { server: http.Server; close(): Promise<void> } {
  const server = files ? https.createServer(tlsServerOptions(files)) : http.createServer();
  server.on('request', (_req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket' });
    res.end('MQTT over WebSocket: connect with a WebSocket client, subprotocol "mqtt"\n');
  });
  const wss = new WebSocketServer({
    server,
    path,
    maxPayload: broker.options.maxPacketSize + 8,
    perMessageDeflate: false,
    handleProtocols: (protocols) => {
      if (protocols.has('mqtt')) return 'mqtt';
      if (protocols.has('mqttv3.1')) return 'mqttv3.1';
      return false;
    },
  });
  const sockets = new Set<WebSocket>();
  wss.on('connection', (ws, req) => {
    sockets.add(ws);
    ws.once('close', () => sockets.delete(ws));
    const stream = createWebSocketStream(ws);
    const socket = req.socket;
    broker.accept(stream, {
      transport: files ? 'wss' : 'ws',
      remoteAddress: socket.remoteAddress ?? '',
      remotePort: socket.remotePort ?? 0,
      certCommonName: files ? peerCommonName(socket as TLSSocket) : undefined,
    });
  });
  return {
    server,
    close: async () => {
      for (const ws of sockets) ws.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
      await closeServer(server, new Set());
    },
  };
}
