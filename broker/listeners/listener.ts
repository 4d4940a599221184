import type { Socket } from 'node:net';

/**
 * Socket buffer size at which a write reports back-pressure; publishers to a subscriber whose
 * socket holds more than this are paused until it drains (see Connection.holdPublisher).
 */
export const SOCKET_HIGH_WATER_MARK = 256 * 1024;

// A bound listener, as `listening <name> <host>:<port>` reports it.
export interface BoundListener {
  name: string;
  host: string;
  port: number;
  close(): Promise<void>;
}

/** Listens on host:port (0 = any free port) and resolves with the port actually bound. */
export function listen(server: { listen(port: number, host: string): unknown; once(ev: string, fn: (...a: any[]) => void): unknown; removeListener(ev: string, fn: (...a: any[]) => void): unknown; address(): unknown }, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen(port, host);
    server.once('listening', () => {
      server.removeListener('error', onError);
      const addr = server.address() as { port: number };
      resolve(addr.port);
    });
  });
}

/**
 * A listener without a port of its own: it serves connections another process accepted and
 * passed over IPC (broker/workers: the primary binds the port, a worker runs the broker).
 */
export interface SocketAcceptor {
  /** As the bound listener of the same transport is named (`mqtt-tcp`, `mqtt-tls`, ...). */
  readonly name: string;
  /** Serves one accepted socket as if this process's own server had accepted it. */
  accept(socket: Socket): void;
  /** Closes every connection it served. */
  close(): Promise<void>;
}

/**
 * A socket rebuilt from a handle received over IPC has Node's default 16 KiB write buffer; the
 * broker's back-pressure (Connection.holdPublisher) is tuned for SOCKET_HIGH_WATER_MARK, which
 * our own servers set at accept. There is no public setter, so the stream state is adjusted.
 */
export function adoptSocket(socket: Socket): void {
  socket.setNoDelay(true);
  const state = (socket as unknown as { _writableState?: { highWaterMark?: number } })._writableState;
  if (state !== undefined && typeof state.highWaterMark === 'number' && state.highWaterMark < SOCKET_HIGH_WATER_MARK) {
    state.highWaterMark = SOCKET_HIGH_WATER_MARK;
  }
}
