// Private copies of ops, for the drivers that queue apply() calls and write them later (s3,
// journal): what the caller changes after apply() returned must not reach what is written.

import type { StorageOp } from './driver.js';
import { cloneDelayed, cloneMessage, cloneOutbound, cloneSession, cloneSubscription } from './clone-records.js';

export function cloneOp(op: StorageOp): StorageOp {
  switch (op.op) {
    case 'session.put':
      return { op: op.op, session: cloneSession(op.session) };
    case 'sub.put':
      return { op: op.op, sub: cloneSubscription(op.sub) };
    case 'msg.put':
    case 'retain.put':
      return { op: op.op, message: cloneMessage(op.message) };
    case 'out.put':
      return { op: op.op, entry: cloneOutbound(op.entry) };
    case 'delayed.put':
      return { op: op.op, record: cloneDelayed(op.record) };
    default:
      return { ...op };
  }
}

/** About how many bytes an op takes once encoded (payloads dominate); sizes group commits. */
export function opBytes(op: StorageOp): number {
  switch (op.op) {
    case 'msg.put':
    case 'retain.put':
      return 64 + op.message.payload.length;
    case 'delayed.put':
      return 64 + op.record.message.payload.length;
    case 'session.put':
      return 64 + (op.session.will?.message.payload.length ?? 0);
    default:
      return 64;
  }
}
