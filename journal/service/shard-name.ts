// Shard names become directory names under <data_dir>/journal/, so they are restricted to a safe
// alphabet; a leading "." is reserved for the node's own files.

import { CodedError } from '../../common/errors.js';

const SHARD_NAME = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,199}$/;

export function isShardName(name: unknown): name is string {
  return typeof name === 'string' && SHARD_NAME.test(name);
}

export function checkShardName(name: unknown): string {
  if (!isShardName(name)) {
    throw new CodedError('JR_INVALID_ARGUMENT', `shard name must be 1..200 of A-Z a-z 0-9 _ . - and not start with ".", got ${JSON.stringify(name)}`, {
      details: { shard: typeof name === 'string' ? name : null },
    });
  }
  return name;
}
