/**
 * Binary encoding of a ConfChange inside a log entry, so the log is self-describing on disk:
 *   byte 0: version (1) | byte 1: type (0 add-voter, 1 add-learner, 2 remove-node)
 *   bytes 2..9: node id, float64 big-endian (ids are safe integers) | rest: context.
 */
import { RaftError } from './errors.js';
import type { ConfChange, ConfChangeType } from './types.js';

const TYPES: readonly ConfChangeType[] = ['add-voter', 'add-learner', 'remove-node'];
const HEADER = 10;

export function encodeConfChange(cc: ConfChange): Uint8Array {
  validateNodeId(cc.nodeId);
  const ctx = cc.context ?? new Uint8Array(0);
  const out = new Uint8Array(HEADER + ctx.byteLength);
  const view = new DataView(out.buffer);
  view.setUint8(0, 1);
  view.setUint8(1, TYPES.indexOf(cc.type));
  view.setFloat64(2, cc.nodeId);
  out.set(ctx, HEADER);
  return out;
}

export function decodeConfChange(data: Uint8Array): ConfChange {
  if (data.byteLength < HEADER) throw new RaftError('RAFT_CORRUPT', `conf change of ${data.byteLength} bytes is too short`);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (view.getUint8(0) !== 1) throw new RaftError('RAFT_CORRUPT', `conf change version ${view.getUint8(0)} unknown`);
  const type = TYPES[view.getUint8(1)];
  if (type === undefined) throw new RaftError('RAFT_CORRUPT', `conf change type ${view.getUint8(1)} unknown`);
  const nodeId = view.getFloat64(2);
  validateNodeId(nodeId);
  const context = data.slice(HEADER);
  return context.byteLength > 0 ? { type, nodeId, context } : { type, nodeId };
}

export function validateNodeId(id: number): void {
  if (!Number.isSafeInteger(id) || id <= 0) {
    throw new RaftError('RAFT_INVALID_CONFIG', `node id must be a positive safe integer, got ${id}`);
  }
}
