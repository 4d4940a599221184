// `journal start` as a real process: listening line, SIGTERM stop, and kill -9 during sustained
// appends through the gRPC service — after each restart every acknowledged record is there, at
// the offset its acknowledgement named, exactly once, in order.
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Acks, JournalClient } from '../../client/index.js';
import { dec, enc, tempDir, waitFor } from './helpers.js';
import { ensureBuilt, spawnService, type SpawnedService } from './journal-process.js';

const CYCLES = Number(process.env.JOURNAL_CRASH_CYCLES ?? 3);

describe('journal start (process)', () => {
  let dir: string;
  let proc: SpawnedService | undefined;

  beforeAll(() => {
    ensureBuilt();
    dir = tempDir('journal-proc');
  });
  afterAll(() => {
    if (proc !== undefined && proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const start = (): Promise<SpawnedService> => spawnService('journal', 'journal-grpc', { grpc_port: '0', data_dir: dir, 'placement.addrs': '[]', 'log.level': 'warn' });

  it('prints its listening line and stops cleanly on SIGTERM', async () => {
    proc = await start();
    expect(proc.port).toBeGreaterThan(0);
    const client = new JournalClient({ addrs: [`127.0.0.1:${proc.port}`] });
    await client.createShard('s');
    await client.write('s', [{ value: enc('one') }]);
    client.close();
    proc.child.kill('SIGTERM');
    expect(await proc.exited).toBe(0);
    expect(fs.existsSync(`${dir}/journal/s/clean-shutdown`)).toBe(true);
  });

  it(`loses no acknowledged record across ${CYCLES} kill -9 during sustained appends`, async () => {
    const acked = new Map<number, string>();
    let seq = 0;
    for (let cycle = 0; cycle < CYCLES; cycle++) {
      proc = await start();
      const client = new JournalClient({ addrs: [`127.0.0.1:${proc.port}`], retryForMs: 0, rpcTimeoutMs: 5000 });
      if (cycle === 0) await client.createShard('crash');
      // Verify everything acknowledged so far, then append from 8 concurrent writers until killed.
      const all = await readAll(client, 'crash');
      for (const [offset, value] of acked) expect(all.get(offset), `offset ${offset}`).toBe(value);
      expect(new Set(all.values()).size).toBe(all.size);
      let stop = false;
      const writers = Array.from({ length: 8 }, async () => {
        while (!stop) {
          const value = `v${seq++}`;
          try {
            const r = await client.write('crash', [{ value: enc(value) }, { value: enc(`${value}b`) }], { acks: Acks.ONE });
            acked.set(r.baseOffset, value);
            acked.set(r.lastOffset, `${value}b`);
          } catch {
            return;
          }
        }
      });
      const target = acked.size + 2000 + cycle * 500;
      await waitFor(() => acked.size >= target, 20_000, 'appends to flow');
      proc.child.kill('SIGKILL');
      stop = true;
      await Promise.all(writers);
      await proc.exited;
      client.close();
    }
    proc = await start();
    const client = new JournalClient({ addrs: [`127.0.0.1:${proc.port}`] });
    const all = await readAll(client, 'crash');
    client.close();
    for (const [offset, value] of acked) expect(all.get(offset), `offset ${offset}`).toBe(value);
    // Unacknowledged appends may or may not have landed, but never twice and never out of order.
    expect(new Set(all.values()).size).toBe(all.size);
    expect(acked.size).toBeGreaterThan(0);
    proc.child.kill('SIGTERM');
    expect(await proc.exited).toBe(0);
  }, 120_000);
});

async function readAll(client: JournalClient, shard: string): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  let offset = 0;
  for (;;) {
    const r = await client.read(shard, { offset }, { maxRecords: 5000 });
    if (r.records.length === 0) return out;
    for (const rec of r.records) {
      expect(rec.offset).toBe(offset);
      out.set(rec.offset, dec(rec.value));
      offset++;
    }
  }
}
