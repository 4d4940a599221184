// Keys that every service has, with the same meaning (DESIGN.md section 6).

import { int, oneOf, port, str } from './schema.js';
import type { LogLevel } from '../log.js';

export const logLevels = ['debug', 'info', 'warn', 'error'] as const satisfies readonly LogLevel[];

export function serviceKeys(grpcPort: number) {
  return {
    node_id: int({ default: 1, min: 0, doc: "This node's id, unique within the cluster." }),
    cluster_name: str({
      default: 'robustmq',
      pattern: { test: (v) => /^[A-Za-z0-9_.-]{1,64}$/.test(v), expected: 'a name of 1..64 letters, digits, "_", "." or "-"' },
      doc: 'Name of the cluster this node belongs to; nodes of different clusters refuse each other.',
    }),
    data_dir: str({
      default: './data',
      pattern: { test: (v) => v.length > 0, expected: 'a non-empty directory path' },
      doc: 'Directory for everything this node persists (relative paths are from the working directory).',
    }),
    grpc_port: port({ default: grpcPort, doc: 'gRPC port for the other services (0 = any free port, -1 = disabled).' }),
  };
}

export function logKeys() {
  return {
    level: oneOf({ values: logLevels, default: 'info', doc: 'Least severe level written to stderr: debug, info, warn or error.' }),
  };
}
