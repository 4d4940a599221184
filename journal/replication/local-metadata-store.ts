// The metadata store of a journal that has no placement center: standalone mode (one node, every
// shard local with one replica) and in-process multi-node tests. State lives in memory and, when
// a file is given, in a JSON file replaced atomically on every change (temp + fsync + rename),
// so a standalone node keeps its shards across restarts.

import fs from 'node:fs';
import path from 'node:path';
import { CodedError } from '../../common/errors.js';
import type { JournalMetadataStore, JournalNodeInfo, ShardChange, ShardMeta } from './metadata-store.js';

interface FileState {
  version: 1;
  shards: ShardMeta[];
}

export class LocalMetadataStore {
  private readonly shards = new Map<string, ShardMeta>();
  private readonly nodes = new Map<number, { addr: string; alive: boolean }>();
  private nextVersion = 1;

  private constructor(private readonly file: string | null) {}

  /** `file` null: memory only. */
  static open(file: string | null): LocalMetadataStore {
    const store = new LocalMetadataStore(file);
    if (file !== null && fs.existsSync(file)) {
      const state = JSON.parse(fs.readFileSync(file, 'utf8')) as FileState;
      for (const s of state.shards) {
        store.shards.set(s.name, s);
        store.nextVersion = Math.max(store.nextVersion, s.version + 1);
      }
    }
    return store;
  }

  /** The view one node uses; closing it marks that node dead (as a lost heartbeat would). */
  view(): JournalMetadataStore {
    let self: number | null = null;
    return {
      register: async (node) => {
        self = node.id;
        this.nodes.set(node.id, { addr: node.addr, alive: true });
      },
      listNodes: async () => [...this.nodes].map(([id, n]): JournalNodeInfo => ({ id, addr: n.addr, alive: n.alive })),
      listShards: async () => [...this.shards.values()],
      getShard: async (name) => this.shards.get(name) ?? null,
      createShard: async (meta) => this.create(meta),
      deleteShard: async (name) => this.delete(name),
      updateShard: async (name, expected, change) => this.update(name, expected, change),
      close: async () => {
        if (self !== null) {
          const n = this.nodes.get(self);
          if (n) n.alive = false;
        }
      },
    };
  }

  /** Tests: mark a node dead or alive as placement's heartbeat expiry would. */
  setAlive(id: number, alive: boolean): void {
    const n = this.nodes.get(id);
    if (n) n.alive = alive;
  }

  private create(meta: Omit<ShardMeta, 'version'>): ShardMeta {
    if (this.shards.has(meta.name)) throw new CodedError('JR_SHARD_EXISTS', `shard ${meta.name} already exists`, { details: { shard: meta.name } });
    const stored: ShardMeta = { ...meta, version: this.nextVersion++ };
    this.shards.set(meta.name, stored);
    this.persist();
    return stored;
  }

  private delete(name: string): void {
    if (!this.shards.delete(name)) throw new CodedError('JR_SHARD_NOT_FOUND', `shard ${name} does not exist`, { details: { shard: name } });
    this.persist();
  }

  private update(name: string, expected: number, change: ShardChange): ShardMeta | null {
    const cur = this.shards.get(name);
    if (cur === undefined || cur.version !== expected) return null;
    const next: ShardMeta = { ...cur, leader: change.leader, leaderEpoch: change.leaderEpoch, isr: [...change.isr], version: this.nextVersion++ };
    this.shards.set(name, next);
    this.persist();
    return next;
  }

  private persist(): void {
    if (this.file === null) return;
    const state: FileState = { version: 1, shards: [...this.shards.values()] };
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    const tmp = `${this.file}.tmp`;
    const fd = fs.openSync(tmp, 'w');
    try {
      fs.writeSync(fd, JSON.stringify(state, null, 1));
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, this.file);
  }
}
