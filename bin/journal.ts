#!/usr/bin/env node
// `journal start [--config FILE] [--set key.path=value]...`: a journal engine node (segmented,
// replicated shard logs over gRPC). With `placement.addrs = []` it runs standalone: one node,
// shard metadata in <data_dir>/journal/.meta.json.

import { journalSchema } from '../common/config/index.js';
import { runService } from '../common/service-runner.js';

const code = await runService(
  {
    name: 'journal',
    summary: 'Starts a journal engine node: segmented append-only shards, replicated, served over gRPC. With placement.addrs = [] it runs standalone (one node, replicas = 1).',
    schema: journalSchema,
    defaultConfigFile: 'config/journal.toml',
    // Imported only once the config is valid, so --help and config errors answer without loading gRPC.
    start: async (config, log) => {
      const j = await import('../journal/service/start-journal.js');
      return j.startJournal(config, log, j.journalEnvOptions(process.env));
    },
  },
  process.argv.slice(2),
);
process.exit(code);
