// kill -9 in the middle of a stream of applies: after reopening, every batch whose apply() had
// resolved is there, and the state is exactly the state after some whole number of batches
// (each batch whole or not at all). The child runs a transpiled copy of the current sources.

import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dumpDriver } from '../conformance.js';
import { LevelDbStorage } from '../leveldb.js';
import { MemoryStorage } from '../memory.js';
import { CRASH_CLIENTS, CRASH_MARKER_TOPIC, crashBatch } from './crash-workload.js';

const here = dirname(fileURLToPath(import.meta.url));
const storageDir = resolve(here, '..');
const repoRoot = resolve(storageDir, '..', '..');
let work: string;

/** Transpiles broker/storage (and the workload) to plain ESM under `work`, beside a node_modules link. */
async function buildChildModules(): Promise<void> {
  const sources = [
    ...(await readdir(storageDir)).filter((f) => f.endsWith('.ts')).map((f) => join(storageDir, f)),
    join(here, 'crash-workload.ts'),
  ];
  for (const src of sources) {
    const out = join(work, 'mod', src.slice(repoRoot.length + 1)).replace(/\.ts$/, '.js');
    const { outputText } = ts.transpileModule(await readFile(src, 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 },
      fileName: src,
    });
    await mkdir(dirname(out), { recursive: true });
    await writeFile(out, outputText);
  }
  await writeFile(join(work, 'mod', 'package.json'), '{"type":"module"}\n');
  await symlink(join(repoRoot, 'node_modules'), join(work, 'mod', 'node_modules'), 'dir');
}

/** Runs the child from batch `start` until it has reported `until`, then SIGKILLs it. */
async function runAndKill(db: string, start: number, until: number, sync: boolean): Promise<number> {
  const child = spawn(process.execPath, [join(here, 'crash-child.mjs'), join(work, 'mod'), db, String(start), sync ? 'sync' : 'nosync'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let last = start - 1;
  let buffered = '';
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const closed = new Promise<void>((done) => child.on('close', () => done()));
  const reached = new Promise<void>((done, fail) => {
    const deadline = setTimeout(() => fail(new Error(`child reached only batch ${last}; stderr: ${stderr}`)), 30_000);
    child.stdout.on('data', (d: Buffer) => {
      buffered += d.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) if (line.startsWith('ok ')) last = Number(line.slice(3));
      if (last >= until) {
        clearTimeout(deadline);
        child.kill('SIGKILL');
        done();
      }
    });
    child.on('exit', (code) => {
      if (last < until) {
        clearTimeout(deadline);
        fail(new Error(`child exited with ${code}; stderr: ${stderr}`));
      }
    });
  });
  await reached;
  await closed;
  return last;
}

/** Reopens the directory and checks it holds exactly the state after batches 1..M, M >= acknowledged. */
async function verify(db: string, acknowledged: number): Promise<number> {
  const storage = new LevelDbStorage({ path: db });
  await storage.open();
  try {
    const marker = (await storage.listRetained()).find((m) => m.topic === CRASH_MARKER_TOPIC);
    const applied = marker === undefined ? 0 : Number(marker.payload.toString());
    expect(applied).toBeGreaterThanOrEqual(acknowledged);
    const reference = new MemoryStorage();
    await reference.open();
    for (let k = 1; k <= applied; k++) await reference.apply(crashBatch(k));
    expect(await dumpDriver(storage, CRASH_CLIENTS)).toEqual(await dumpDriver(reference, CRASH_CLIENTS));
    expect(await storage.messageBodyCount()).toBe(await reference.messageBodyCount());
    return applied;
  } finally {
    await storage.close();
  }
}

describe('leveldb driver under kill -9', () => {
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'robustmq-leveldb-crash-'));
    await buildChildModules();
  });

  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('keeps every acknowledged batch, each whole, across three kills (the last with sync: true)', async () => {
    const db = join(work, 'db');
    let applied = 0;
    for (const [round, sync] of [[0, false], [1, false], [2, true]] as const) {
      const acknowledged = await runAndKill(db, applied + 1, applied + 120 + round * 40, sync);
      applied = await verify(db, acknowledged);
    }
    expect(applied).toBeGreaterThanOrEqual(120 + 160 + 200);
  }, 90_000);
});
