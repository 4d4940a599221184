#!/usr/bin/env node
// `journal start [--config FILE] [--set key.path=value]...`: the journal engine (segmented,
// replicated logs). Until it is built, `start` validates the configuration and exits 2.

import { journalSchema } from '../common/config/index.js';
import { runService } from '../common/service-runner.js';

const code = await runService(
  {
    name: 'journal',
    summary: 'Starts a journal engine node: segmented append-only shards, replicated, served over gRPC.',
    schema: journalSchema,
    defaultConfigFile: 'config/journal.toml',
  },
  process.argv.slice(2),
);
process.exit(code);
