// The on-log encoding of commands: one version byte, then protobuf. Version 1 is one `Command`,
// version 2 a `CommandBatch` (several commands in one entry, applied in order at its index). An
// empty entry (a new leader's no-op) is not a command.

import { create, fromBinary, toBinary, type MessageInitShape } from '@bufbuild/protobuf';
import { CommandBatchSchema, CommandSchema, type Command } from '../../proto/gen/placement_log_pb.js';

const SINGLE = 1;
const BATCH = 2;

export class CommandDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CommandDecodeError';
  }
}

export function makeCommand(init: MessageInitShape<typeof CommandSchema>): Command {
  return create(CommandSchema, init);
}

function withVersion(version: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(1 + body.byteLength);
  out[0] = version;
  out.set(body, 1);
  return out;
}

export function encodeCommand(cmd: Command): Uint8Array {
  return withVersion(SINGLE, toBinary(CommandSchema, cmd));
}

/** One entry holding `cmds` in order (a single command is encoded as version 1). */
export function encodeCommands(cmds: readonly Command[]): Uint8Array {
  if (cmds.length === 1) return encodeCommand(cmds[0]!);
  return withVersion(BATCH, toBinary(CommandBatchSchema, create(CommandBatchSchema, { commands: [...cmds] })));
}

/** The commands of one entry, in order. */
export function decodeCommands(data: Uint8Array): Command[] {
  if (data.byteLength === 0) throw new CommandDecodeError('empty entry is not a command');
  try {
    if (data[0] === SINGLE) return [fromBinary(CommandSchema, data.subarray(1))];
    if (data[0] === BATCH) return fromBinary(CommandBatchSchema, data.subarray(1)).commands;
  } catch (err: unknown) {
    throw new CommandDecodeError(`command does not decode: ${err instanceof Error ? err.message : String(err)}`);
  }
  throw new CommandDecodeError(`command version ${data[0]} unknown`);
}

/** The single command of a version-1 entry. */
export function decodeCommand(data: Uint8Array): Command {
  const cmds = decodeCommands(data);
  if (cmds.length !== 1) throw new CommandDecodeError(`entry holds ${cmds.length} commands, not one`);
  return cmds[0]!;
}
