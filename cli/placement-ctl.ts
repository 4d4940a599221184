// `robust-ctl placement ...`: status of a placement member and the placement KV, over gRPC with
// the shared placement client (so writes reach the leader through any member).
//
//   robust-ctl placement status --placement host:port [--output table|json]
//   robust-ctl placement kv set KEY VALUE | get KEY | delete KEY  [--placement host:port[,host:port...]]
//
// Exit codes: 0 done (kv get: found), 1 unreachable / error answer / kv get of an absent key,
// 2 bad usage.

import { parseArgs } from 'node:util';
import { isCodedError } from '../common/errors.js';
import { GrpcPlacementClient } from '../placement/client/grpc-client.js';
import { MemberRole } from '../proto/gen/placement_pb.js';
import { renderKeyValue, renderTable } from './table.js';

export interface PlacementCtlIo {
  out(text: string): void;
  err(text: string): void;
}

const DEFAULT_PLACEMENT = '127.0.0.1:1228';

export function placementUsage(): string {
  return [
    'Usage: robust-ctl placement <command> [--placement host:port[,host:port...]] [--output table|json]',
    '',
    'Commands:',
    '  placement status            node id, role, term, leader, commit and applied index, members',
    '  placement kv set KEY VALUE  write a key (through any member; the leader applies it)',
    '  placement kv get KEY        print the value (exit 1 if absent)',
    '  placement kv delete KEY     delete a key',
    '',
    'Options:',
    `  --placement ADDRS   placement member(s), comma-separated (default ${DEFAULT_PLACEMENT})`,
    '  --output FORMAT     table (default) or json',
    '  --timeout MS        give up after this long (default 10000)',
  ].join('\n');
}

export async function runPlacementCtl(args: readonly string[], io: PlacementCtlIo): Promise<number> {
  const usageError = (message: string): number => {
    io.err(`robust-ctl: ${message}`);
    io.err(placementUsage());
    return 2;
  };
  let values: { placement?: string; output?: string; timeout?: string; help?: boolean };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: [...args],
      options: {
        placement: { type: 'string' },
        output: { type: 'string', short: 'o' },
        timeout: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: true,
    }));
  } catch (err: unknown) {
    return usageError(err instanceof Error ? err.message : String(err));
  }
  if (values.help === true) {
    io.out(placementUsage());
    return 0;
  }
  const output = values.output ?? 'table';
  if (output !== 'table' && output !== 'json') return usageError(`--output must be table or json, got ${JSON.stringify(output)}`);
  const addresses = (values.placement ?? DEFAULT_PLACEMENT).split(',').map((a) => a.trim()).filter((a) => a !== '');
  const bad = addresses.find((a) => !/^[^\s:]+:\d{1,5}$/.test(a) && !/^\[[0-9a-fA-F:.]+\]:\d{1,5}$/.test(a));
  if (addresses.length === 0 || bad !== undefined) return usageError(`--placement must be host:port, got ${JSON.stringify(bad ?? values.placement)}`);
  const timeoutMs = values.timeout === undefined ? 10_000 : Number(values.timeout);
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) return usageError(`--timeout must be a positive integer, got ${JSON.stringify(values.timeout)}`);

  const [cmd, ...rest] = positionals;
  let run: ((c: GrpcPlacementClient) => Promise<number>) | undefined;
  if (cmd === 'status' && rest.length === 0) {
    run = async (c) => {
      const s = await c.status();
      const view = {
        node_id: s.nodeId,
        address: s.address,
        role: s.role,
        term: s.term,
        leader_id: s.leaderId,
        leader_address: s.leaderAddress,
        commit_index: s.commitIndex,
        applied_index: s.appliedIndex,
        first_index: s.firstIndex,
        last_index: s.lastIndex,
        snapshot_index: s.snapshotIndex,
        members: s.members.map((m) => ({ id: m.id, address: m.address, role: m.role === MemberRole.LEARNER ? 'learner' : 'voter', match_index: m.matchIndex })),
      };
      if (output === 'json') io.out(JSON.stringify(view, null, 2));
      else {
        const { members, ...rest } = view;
        io.out(`${renderKeyValue(rest)}\n${renderTable(members)}`);
      }
      return 0;
    };
  } else if (cmd === 'kv' && rest[0] === 'set' && rest.length === 3) {
    run = async (c) => {
      const r = await c.kvSet(rest[1]!, rest[2]!);
      io.out(output === 'json' ? JSON.stringify({ key: rest[1], index: r.index }) : 'OK');
      return 0;
    };
  } else if (cmd === 'kv' && rest[0] === 'get' && rest.length === 2) {
    run = async (c) => {
      const e = await c.kvGet(rest[1]!);
      if (e === undefined) {
        if (output === 'json') io.out(JSON.stringify({ key: rest[1], found: false }));
        else io.err(`robust-ctl: key ${JSON.stringify(rest[1])} not found`);
        return 1;
      }
      const value = new TextDecoder().decode(e.value);
      io.out(output === 'json' ? JSON.stringify({ key: e.key, found: true, value, mod_index: e.modIndex }) : value);
      return 0;
    };
  } else if (cmd === 'kv' && rest[0] === 'delete' && rest.length === 2) {
    run = async (c) => {
      const r = await c.kvDelete(rest[1]!);
      io.out(output === 'json' ? JSON.stringify({ key: rest[1], existed: r.existed, index: r.index }) : r.existed ? 'OK' : 'OK (was absent)');
      return 0;
    };
  }
  if (run === undefined) return usageError(`unknown command "placement ${positionals.join(' ')}"`);

  const client = new GrpcPlacementClient({ addresses, timeoutMs, attemptTimeoutMs: Math.min(3000, timeoutMs) });
  try {
    return await run(client);
  } catch (err: unknown) {
    io.err(`robust-ctl: ${isCodedError(err) ? `${err.message} [${err.code}]` : err instanceof Error ? err.message : String(err)}`);
    return 1;
  } finally {
    await client.close();
  }
}
