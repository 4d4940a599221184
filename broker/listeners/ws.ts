import http from 'node:http';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import { WebSocketServer, createWebSocketStream, type WebSocket } from 'ws';
import type { MqttBroker } from '../mqtt/broker.js';
import { listen, type BoundListener } from './listener.js';
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
  const bound = await listen(server, host, port);
  return {
    name: files ? 'mqtt-wss' : 'mqtt-ws', host, port: bound,
    close: async () => {
      for (const ws of sockets) ws.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
      await closeServer(server, new Set());
    },
  };
}
