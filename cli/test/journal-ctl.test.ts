// robust-ctl journal against a real standalone journal node on a free port.
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../common/log.js';
import { startJournal, type StartedJournal } from '../../journal/service/start-journal.js';
import { journalConfig, tempDir } from '../../journal/service/test/helpers.js';
import { runCtl } from '../robust-ctl.js';
import { runJournalCtl } from '../journal-ctl.js';

async function ctl(args: string[], stdin = ''): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runJournalCtl(args, { out: (t) => out.push(t), err: (t) => err.push(t), readStdin: async () => stdin }, { retryForMs: 300 });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('robust-ctl journal', () => {
  let dir: string;
  let journal: StartedJournal;
  let at: string[];

  beforeAll(async () => {
    dir = tempDir('journal-ctl');
    journal = await startJournal(journalConfig({ data_dir: dir }), silentLogger);
    at = ['--journal', journal.addr];
  });
  afterAll(async () => {
    await journal.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('shard create, list, describe, delete', async () => {
    const c = await ctl(['shard', 'create', 'events', '--replicas', '1', ...at]);
    expect(c).toMatchObject({ code: 0, err: '' });
    expect(c.out).toContain('created shard events');
    const l = await ctl(['shard', 'list', ...at, '--output', 'json']);
    expect(JSON.parse(l.out)).toEqual([expect.objectContaining({ name: 'events', replicas: 1, leader_id: 1, leader_epoch: 1, isr: [1] })]);
    const t = await ctl(['shard', 'list', ...at]);
    expect(t.out).toMatch(/events/);
    expect(t.out).toMatch(/1 shard$/);
    const again = await ctl(['shard', 'create', 'events', ...at]);
    expect(again.code).toBe(1);
    expect(again.err).toContain('[JR_SHARD_EXISTS]');
    expect((await ctl(['shard', 'delete', 'events', ...at])).code).toBe(0);
    const d = await ctl(['shard', 'describe', 'events', ...at]);
    expect(d.code).toBe(1);
    expect(d.err).toContain('[JR_SHARD_NOT_FOUND]');
  });

  it('write prints one offset per stdin line; read prints JSON lines', async () => {
    expect((await ctl(['shard', 'create', 'lines', ...at])).code).toBe(0);
    const w = await ctl(['write', '--shard', 'lines', '--key', 'k1', '--acks', 'all', ...at], 'alpha\nbeta\ngamma\n');
    expect(w).toMatchObject({ code: 0, out: '0\n1\n2' });
    const w2 = await ctl(['write', '--shard', 'lines', ...at], 'delta');
    expect(w2.out).toBe('3');
    const r = await ctl(['read', '--shard', 'lines', '--offset', '1', '--max', '2', ...at]);
    const recs = r.out.split('\n').map((l) => JSON.parse(l) as { offset: number; key?: string; value: string });
    expect(recs.map((x) => [x.offset, x.key, x.value])).toEqual([[1, 'k1', 'beta'], [2, 'k1', 'gamma']]);
    const all = await ctl(['read', '--shard', 'lines', ...at]);
    expect(all.out.split('\n')).toHaveLength(4);
    const desc = await ctl(['shard', 'describe', 'lines', ...at, '-o', 'json']);
    expect(JSON.parse(desc.out)).toMatchObject({ log_end_offset: 4, high_watermark: 4 });
  });

  it('bad usage exits 2 before connecting; an unreachable node exits 1', async () => {
    expect((await ctl(['write', ...at])).code).toBe(2);
    expect((await ctl(['write', '--shard', 'x', '--acks', 'two', ...at])).code).toBe(2);
    expect((await ctl(['read', '--shard', 'x', '--max', '0', ...at])).code).toBe(2);
    expect((await ctl(['shard', 'frobnicate', ...at])).code).toBe(2);
    const down = await ctl(['shard', 'list', '--journal', '127.0.0.1:1']);
    expect(down.code).toBe(1);
    expect(down.err).toContain('[JR_UNREACHABLE]');
  });

  it('is reachable through robust-ctl', async () => {
    const out: string[] = [];
    const code = await runCtl(['journal', 'shard', 'list', ...at], { out: (t) => out.push(t), err: () => undefined });
    expect(code).toBe(0);
    expect(out.join('\n')).toContain('lines');
  });
});

describe('robust-ctl journal --placement', () => {
  it('finds the journal nodes registered in placement', async () => {
    const { startEmbeddedPlacement } = await import('../../placement/service/embedded.js');
    const { bindPlacementServer } = await import('../../placement/service/grpc-server.js');
    const dir = tempDir('journal-ctl-pc');
    const placement = await startEmbeddedPlacement({ dataDir: `${dir}/p`, log: silentLogger });
    const server = await bindPlacementServer('127.0.0.1', 0, 'robustmq');
    server.attach(placement.node);
    const served = { addr: `127.0.0.1:${server.port}`, close: () => server.close() };
    const { PlacementMetadataStore } = await import('../../journal/replication/placement-metadata-store.js');
    const journal = await startJournal(journalConfig({ data_dir: `${dir}/j` }), silentLogger, { store: new PlacementMetadataStore(placement.client, silentLogger, 3000, false) });
    try {
      const created = await ctl(['shard', 'create', 'via-pc', '--placement', served.addr]);
      expect(created.code).toBe(0);
      const listed = await ctl(['shard', 'list', '--placement', served.addr, '-o', 'json']);
      expect(JSON.parse(listed.out)).toEqual([expect.objectContaining({ name: 'via-pc', leader_addr: journal.addr })]);
    } finally {
      await journal.close();
      await served.close();
      await placement.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
