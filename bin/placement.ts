#!/usr/bin/env node
// `placement start [--config FILE] [--set key.path=value]...`: a placement center node (Raft
// metadata service) serving gRPC on grpc_port; see placement/service/README.md.

import { placementSchema } from '../common/config/index.js';
import { runService } from '../common/service-runner.js';

const code = await runService(
  {
    name: 'placement',
    summary: 'Starts a placement center node: cluster metadata replicated with Raft, served over gRPC.',
    schema: placementSchema,
    defaultConfigFile: 'config/placement.toml',
    // Imported only once the config is valid, so --help and config errors answer without loading gRPC.
    start: async (config, log) => (await import('../placement/service/start-placement.js')).startPlacement(config, log),
  },
  process.argv.slice(2),
);
process.exit(code);
