// `robust-ctl placement ...`: status of a placement member and the placement KV, over gRPC with
// the shared placement client (so writes reach the leader through any member).
//
//   robust-ctl placement status --placement host:port [--output table|json]
//   robust-ctl placement kv set KEY VALUE | get KEY | delete KEY  [--placement host:port[,host:port...]]
//   robust-ctl placement member add --id N --address host:port [--learner] | promote --id N | remove --id N
//   robust-ctl placement transfer-leader --to N
//
// Exit codes: 0 done (kv get: found), 1 unreachable / error answer / kv get of an absent key,
// 2 bad usage.

import { parseArgs } from 'node:util';
import { isCodedError } from '../common/errors.js';
import { GrpcPlacementClient } from '../placement/client/grpc-client.js';
import { MemberRole, type Member } from '../proto/gen/placement_pb.js';
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
    '  placement member add --id N --address HOST:PORT [--learner]',
    '                              add a member (one change at a time; add before starting the node;',
    '                              --learner: non-voting until promoted, recommended)',
    '  placement member promote --id N',
    '                              make a caught-up learner a voter (refused while it lags)',
    '  placement member remove --id N',
    '                              remove a member; the removed node stops',
    '  placement transfer-leader --to N',
    '                              hand leadership to voter N; returns once N leads',
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
  let values: { placement?: string; output?: string; timeout?: string; help?: boolean; id?: string; address?: string; learner?: boolean; to?: string };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: [...args],
      options: {
        placement: { type: 'string' },
        output: { type: 'string', short: 'o' },
        timeout: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        id: { type: 'string' },
        address: { type: 'string' },
        learner: { type: 'boolean' },
        to: { type: 'string' },
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
  const isMember = cmd === 'member' && rest.length === 1;
  const isTransfer = cmd === 'transfer-leader' && rest.length === 0;
  // Membership options belong to the member / transfer-leader commands only.
  const stray = (['id', 'address', 'learner', 'to'] as const).filter((k) => values[k] !== undefined);
  const allowed: readonly string[] = isMember ? (rest[0] === 'add' ? ['id', 'address', 'learner'] : ['id']) : isTransfer ? ['to'] : [];
  const misplaced = stray.find((k) => !allowed.includes(k));
  if (misplaced !== undefined) return usageError(`--${misplaced} does not apply to "placement ${positionals.join(' ')}"`);
  const nodeId = (flag: 'id' | 'to'): number | string => {
    const v = values[flag];
    if (v === undefined) return `--${flag} N is required`;
    const n = Number(v);
    return /^\d+$/.test(v) && Number.isSafeInteger(n) && n > 0 ? n : `--${flag} must be a positive integer, got ${JSON.stringify(v)}`;
  };
  const membersOut = (index: number, members: readonly Member[]) => {
    const list = members.map((m) => ({ id: m.id, address: m.address, role: m.role === MemberRole.LEARNER ? 'learner' : 'voter', match_index: m.matchIndex }));
    if (output === 'json') io.out(JSON.stringify({ index, members: list }, null, 2));
    else io.out(`${index === 0 ? 'OK (nothing to change)' : `OK (applied at index ${index})`}\n${renderTable(list)}`);
    return 0;
  };
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
        removed: s.removed,
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
  } else if (isMember && (rest[0] === 'add' || rest[0] === 'promote' || rest[0] === 'remove')) {
    const id = nodeId('id');
    if (typeof id === 'string') return usageError(id);
    if (rest[0] === 'add') {
      const address = values.address;
      if (address === undefined) return usageError('--address HOST:PORT is required');
      if (!/^[^\s:]+:\d{1,5}$/.test(address) && !/^\[[0-9a-fA-F:.]+\]:\d{1,5}$/.test(address)) return usageError(`--address must be host:port, got ${JSON.stringify(address)}`);
      run = async (c) => {
        const r = await c.addMember(id, address, { asLearner: values.learner === true });
        return membersOut(r.index, r.members);
      };
    } else if (rest[0] === 'promote') {
      run = async (c) => {
        const r = await c.promoteLearner(id);
        return membersOut(r.index, r.members);
      };
    } else {
      run = async (c) => {
        const r = await c.removeMember(id);
        return membersOut(r.index, r.members);
      };
    }
  } else if (isTransfer) {
    const to = nodeId('to');
    if (typeof to === 'string') return usageError(to);
    run = async (c) => {
      const r = await c.transferLeader(to);
      io.out(output === 'json' ? JSON.stringify({ leader_id: r.leaderId, term: r.term }) : `OK: node ${r.leaderId} leads (term ${r.term})`);
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
