import net from 'node:net';
import { Aedes, type AedesOptions } from 'aedes';
import { isMain, listenArgs } from './run-main.js';

export interface RunningServer {
  host: string;
  port: number;
  close(): Promise<void>;
}

/**
 * Aedes with its defaults (in-memory persistence and emitter) on a plain TCP server, the way its
 * README starts it: the Node.js broker people use today, as the comparison baseline. The bench
 * always runs it with defaults; `options` exist for tests only.
 */
export async function startAedes(port = 0, host = '127.0.0.1', options: AedesOptions = {}): Promise<RunningServer> {
  const broker = await Aedes.createBroker(options);
  const server = net.createServer(broker.handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address() as net.AddressInfo;
  return {
    host,
    port: addr.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => undefined);
        broker.close(() => resolve());
      }),
  };
}

if (isMain(import.meta.url)) {
  const { host, port } = listenArgs(process.argv.slice(2));
  const s = await startAedes(port, host);
  process.stdout.write(`listening mqtt-tcp ${s.host}:${s.port}\n`);
  const stop = (): void => {
    void s.close().then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
