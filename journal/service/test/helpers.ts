// Shared by the journal service tests: configs and temporary data directories.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { configDefaults, journalSchema, type JournalConfig } from '../../../common/config/index.js';

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `${prefix}-`));
}

export function journalConfig(over: { node_id?: number; data_dir: string; placement?: string[]; grpc_port?: number }): JournalConfig {
  const d = configDefaults(journalSchema) as JournalConfig;
  return {
    ...d,
    node_id: over.node_id ?? 1,
    data_dir: over.data_dir,
    grpc_port: over.grpc_port ?? 0,
    placement: { addrs: over.placement ?? [] },
    log: { level: 'warn' },
  };
}

export const enc = (s: string): Buffer => Buffer.from(s, 'utf8');
export const dec = (b: Uint8Array): string => Buffer.from(b).toString('utf8');

/** Polls `cond` every 20 ms until it is true or `ms` passed. */
export async function waitFor(cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      if (await cond()) return;
    } catch {
      // not yet
    }
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
