// The journal's two gRPC services (proto/journal.proto) over a JournalNode: request validation,
// protobuf <-> storage conversion, and errors as coded statuses (client/grpc-errors.ts).

import { Server, ServerCredentials, type sendUnaryData, type ServerUnaryCall, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { CodedError } from '../../common/errors.js';
import { grpcServiceDefinition } from '../../proto/grpc.js';
import {
  Isolation,
  Journal,
  JournalReplication,
  type CreateShardRequest,
  type DeleteShardRequest,
  type DescribeShardRequest,
  type FenceRequest,
  type FetchRequest,
  type GetOffsetsRequest,
  type ReadRequest,
  type ShardInfo,
  type WriteRequest,
} from '../../proto/gen/journal_pb.js';
import { create, type DescMessage, type DescService, type MessageInitShape } from '@bufbuild/protobuf';
import { ReadReplySchema, ShardInfoSchema } from '../../proto/gen/journal_pb.js';
import { toGrpcStatus } from '../client/grpc-errors.js';
import { toAppendRecord, toWireRecord } from '../replication/shard-replica.js';
import type { JournalNode, ShardView } from './journal-node.js';

const MAX_RECORDS = 10_000;

// A handler returns the reply's init shape; the wrapper builds the message with the method's
// output schema (toBinary needs real messages) and maps thrown errors to coded statuses.
type Handler = (req: never) => unknown;

function unary(output: DescMessage, fn: Handler) {
  return (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>): void => {
    Promise.resolve()
      .then(() => (fn as (r: unknown) => unknown)(call.request))
      .then(
        (res) => callback(null, create(output, res as MessageInitShape<DescMessage>)),
        (err: unknown) => callback(toGrpcStatus(err) as never),
      );
  };
}

function implement(service: DescService, handlers: Record<string, Handler>): UntypedServiceImplementation {
  const impl: UntypedServiceImplementation = {};
  for (const m of service.methods) {
    const fn = handlers[m.localName];
    if (fn === undefined) throw new Error(`no handler for ${service.typeName}.${m.name}`);
    impl[m.localName] = unary(m.output, fn) as never;
  }
  return impl;
}

export function shardInfo(v: ShardView): ShardInfo {
  const m = v.meta;
  return create(ShardInfoSchema, {
    name: m.name,
    replicas: m.replicationFactor,
    replicaNodes: [...m.replicas],
    leaderId: m.leader,
    leaderAddr: v.leaderAddr,
    leaderEpoch: m.leaderEpoch,
    isr: [...m.isr],
    earliestOffset: v.offsets?.earliest ?? 0,
    logEndOffset: v.offsets?.latest ?? 0,
    highWatermark: v.offsets?.hw ?? 0,
    createdAtMs: m.createdAtMs,
  });
}

function offsetArg(name: string, v: number): number {
  if (!Number.isSafeInteger(v) || v < 0) throw new CodedError('JR_INVALID_ARGUMENT', `${name} must be a non-negative integer, got ${v}`);
  return v;
}

async function read(node: JournalNode, req: ReadRequest): Promise<MessageInitShape<typeof ReadReplySchema>> {
  const committed = req.isolation !== Isolation.UNCOMMITTED;
  const maxRecords = Math.min(req.maxRecords === 0 ? 500 : req.maxRecords, MAX_RECORDS);
  const maxBytes = req.maxBytes === 0 ? 1024 * 1024 : req.maxBytes;
  let offset: number;
  switch (req.from.case) {
    case 'key': {
      const rec = await node.readByKey(req.shard, req.from.value, committed);
      const hw = node.offsets(req.shard).hw;
      return { records: rec === null ? [] : [toWireRecord(rec)], nextOffset: rec === null ? 0 : rec.offset + 1, highWatermark: hw };
    }
    case 'timestamp':
      if (!Number.isSafeInteger(req.from.value)) throw new CodedError('JR_INVALID_ARGUMENT', `timestamp must be an integer, got ${req.from.value}`);
      offset = await node.offsetForTime(req.shard, req.from.value, committed);
      break;
    case 'offset':
      offset = offsetArg('offset', req.from.value);
      break;
    default:
      offset = 0;
  }
  const { records, hw } = await node.read(req.shard, { offset, maxRecords, maxBytes, committed });
  const next = records.length > 0 ? records[records.length - 1]!.offset + 1 : offset;
  return { records: records.map(toWireRecord), nextOffset: next, highWatermark: hw };
}

export function journalHandlers(get: () => JournalNode): UntypedServiceImplementation {
  return implement(Journal, {
    createShard: async (req: CreateShardRequest) => ({ shard: shardInfo(await get().createShard(req.name, req.replicas, req.keyIndex)) }),
    deleteShard: async (req: DeleteShardRequest) => {
      await get().deleteShard(req.name);
      return {};
    },
    listShards: async () => ({ shards: (await get().listShards()).map(shardInfo) }),
    describeShard: async (req: DescribeShardRequest) => ({ shard: shardInfo(await get().describeShard(req.name)) }),
    write: async (req: WriteRequest) => {
      const records = req.records.map((r, i) => {
        if (r.timestamp !== undefined && (!Number.isSafeInteger(r.timestamp) || r.timestamp < 0)) {
          throw new CodedError('JR_INVALID_RECORD', `record ${i}: timestamp must be a non-negative integer`);
        }
        return toAppendRecord({ timestamp: r.timestamp ?? Date.now(), key: r.key, headers: r.headers, value: r.value });
      });
      const res = await get().write(req.shard, records, req.acks, req.timeoutMs);
      return { baseOffset: res.baseOffset, lastOffset: res.lastOffset, leaderEpoch: res.leaderEpoch };
    },
    read: (req: ReadRequest) => read(get(), req),
    getOffsets: (req: GetOffsetsRequest) => {
      const o = get().offsets(req.shard);
      return { earliest: o.earliest, latest: o.latest, highWatermark: o.hw, leaderEpoch: o.epoch };
    },
  });
}

export function replicationHandlers(get: () => JournalNode): UntypedServiceImplementation {
  return implement(JournalReplication, {
    fetch: (req: FetchRequest) => get().replicaForPeer(req.shard).handleFetch(req),
    fence: async (req: FenceRequest) => get().fence(req.shard, req.epoch),
  });
}

/**
 * Binds `host:port` (port 0 = any free port) and serves both services; resolves with the bound
 * port. `get` returns the node (it starts after the bind, once its address is known) or throws.
 */
export async function startGrpcServer(get: () => JournalNode, host: string, port: number): Promise<{ server: Server; port: number }> {
  const server = new Server({ 'grpc.max_receive_message_length': 64 * 1024 * 1024, 'grpc.max_send_message_length': 64 * 1024 * 1024 });
  server.addService(grpcServiceDefinition(Journal), journalHandlers(get));
  server.addService(grpcServiceDefinition(JournalReplication), replicationHandlers(get));
  const bound = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${host}:${port}`, ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p)));
  });
  return { server, port: bound };
}
