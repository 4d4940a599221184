// A call that cannot get a connection is reported as not sent (so even a write may go elsewhere),
// both when the node refuses and when the link drops everything (TCP accepted, nothing answers).
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Journal } from '../../../proto/gen/journal_pb.js';
import { Acks, JournalClient } from '../journal-client.js';
import { JournalConnection } from '../connection.js';

describe('JournalConnection without a connection', () => {
  let silent: net.Server;
  let silentAddr = '';
  const sockets = new Set<net.Socket>();
  let reset: net.Server;
  let resetAddr = '';

  beforeAll(async () => {
    // Accepts and reads, never answers: grpc's handshake cannot complete, as over a dropped link.
    silent = net.createServer((s) => {
      sockets.add(s);
      s.on('data', () => undefined);
      s.on('error', () => undefined);
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    silentAddr = `127.0.0.1:${(silent.address() as net.AddressInfo).port}`;
    // Closes every connection at once, as a node that is going away does.
    reset = net.createServer((s) => s.destroy());
    await new Promise<void>((r) => reset.listen(0, '127.0.0.1', r));
    resetAddr = `127.0.0.1:${(reset.address() as net.AddressInfo).port}`;
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => silent.close(() => r()));
    await new Promise<void>((r) => reset.close(() => r()));
  });

  it('fails a call to a silent node as JR_UNREACHABLE, not sent, once the connect bound passes', async () => {
    const c = new JournalConnection(silentAddr, 300);
    const t0 = Date.now();
    await expect(c.call(Journal, Journal.method.listShards, {}, 5000)).rejects.toMatchObject({ code: 'JR_UNREACHABLE', details: { not_sent: true } });
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(250);
    expect(took).toBeLessThan(4000);
    c.close();
  });

  it('fails a call to a node that drops every connection at once, not sent', async () => {
    const c = new JournalConnection(resetAddr);
    const t0 = Date.now();
    await expect(c.call(Journal, Journal.method.listShards, {}, 5000)).rejects.toMatchObject({ code: 'JR_UNREACHABLE', details: { not_sent: true } });
    expect(Date.now() - t0).toBeLessThan(4000);
    c.close();
  });

  it('lets a client give up a write on a silent node within its connect bound (nothing was sent)', async () => {
    const client = new JournalClient({ addrs: [silentAddr], rpcTimeoutMs: 5000, connectTimeoutMs: 200, retryForMs: 0 });
    await expect(client.write('s', [{ value: Buffer.from('x') }], { acks: Acks.QUORUM })).rejects.toMatchObject({ code: 'JR_UNREACHABLE', details: { not_sent: true } });
    client.close();
  });
});
