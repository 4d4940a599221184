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
