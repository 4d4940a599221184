#!/usr/bin/env node
// `placement start [--config FILE] [--set key.path=value]...`: the placement center (Raft metadata
// service). Until it is built, `start` validates the configuration and exits 2.

import { placementSchema } from '../common/config/index.js';
import { runService } from '../common/service-runner.js';

const code = await runService(
  {
    name: 'placement',
    summary: 'Starts a placement center node: cluster metadata replicated with Raft, served over gRPC.',
    schema: placementSchema,
    defaultConfigFile: 'config/placement.toml',
  },
  process.argv.slice(2),
);
process.exit(code);
