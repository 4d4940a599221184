// A TCP proxy the test controls, one per directed link, to partition processes that cannot be
// partitioned any other way without root. Modes:
//   pass       forward both ways
//   reset      close every connection and refuse new ones (the peer sees a fast failure)
//   blackhole  stop forwarding and hold new connections open without answering (the peer sees
//              nothing until its own deadline, like a dropped link)
// The target can change at any time (a restarted process listens on a new port); existing
// connections are closed so the next ones go to the new target.

import { createConnection, createServer, type Server, type Socket } from 'node:net';

export type ProxyMode = 'pass' | 'reset' | 'blackhole';

interface Pair {
  readonly client: Socket;
  upstream: Socket | undefined;
}

export class TcpProxy {
  private readonly server: Server;
  private readonly pairs = new Set<Pair>();
  private target: { host: string; port: number } | undefined;
  private modeValue: ProxyMode = 'pass';
  port = 0;

  private constructor() {
    this.server = createServer((client) => this.accept(client));
  }

  static async start(): Promise<TcpProxy> {
    const p = new TcpProxy();
    await new Promise<void>((resolve, reject) => {
      p.server.once('error', reject);
      p.server.listen(0, '127.0.0.1', () => resolve());
    });
    p.port = (p.server.address() as { port: number }).port;
    return p;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  get mode(): ProxyMode {
    return this.modeValue;
  }

  setTarget(host: string, port: number): void {
    this.target = { host, port };
    this.dropAll();
  }

  setMode(mode: ProxyMode): void {
    if (mode === this.modeValue) return;
    this.modeValue = mode;
    // Connections of the previous mode do not carry over: a healed link starts fresh, a cut one
    // stops now.
    this.dropAll();
  }

  private dropAll(): void {
    for (const p of [...this.pairs]) this.drop(p);
  }

  private drop(p: Pair): void {
    this.pairs.delete(p);
    p.client.destroy();
    p.upstream?.destroy();
  }

  private accept(client: Socket): void {
    client.on('error', () => undefined);
    // Nagle's algorithm against delayed ACKs would add ~40 ms to every small gRPC frame.
    client.setNoDelay(true);
    const pair: Pair = { client, upstream: undefined };
    this.pairs.add(pair);
    client.on('close', () => this.drop(pair));
    if (this.modeValue === 'reset' || this.target === undefined) {
      this.drop(pair);
      return;
    }
    if (this.modeValue === 'blackhole') {
      // Read and discard, never answer.
      client.on('data', () => undefined);
      return;
    }
    const upstream = createConnection(this.target.port, this.target.host);
    pair.upstream = upstream;
    upstream.setNoDelay(true);
    upstream.on('error', () => undefined);
    upstream.on('close', () => this.drop(pair));
    client.pipe(upstream);
    upstream.pipe(client);
  }

  async close(): Promise<void> {
    this.dropAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
