import tls from 'node:tls';
import type { MqttBroker } from '../mqtt/broker.js';
import type { Socket } from 'node:net';
import { adoptSocket, listen, SOCKET_HIGH_WATER_MARK, type BoundListener, type SocketAcceptor } from './listener.js';
import { closeServer } from './tcp.js';

export interface TlsFiles {
  cert: Buffer;
  key: Buffer;
  ca?: Buffer;
  requireClientCert: boolean;
}

export function tlsServerOptions(files: TlsFiles): tls.TlsOptions {
  return {
    highWaterMark: SOCKET_HIGH_WATER_MARK,
    cert: files.cert,
    key: files.key,
    ca: files.ca,
    // With a CA configured, client certificates are asked for and verified against it; without
    // require_client_cert a client may still connect without one.
    requestCert: files.ca !== undefined,
    rejectUnauthorized: files.requireClientCert,
  };
}

/** Subject CN of a verified client certificate, for certificate-based identity. */
export function peerCommonName(socket: tls.TLSSocket): string | undefined {
  if (!socket.authorized) return undefined;
  const cert = socket.getPeerCertificate();
  const cn = cert?.subject?.CN;
  return Array.isArray(cn) ? cn[0] : cn;
}

/** MQTT over TLS (port 8883 by default). */
export async function startTlsListener(broker: MqttBroker, host: string, port: number, files: TlsFiles): Promise<BoundListener> {
  const sockets = new Set<tls.TLSSocket>();
  const server = createTlsServer(broker, files, sockets);
  const bound = await listen(server, host, port);
  return { name: 'mqtt-tls', host, port: bound, close: () => closeServer(server, sockets) };
}

/** MQTT over TLS for sockets accepted by another process: the handshake happens here. */
export function tlsAcceptor(broker: MqttBroker, files: TlsFiles): SocketAcceptor {
  const sockets = new Set<tls.TLSSocket>();
  const raw = new Set<Socket>();
  // Never listens: a tls.Server wraps whatever socket its 'connection' event carries.
  const server = createTlsServer(broker, files, sockets);
  return {
    name: 'mqtt-tls',
    accept(socket) {
      adoptSocket(socket);
      raw.add(socket);
      socket.once('close', () => raw.delete(socket));
      server.emit('connection', socket);
    },
    async close() {
      for (const s of sockets) s.destroy();
      for (const s of raw) s.destroy();
    },
  };
}

function createTlsServer(broker: MqttBroker, files: TlsFiles, sockets: Set<tls.TLSSocket>): tls.Server {
  const server = tls.createServer(tlsServerOptions(files), (socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.once('close', () => sockets.delete(socket));
    broker.accept(socket, {
      transport: 'tls', remoteAddress: socket.remoteAddress ?? '', remotePort: socket.remotePort ?? 0,
      certCommonName: peerCommonName(socket),
    });
  });
  server.on('tlsClientError', (err) => broker.log.debug('TLS handshake failed', { error: err.message }));
  return server;
}
