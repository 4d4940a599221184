// The on-log encoding of a Command: one version byte, then the protobuf bytes of
// placement_log.proto's Command. An empty entry (a new leader's no-op) is not a command.

import { create, fromBinary, toBinary, type MessageInitShape } from '@bufbuild/protobuf';
import { CommandSchema, type Command, StateSnapshotSchema } from '../../proto/gen/placement_log_pb.js';

const VERSION = 1;

export class CommandDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CommandDecodeError';
  }
}

export function makeCommand(init: MessageInitShape<typeof CommandSchema>): Command {
  return create(CommandSchema, init);
}

export function encodeCommand(cmd: Command): Uint8Array {
  const body = toBinary(CommandSchema, cmd);
  const out = new Uint8Array(1 + body.byteLength);
  out[0] = VERSION;
  out.set(body, 1);
  return out;
}

export function decodeCommand(data: Uint8Array): Command {
  if (data.byteLength === 0) throw new CommandDecodeError('empty entry is not a command');
  if (data[0] !== VERSION) throw new CommandDecodeError(`command version ${data[0]} unknown`);
  try {
    return fromBinary(CommandSchema, data.subarray(1));
  } catch (err: unknown) {
    throw new CommandDecodeError(`command does not decode: ${err instanceof Error ? err.message : String(err)}`);
  }
}

export { StateSnapshotSchema };
