// The example cluster configs in config/cluster/ are valid broker configs and form one cluster.

import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { brokerSchema, loadConfig } from '../../../common/config/index.js';
import { repoRoot } from '../../test/helpers.js';

describe('config/cluster broker configs', () => {
  it('load, name distinct nodes and ports, and point at the placement group', () => {
    const configs = [1, 2].map((i) => loadConfig(brokerSchema, { file: path.join(repoRoot, `config/cluster/broker-${i}.toml`) }));
    expect(configs.map((c) => c.node_id)).toEqual([1, 2]);
    expect(new Set(configs.map((c) => c.grpc_port)).size).toBe(2);
    expect(new Set(configs.map((c) => c.mqtt.tcp_port)).size).toBe(2);
    for (const c of configs) {
      expect(c.placement.addrs).toEqual(['127.0.0.1:1228', '127.0.0.1:1229', '127.0.0.1:1230']);
      // Shared storage: each broker's state is its own shard prefix in the same journal cluster.
      expect(c.storage.driver).toBe('journal');
      expect(c.storage.journal.addrs).toEqual(['127.0.0.1:1778', '127.0.0.1:1779', '127.0.0.1:1780']);
      expect(c.storage.journal.shard_prefix).toBe('');
    }
  });
});
