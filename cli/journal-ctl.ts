// `robust-ctl journal ...`: shard administration, writes from stdin and reads as JSON lines,
// against journal nodes over gRPC (journal/client).
//
//   robust-ctl journal shard create NAME [--replicas N] [--key-index]
//   robust-ctl journal shard list | describe NAME | delete NAME
//   robust-ctl journal write --shard NAME [--key K] [--acks 1|quorum|all]   (one record per stdin line)
//   robust-ctl journal read --shard NAME [--offset N] [--max M] [--timestamp MS] [--uncommitted]
//   common: --journal host:port[,host:port] | --placement host:port[,...]  --output table|json
//
// Exit codes as the rest of robust-ctl: 0 done, 1 the server failed or is unreachable, 2 usage.

import { parseArgs } from 'node:util';
import { isCodedError } from '../common/errors.js';
import type { ShardInfo } from '../proto/gen/journal_pb.js';
import { Acks, Isolation, JournalClient } from '../journal/client/index.js';
import { renderKeyValue, renderTable } from './table.js';

export interface JournalCtlIo {
  out(text: string): void;
  err(text: string): void;
  /** The whole of stdin; default: process.stdin. */
  readStdin?: () => Promise<string>;
}

export interface JournalCtlOptions {
  readonly timeoutMs?: number;
  /** How long to retry while no leader or node answers; default 5 s. */
  readonly retryForMs?: number;
  /** Resolves `--placement` addresses to journal node addresses (placement's node registry). */
  readonly journalNodesFromPlacement?: (placementAddrs: string[]) => Promise<string[]>;
}

const DEFAULT_JOURNAL = '127.0.0.1:1778';
const WRITE_BATCH = 500;

export function journalUsage(): string {
  return [
    'Usage: robust-ctl journal <command> [--journal host:port | --placement host:port] [--output table|json]',
    '',
    'Commands:',
    '  shard create NAME [--replicas N] [--key-index]   create a shard with N copies (default 1)',
    '  shard list                                       every shard with its leader, epoch and in-sync set',
    '  shard describe NAME                              one shard, with offsets from its leader',
    '  shard delete NAME                                delete a shard and its data',
    '  write --shard NAME [--key K] [--acks 1|quorum|all]',
    '                                                   append each stdin line as a record; prints the offsets',
    '  read --shard NAME [--offset N] [--timestamp MS] [--max M] [--uncommitted]',
    '                                                   print records as JSON lines',
    '',
    'Options:',
    `  --journal ADDRS     journal node(s), comma separated (default ${DEFAULT_JOURNAL})`,
    '  --placement ADDRS   find the journal nodes through the placement center instead',
    '  --output FORMAT     table (default) or json',
  ].join('\n');
}

/** The live journal nodes placement knows (kind JOURNAL, status ALIVE). */
export async function journalNodesViaPlacement(placementAddrs: string[]): Promise<string[]> {
  const [{ GrpcPlacementClient }, { NodeKind, NodeStatus }] = await Promise.all([import('../placement/client/grpc-client.js'), import('../proto/gen/placement_pb.js')]);
  const client = new GrpcPlacementClient({ addresses: placementAddrs, timeoutMs: 5000 });
  try {
    const nodes = await client.listNodes(NodeKind.JOURNAL);
    return nodes.filter((n) => n.status === NodeStatus.ALIVE).map((n) => n.address);
  } finally {
    await client.close();
  }
}

function readProcessStdin(): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    process.stdin.on('data', (c: Buffer) => chunks.push(c));
    process.stdin.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    process.stdin.on('error', reject);
  });
}

function shardRow(s: ShardInfo): Record<string, unknown> {
  return {
    name: s.name,
    replicas: s.replicas,
    nodes: s.replicaNodes.join(','),
    leader: s.leaderId === 0 ? '-' : s.leaderId,
    leader_addr: s.leaderAddr,
    epoch: s.leaderEpoch,
    isr: s.isr.join(','),
  };
}

function shardJson(s: ShardInfo): Record<string, unknown> {
  return {
    name: s.name,
    replicas: s.replicas,
    replica_nodes: s.replicaNodes,
    leader_id: s.leaderId,
    leader_addr: s.leaderAddr,
    leader_epoch: s.leaderEpoch,
    isr: s.isr,
    earliest_offset: s.earliestOffset,
    log_end_offset: s.logEndOffset,
    high_watermark: s.highWatermark,
    created_at_ms: s.createdAtMs,
  };
}

function parseAcks(v: string | undefined): Acks | null {
  if (v === undefined || v === 'quorum') return Acks.QUORUM;
  if (v === '1' || v === 'one') return Acks.ONE;
  if (v === 'all' || v === '-1') return Acks.ALL;
  return null;
}

function nonNegative(v: string | undefined, name: string): number | null | undefined {
  if (v === undefined) return undefined;
  return /^\d+$/.test(v) && Number.isSafeInteger(Number(v)) ? Number(v) : null;
}

function bytesJson(b: Uint8Array | undefined): string | undefined {
  return b === undefined ? undefined : Buffer.from(b).toString('utf8');
}

export async function runJournalCtl(args: readonly string[], io: JournalCtlIo, options: JournalCtlOptions = {}): Promise<number> {
  const usage = (message: string): number => {
    io.err(`robust-ctl journal: ${message}`);
    io.err(journalUsage());
    return 2;
  };
  let values: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: [...args],
      options: {
        journal: { type: 'string' },
        placement: { type: 'string' },
        output: { type: 'string', short: 'o' },
        replicas: { type: 'string' },
        'key-index': { type: 'boolean' },
        shard: { type: 'string' },
        key: { type: 'string' },
        acks: { type: 'string' },
        offset: { type: 'string' },
        timestamp: { type: 'string' },
        max: { type: 'string' },
        uncommitted: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: true,
    }));
  } catch (err: unknown) {
    return usage(err instanceof Error ? err.message : String(err));
  }
  if (values.help === true) {
    io.out(journalUsage());
    return 0;
  }
  const output = (values.output as string | undefined) ?? 'table';
  if (output !== 'table' && output !== 'json') return usage(`--output must be table or json, got ${JSON.stringify(output)}`);
  const cmd = positionals.join(' ');
  const name = positionals[2];

  // Validate everything before connecting anywhere.
  let run: (client: JournalClient) => Promise<number>;
  if (positionals[0] === 'shard' && positionals[1] === 'create' && positionals.length === 3) {
    const replicas = nonNegative(values.replicas as string | undefined, 'replicas');
    if (replicas === null || replicas === 0) return usage('--replicas must be a positive integer');
    run = async (c) => {
      const s = await c.createShard(name!, { replicas: replicas ?? 1, keyIndex: values['key-index'] === true });
      io.out(output === 'json' ? JSON.stringify(shardJson(s), null, 2) : `created shard ${s.name}\n${renderKeyValue(shardRow(s))}`);
      return 0;
    };
  } else if (cmd === 'shard list') {
    run = async (c) => {
      const shards = await c.listShards();
      if (output === 'json') io.out(JSON.stringify(shards.map(shardJson), null, 2));
      else io.out(shards.length === 0 ? 'no shards' : `${renderTable(shards.map(shardRow))}\n${shards.length} shard${shards.length === 1 ? '' : 's'}`);
      return 0;
    };
  } else if (positionals[0] === 'shard' && positionals[1] === 'describe' && positionals.length === 3) {
    run = async (c) => {
      const s = await c.describeShard(name!);
      io.out(output === 'json' ? JSON.stringify(shardJson(s), null, 2) : renderKeyValue({ ...shardRow(s), earliest_offset: s.earliestOffset, log_end_offset: s.logEndOffset, high_watermark: s.highWatermark }));
      return 0;
    };
  } else if (positionals[0] === 'shard' && positionals[1] === 'delete' && positionals.length === 3) {
    run = async (c) => {
      await c.deleteShard(name!);
      io.out(output === 'json' ? JSON.stringify({ deleted: name }) : `deleted shard ${name}`);
      return 0;
    };
  } else if (cmd === 'write') {
    const shard = values.shard as string | undefined;
    if (shard === undefined) return usage('write needs --shard NAME');
    const acks = parseAcks(values.acks as string | undefined);
    if (acks === null) return usage('--acks must be 1, quorum or all');
    const key = values.key === undefined ? undefined : Buffer.from(values.key as string, 'utf8');
    run = async (c) => {
      const text = await (io.readStdin ?? readProcessStdin)();
      const lines = text.split('\n');
      if (lines[lines.length - 1] === '') lines.pop();
      for (let i = 0; i < lines.length; i += WRITE_BATCH) {
        const batch = lines.slice(i, i + WRITE_BATCH).map((l) => ({ value: Buffer.from(l.replace(/\r$/, ''), 'utf8'), key }));
        const r = await c.write(shard, batch, { acks });
        const offsets: number[] = [];
        for (let o = r.baseOffset; o <= r.lastOffset; o++) offsets.push(o);
        io.out(output === 'json' ? offsets.map((o) => JSON.stringify({ offset: o })).join('\n') : offsets.join('\n'));
      }
      return 0;
    };
  } else if (cmd === 'read') {
    const shard = values.shard as string | undefined;
    if (shard === undefined) return usage('read needs --shard NAME');
    const offset = nonNegative(values.offset as string | undefined, 'offset');
    const max = nonNegative(values.max as string | undefined, 'max');
    const ts = nonNegative(values.timestamp as string | undefined, 'timestamp');
    if (offset === null) return usage('--offset must be a non-negative integer');
    if (max === null || max === 0) return usage('--max must be a positive integer');
    if (ts === null) return usage('--timestamp must be milliseconds since the epoch');
    if (ts !== undefined && offset !== undefined) return usage('give --offset or --timestamp, not both');
    run = async (c) => {
      const isolation = values.uncommitted === true ? Isolation.UNCOMMITTED : Isolation.COMMITTED;
      let from: { offset: number } | { timestamp: number } = ts !== undefined ? { timestamp: ts } : { offset: offset ?? 0 };
      let left = max ?? Infinity;
      while (left > 0) {
        const r = await c.read(shard, from, { maxRecords: Math.min(left, 1000), isolation });
        for (const rec of r.records) {
          io.out(JSON.stringify({ offset: rec.offset, timestamp: rec.timestamp, key: bytesJson(rec.key), headers: rec.headers.length > 0 ? Object.fromEntries(rec.headers.map(([n, v]) => [n, bytesJson(v)])) : undefined, value: bytesJson(rec.value) }));
        }
        left -= r.records.length;
        if (r.records.length === 0) break;
        from = { offset: r.nextOffset };
      }
      return 0;
    };
  } else {
    return usage(positionals.length === 0 ? 'missing command' : `unknown command "journal ${cmd}"`);
  }

  let addrs: string[];
  try {
    if (values.placement !== undefined) {
      addrs = await (options.journalNodesFromPlacement ?? journalNodesViaPlacement)(String(values.placement).split(','));
      if (addrs.length === 0) {
        io.err('robust-ctl journal: the placement center knows no live journal node');
        return 1;
      }
    } else {
      addrs = String(values.journal ?? DEFAULT_JOURNAL).split(',');
    }
  } catch (err: unknown) {
    io.err(`robust-ctl journal: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
  const client = new JournalClient({ addrs, rpcTimeoutMs: options.timeoutMs ?? 15_000, retryForMs: options.retryForMs ?? 5_000 });
  try {
    return await run(client);
  } catch (err: unknown) {
    io.err(`robust-ctl journal: ${isCodedError(err) ? `${err.message} [${err.code}]` : err instanceof Error ? err.message : String(err)}`);
    return 1;
  } finally {
    client.close();
  }
}
