// kill -9 during sustained appends, with real processes: after reopen every acknowledged record
// is present, in order, exactly once, and offsets are dense. Three rounds, one per fsync policy
// (each promises survival of a process kill once append resolved), on the same directory.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ShardLog } from '../index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../../..');
const distEntry = path.join(repo, 'dist/journal/storage/index.js');
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'shard-crash-'));

function newestSource(dir: string): number {
  let t = 0;
  for (const f of fs.readdirSync(dir)) if (f.endsWith('.ts')) t = Math.max(t, fs.statSync(path.join(dir, f)).mtimeMs);
  return t;
}

beforeAll(() => {
  const storageDir = path.resolve(here, '..');
  const stale = !fs.existsSync(distEntry) || fs.statSync(path.join(repo, 'dist/journal/storage/shard-log.js')).mtimeMs < newestSource(storageDir);
  if (stale) {
    try {
      execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: repo, stdio: 'pipe' });
    } catch {
      // Type errors elsewhere in the tree still emit JavaScript; the check below decides.
    }
  }
  expect(fs.existsSync(distEntry)).toBe(true);
}, 120_000);
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

interface Ack {
  base: number;
  last: number;
  values: string[];
}

function valuesOf(round: number, w: number, s: number): string[] {
  const n = 1 + (s % 3);
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(`r${round}-w${w}-${s}-${i}-`.padEnd(20 + ((s * 7 + i) % 200), 'x'));
  return out;
}

/** Runs the writer until `minAcks` batches are acknowledged, then SIGKILLs it. */
async function runAndKill(dir: string, fsync: string, round: number, minAcks: number): Promise<{ acks: Ack[]; openLine: string }> {
  const child = spawn(process.execPath, [path.join(here, 'crash-writer.mjs'), dir, fsync, '16384', String(round)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const acks: Ack[] = [];
  let openLine = '';
  let stderr = '';
  let buf = '';
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const enough = new Promise<void>((resolve, reject) => {
    const deadline = setTimeout(() => reject(new Error(`writer gave ${acks.length} acks before the deadline; stderr: ${stderr}`)), 25_000);
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const f = line.split(' ');
        if (f[0] === 'open') openLine = line;
        else if (f[0] === 'ack') acks.push({ base: Number(f[1]), last: Number(f[2]), values: valuesOf(round, Number(f[3]), Number(f[4])) });
      }
      if (acks.length >= minAcks) {
        clearTimeout(deadline);
        resolve();
      }
    });
    void exited.then(() => {
      clearTimeout(deadline);
      if (acks.length < minAcks) reject(new Error(`writer exited early; stderr: ${stderr}`));
    });
  });
  try {
    await enough;
  } finally {
    child.kill('SIGKILL');
    await exited;
  }
  // Lines printed before the kill landed may still sit in the pipe buffer: they were acks too.
  for (const line of buf.split('\n')) {
    const f = line.split(' ');
    if (f[0] === 'ack' && f.length === 5) acks.push({ base: Number(f[1]), last: Number(f[2]), values: valuesOf(round, Number(f[3]), Number(f[4])) });
  }
  return { acks, openLine };
}

describe('crash recovery with real processes', () => {
  it('keeps every acknowledged record, in order, exactly once, across kill -9', async () => {
    const dir = path.join(root, 'shard');
    const allAcks: Ack[] = [];
    const rounds: [string, number][] = [
      ['always', 300],
      ['never', 1500],
      ['interval', 900],
    ];
    for (let round = 0; round < rounds.length; round++) {
      const [fsync, minAcks] = rounds[round]!;
      const { acks, openLine } = await runAndKill(dir, fsync, round, minAcks);
      const [, earliest, next, clean] = openLine.split(' ');
      expect(earliest).toBe('0');
      expect(clean).toBe('false');
      // Everything acknowledged before the previous kill is below the reopened log end.
      const prevMax = Math.max(-1, ...allAcks.map((a) => a.last));
      expect(Number(next)).toBeGreaterThan(prevMax);
      allAcks.push(...acks);
    }

    const log = await ShardLog.open(dir, { segment_bytes: 16384 });
    try {
      expect(log.recovery.clean).toBe(false);
      expect(log.segmentInfo().length).toBeGreaterThan(3);
      const records = [];
      for (let o = 0; o < log.nextOffset(); ) {
        const batch = await log.read({ offset: o, maxRecords: 5000 });
        records.push(...batch);
        o = batch.at(-1)!.offset + 1;
      }
      records.forEach((r, i) => expect(r.offset).toBe(i));
      const values = records.map((r) => r.value.toString());
      // Exactly once: no value (round, writer, sequence, index) appears twice.
      expect(new Set(values).size).toBe(values.length);
      for (const a of allAcks) {
        expect(values.slice(a.base, a.last + 1)).toEqual(a.values);
      }
      // Unacknowledged survivors are whole records too.
      for (const v of values) expect(v).toMatch(/^r\d-w\d-\d+-\d-x*$/);
    } finally {
      await log.close();
    }
  }, 90_000);
});
