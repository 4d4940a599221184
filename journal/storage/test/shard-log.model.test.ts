// Model-based test: random command sequences run against ShardLog and a plain array model.
// Replay a failure with JOURNAL_FC_SEED=<seed> (fast-check prints seed and path).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { ShardLog, type FsyncPolicy, type ShardLogOptions, type StoredRecord } from '../index.js';

interface ModelRecord {
  offset: number;
  timestamp: number;
  key?: string;
  headers: [string, string][];
  value: string;
}

interface Model {
  records: ModelRecord[];
  earliest: number;
  next: number;
  clock: { now: number };
}

interface Real {
  log: ShardLog;
  dir: string;
  opts: Partial<ShardLogOptions>;
}

const RECORD_FIXED_BYTES = 16;
function encodedSize(r: ModelRecord): number {
  let n = RECORD_FIXED_BYTES + Buffer.byteLength(r.value) + (r.key === undefined ? 0 : Buffer.byteLength(r.key));
  for (const [k, v] of r.headers) n += 6 + Buffer.byteLength(k) + Buffer.byteLength(v);
  return n;
}

function view(r: StoredRecord): ModelRecord {
  const m: ModelRecord = { offset: r.offset, timestamp: r.timestamp, headers: (r.headers ?? []).map(([k, v]) => [k, v.toString()]), value: r.value.toString() };
  if (r.key !== undefined) m.key = r.key.toString();
  return m;
}

function stored(m: Model): ModelRecord[] {
  return m.records.filter((r) => r.offset >= m.earliest && r.offset < m.next);
}

type In = { key?: string; headers: [string, string][]; value: string; timestamp?: number };

class AppendCmd implements fc.AsyncCommand<Model, Real> {
  constructor(readonly batch: In[]) {}
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    const res = await r.log.append(
      this.batch.map((b) => ({
        value: Buffer.from(b.value),
        ...(b.key !== undefined ? { key: Buffer.from(b.key) } : {}),
        headers: b.headers.map(([k, v]) => [k, Buffer.from(v)] as [string, Buffer]),
        ...(b.timestamp !== undefined ? { timestamp: b.timestamp } : {}),
      })),
    );
    expect(res).toEqual({ baseOffset: m.next, lastOffset: m.next + this.batch.length - 1 });
    this.batch.forEach((b, i) => {
      const rec: ModelRecord = { offset: m.next + i, timestamp: b.timestamp ?? m.clock.now, headers: b.headers, value: b.value };
      if (b.key !== undefined) rec.key = b.key;
      m.records.push(rec);
    });
    m.next += this.batch.length;
    expect(r.log.nextOffset()).toBe(m.next);
  }
  toString(): string {
    return `append(${JSON.stringify(this.batch)})`;
  }
}

class ReadCmd implements fc.AsyncCommand<Model, Real> {
  constructor(readonly pick: number, readonly maxRecords: number, readonly maxBytes: number) {}
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    const offset = m.earliest + (this.pick % (m.next - m.earliest + 1));
    const got = (await r.log.read({ offset, maxRecords: this.maxRecords, maxBytes: this.maxBytes })).map(view);
    const want: ModelRecord[] = [];
    let bytes = 0;
    for (const rec of stored(m)) {
      if (rec.offset < offset) continue;
      if (want.length >= this.maxRecords) break;
      const s = encodedSize(rec);
      if (want.length > 0 && bytes + s > this.maxBytes) break;
      want.push(rec);
      bytes += s;
    }
    expect(got).toEqual(want);
  }
  toString(): string {
    return `read(${this.pick}, ${this.maxRecords}, ${this.maxBytes})`;
  }
}

class OffsetForTimeCmd implements fc.AsyncCommand<Model, Real> {
  constructor(readonly ts: number) {}
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    const hit = stored(m).find((x) => x.timestamp >= this.ts);
    expect(await r.log.offsetForTime(this.ts)).toBe(hit ? hit.offset : null);
  }
  toString(): string {
    return `offsetForTime(${this.ts})`;
  }
}

class ReadByKeyCmd implements fc.AsyncCommand<Model, Real> {
  constructor(readonly key: string) {}
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    const hits = stored(m).filter((x) => x.key === this.key);
    const got = await r.log.readByKey(Buffer.from(this.key));
    expect(got === null ? null : view(got)).toEqual(hits.length ? hits[hits.length - 1] : null);
  }
  toString(): string {
    return `readByKey(${this.key})`;
  }
}

class TruncateCmd implements fc.AsyncCommand<Model, Real> {
  constructor(readonly pick: number) {}
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    const offset = m.earliest + (this.pick % (m.next - m.earliest + 1));
    await r.log.truncateTo(offset);
    m.records = m.records.filter((x) => x.offset < offset);
    m.next = offset;
    expect(r.log.nextOffset()).toBe(offset);
  }
  toString(): string {
    return `truncateTo(${this.pick})`;
  }
}

class AdvanceClockCmd implements fc.AsyncCommand<Model, Real> {
  constructor(readonly ms: number) {}
  check(): boolean {
    return true;
  }
  async run(m: Model): Promise<void> {
    m.clock.now += this.ms;
  }
  toString(): string {
    return `advance(${this.ms})`;
  }
}

class RetentionCmd implements fc.AsyncCommand<Model, Real> {
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    const before = r.log.segmentInfo();
    const res = await r.log.applyRetention(m.clock.now);
    const after = r.log.segmentInfo();
    expect(res.earliestOffset).toBe(after[0]!.baseOffset);
    expect(before.slice(res.deletedSegments.length)).toEqual(after);
    expect(res.deletedSegments).toEqual(before.slice(0, res.deletedSegments.length).map((s) => s.baseOffset));
    // The rule stopped at the right place: the new oldest segment (if sealed) qualifies for neither limit.
    if (after.length > 1) {
      const first = after[0]!;
      const total = after.reduce((a, s) => a + s.sizeBytes, 0);
      const ms = r.opts.retention_ms!;
      const bytes = r.opts.retention_bytes!;
      if (ms >= 0) expect(first.maxTimestamp! < m.clock.now - ms).toBe(false);
      if (bytes >= 0) expect(total - first.sizeBytes >= bytes).toBe(false);
    }
    m.earliest = res.earliestOffset;
    expect(r.log.nextOffset()).toBe(m.next);
  }
  toString(): string {
    return 'applyRetention';
  }
}

class ReopenCmd implements fc.AsyncCommand<Model, Real> {
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    await r.log.close();
    r.log = await ShardLog.open(r.dir, r.opts);
    expect(r.log.recovery.clean).toBe(true);
    expect(r.log.recovery.corruption).toBeNull();
    expect(r.log.earliestOffset()).toBe(m.earliest);
    expect(r.log.nextOffset()).toBe(m.next);
  }
  toString(): string {
    return 'reopen';
  }
}

const keyArb = fc.constantFrom('k1', 'k2', 'k3', 'ключ');
const recordArb: fc.Arbitrary<In> = fc.record(
  {
    key: keyArb,
    headers: fc.array(fc.tuple(fc.constantFrom('h', 'trace-id', 'ä'), fc.string({ maxLength: 5 })), { maxLength: 2 }),
    value: fc.string({ maxLength: 120 }),
    timestamp: fc.integer({ min: 0, max: 20_000 }),
  },
  { requiredKeys: ['headers', 'value'] },
);

const appendArb = fc.array(recordArb, { minLength: 1, maxLength: 6 }).map((b) => new AppendCmd(b));
const commands = [
  appendArb,
  appendArb,
  appendArb,
  appendArb,
  appendArb,
  fc.tuple(fc.nat(), fc.integer({ min: 1, max: 30 }), fc.integer({ min: 1, max: 2000 })).map(([f, n, b]) => new ReadCmd(f, n, b)),
  fc.integer({ min: -100, max: 21_000 }).map((t) => new OffsetForTimeCmd(t)),
  keyArb.map((k) => new ReadByKeyCmd(k)),
  fc.nat().map((f) => new TruncateCmd(f)),
  fc.integer({ min: 1, max: 3000 }).map((ms) => new AdvanceClockCmd(ms)),
  fc.constant(new RetentionCmd()),
  fc.constant(new ReopenCmd()),
];

const seed = process.env.JOURNAL_FC_SEED ? Number(process.env.JOURNAL_FC_SEED) : undefined;
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'shard-model-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describe('ShardLog against an in-memory model', () => {
  it('agrees on append/read/offsetForTime/readByKey/truncateTo/retention/reopen', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.commands(commands, { maxCommands: 60, size: "+1" }),
        fc.record({
          segment_bytes: fc.integer({ min: 64, max: 600 }),
          index_interval_bytes: fc.integer({ min: 1, max: 200 }),
          retention_ms: fc.constantFrom(-1, 2000, 8000),
          retention_bytes: fc.constantFrom(-1, 0, 300, 1500),
          segment_ms: fc.constantFrom(1000, 60_000),
          fsync: fc.constantFrom<FsyncPolicy>('always', 'interval', 'never'),
        }),
        async (cmds, o) => {
          const dir = path.join(root, String(run++));
          const clock = { now: 10_000 };
          const opts: Partial<ShardLogOptions> = { ...o, key_index: true, clock: () => clock.now };
          const real: Real = { log: await ShardLog.open(dir, opts), dir, opts };
          try {
            await fc.asyncModelRun(() => ({ model: { records: [], earliest: 0, next: 0, clock }, real }), cmds);
          } finally {
            await real.log.close();
            fs.rmSync(dir, { recursive: true, force: true });
          }
        },
      ),
      // The time limit bounds shrinking too, so a failure reports its seed instead of a test timeout.
      { numRuns: 60, interruptAfterTimeLimit: 60_000, markInterruptAsFailure: true, ...(seed !== undefined ? { seed } : {}) },
    );
  }, 90_000);
});
