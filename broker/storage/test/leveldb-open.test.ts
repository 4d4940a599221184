import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { entry, message, session } from '../conformance.js';
import { StorageError } from '../driver.js';
import { LevelDbStorage } from '../leveldb.js';

let dir: string;
const opened: LevelDbStorage[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'robustmq-leveldb-open-'));
});

afterEach(async () => {
  for (const d of opened.splice(0)) await d.close();
  await rm(dir, { recursive: true, force: true });
});

async function openAt(path: string, sync?: boolean): Promise<LevelDbStorage> {
  const d = new LevelDbStorage(sync === undefined ? { path } : { path, sync });
  await d.open();
  opened.push(d);
  return d;
}

async function openError(path: string): Promise<StorageError> {
  const d = new LevelDbStorage({ path });
  const e: unknown = await d.open().then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(StorageError);
  return e as StorageError;
}

describe('LevelDbStorage open()', () => {
  it('creates missing parent directories', async () => {
    const d = await openAt(join(dir, 'a', 'b', 'c'));
    await d.apply([{ op: 'session.put', session: session('x') }]);
    expect(await d.listSessions()).toHaveLength(1);
  });

  it('rejects with a StorageError naming the path and the lock when another instance holds the directory', async () => {
    const path = join(dir, 'db');
    await openAt(path);
    const e = await openError(path);
    expect(e.message).toContain(path);
    expect(e.message).toMatch(/lock/i);
    expect(e.code).toBe('BR_STORAGE_UNAVAILABLE');
  });

  it('rejects with a StorageError naming the path and the corruption when the database is damaged', async () => {
    const path = join(dir, 'db');
    await mkdir(path, { recursive: true });
    // A CURRENT file that names a manifest which does not exist.
    await writeFile(join(path, 'CURRENT'), 'MANIFEST-999999\n');
    const e = await openError(path);
    expect(e.message).toContain(path);
    expect(e.message).toMatch(/MANIFEST|corrupt|No such file/i);
  });

  it('rejects with a StorageError when the path is a file', async () => {
    const path = join(dir, 'file');
    await writeFile(path, 'not a directory');
    const e = await openError(path);
    expect(e.message).toContain(path);
  });

  it('refuses a bad constructor argument with a TypeError', () => {
    expect(() => new LevelDbStorage({ path: '' })).toThrow(TypeError);
    expect(() => new LevelDbStorage({ path: dir, sync: 'yes' as unknown as boolean })).toThrow(TypeError);
  });

  it('calls before open() reject with StorageError', async () => {
    const d = new LevelDbStorage({ path: join(dir, 'db') });
    await expect(d.listSessions()).rejects.toBeInstanceOf(StorageError);
    await expect(d.apply([])).rejects.toBeInstanceOf(StorageError);
    await d.close();
  });

  it('with sync: true every batch is fsynced and still lands whole', async () => {
    const path = join(dir, 'db');
    const d = await openAt(path, true);
    await d.apply([
      { op: 'session.put', session: session('c') },
      { op: 'msg.put', message: message('m') },
      { op: 'out.put', entry: entry('c', 1, 'm') },
    ]);
    await d.close();
    const again = await openAt(path, true);
    expect((await again.listOutbound('c')).map((e) => e.message.id)).toEqual(['m']);
  });

  it('the same instance can be opened again after close()', async () => {
    const d = await openAt(join(dir, 'db'));
    await d.apply([{ op: 'session.put', session: session('c') }]);
    await d.close();
    await d.open();
    expect(await d.listSessions()).toEqual([session('c')]);
  });
});
