#!/usr/bin/env node
// `broker start [--config FILE] [--set key.path=value]...`: the MQTT broker (standalone by default).

import { brokerSchema } from '../common/config/index.js';
import { runService } from '../common/service-runner.js';

const code = await runService(
  {
    name: 'broker',
    summary: 'Starts the MQTT broker: MQTT over TCP, TLS, WebSocket and WSS, and the admin HTTP API. With no placement.addrs it runs standalone, persisting under data_dir.',
    schema: brokerSchema,
    defaultConfigFile: 'config/broker.toml',
    // Imported only once the config is valid, so --help and config errors answer without loading the broker.
    start: async (config, log) => (await import('../broker/server.js')).startBroker(config, log),
  },
  process.argv.slice(2),
);
process.exit(code);
