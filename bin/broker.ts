#!/usr/bin/env node
// `broker start [--config FILE] [--set key.path=value]...`: the MQTT broker (standalone by default).

import { brokerSchema } from '../common/config/index.js';
import { runService } from '../common/service-runner.js';

const code = await runService(
  {
    name: 'broker',
    summary: 'Starts the MQTT broker: MQTT over TCP, TLS, WebSocket and WSS, and the admin HTTP API. With no placement.addrs it runs standalone, persisting under data_dir. With workers other than 1 it runs that many broker processes behind the same ports.',
    schema: brokerSchema,
    defaultConfigFile: 'config/broker.toml',
    // Imported only once the config is valid, so --help and config errors answer without loading the broker.
    start: async (config, log) => {
      const { resolveWorkerCount } = await import('../broker/workers/worker-config.js');
      if (resolveWorkerCount(config.workers) > 1) return (await import('../broker/workers/primary.js')).startPrimary(config, log);
      return (await import('../broker/server.js')).startBroker(config, log);
    },
  },
  process.argv.slice(2),
);
process.exit(code);
