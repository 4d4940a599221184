// The pure parts of the multi-process broker: the `workers` key, each worker's derived config,
// and how the admin port picks the worker that answers.

import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { brokerSchema, ConfigError, loadConfig } from '../../../common/config/index.js';
import { CodedError } from '../../../common/errors.js';
import { pickWorker } from '../admin-proxy.js';
import { enabledKinds } from '../primary.js';
import { resolveWorkerCount, workerConfig } from '../worker-config.js';

const load = (...sets: string[]) => loadConfig(brokerSchema, { sets });

function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err: unknown) {
    if (err instanceof ConfigError) return err.message.split('\n');
    throw err;
  }
  return [];
}

describe('workers key', () => {
  it('defaults to 1 (one process); 0 means one per core', () => {
    expect(load().workers).toBe(1);
    expect(resolveWorkerCount(0, 8)).toBe(8);
    expect(resolveWorkerCount(0, 0)).toBe(1);
    expect(resolveWorkerCount(3, 8)).toBe(3);
  });

  it('refuses negative counts, mysql/s3 storage and a disabled link port with more than one worker', () => {
    expect(problems(() => load('workers=-1')).join('\n')).toMatch(/workers: expected an integer 0\.\.1024, got -1/);
    expect(problems(() => load('workers=2', 'storage.driver=mysql', 'storage.mysql.url=mysql://u:p@h:3306/d')).join('\n'))
      .toMatch(/workers: workers other than 1 needs storage\.driver memory, leveldb or journal/);
    expect(problems(() => load('workers=2', 'grpc_port=-1')).join('\n')).toMatch(/grpc_port: must not be -1 when workers is not 1/);
    expect(problems(() => load('workers=1', 'grpc_port=-1'))).toEqual([]);
  });
});

describe('workerConfig', () => {
  const base = load('node_id=10', 'data_dir=/srv/mq', 'workers=3', 'mqtt.tcp_port=1883', 'admin.http_port=8080', 'storage.journal.shard_prefix=site');

  it('gives each worker its node id, data dir and journal prefix, and takes the public ports away', () => {
    const c = workerConfig(base, 2, { addrs: ['127.0.0.1:40000'], embedded: true });
    expect(c.workers).toBe(1);
    expect(c.node_id).toBe(11);
    expect(c.data_dir).toBe(path.join('/srv/mq', 'worker-2'));
    expect(c.placement.addrs).toEqual(['127.0.0.1:40000']);
    expect([c.mqtt.tcp_port, c.mqtt.tls_port, c.mqtt.ws_port, c.mqtt.wss_port]).toEqual([-1, -1, -1, -1]);
    expect(c.admin).toEqual({ host: '127.0.0.1', http_port: 0 });
    expect(c.grpc_port).toBe(0);
    expect(c.mqtt.host).toBe('127.0.0.1');
    expect(c.cluster.advertise_host).toBe('127.0.0.1');
    expect(c.storage.journal.shard_prefix).toBe('site-w2');
    // The operator's config is untouched (it is frozen; the worker's is a copy).
    expect(base.node_id).toBe(10);
    expect(base.mqtt.tcp_port).toBe(1883);
  });

  it('with an external placement group, links use consecutive ports from grpc_port on the configured host', () => {
    const ext = load('workers=2', 'grpc_port=1300', 'mqtt.host=10.0.0.5', 'cluster.advertise_host=10.0.0.5');
    const c = workerConfig(ext, 2, { addrs: ['10.0.0.1:1228'], embedded: false });
    expect(c.grpc_port).toBe(1301);
    expect(c.mqtt.host).toBe('10.0.0.5');
    expect(c.cluster.advertise_host).toBe('10.0.0.5');
    expect(() => workerConfig(load('workers=2', 'grpc_port=65535'), 2, { addrs: ['a:1'], embedded: false })).toThrow(RangeError);
  });

  it('keeps admin off in the workers when it is off, and refuses index 0', () => {
    expect(workerConfig(load('admin.http_port=-1'), 1, { addrs: ['a:1'], embedded: true }).admin.http_port).toBe(-1);
    expect(() => workerConfig(base, 0, { addrs: ['a:1'], embedded: true })).toThrow(RangeError);
  });

  it('the primary binds the listeners startBroker would (TLS ones only with certificate files)', () => {
    expect(enabledKinds(load('mqtt.tcp_port=0', 'mqtt.ws_port=-1')).map((k) => k.kind)).toEqual(['mqtt-tcp']);
    expect(enabledKinds(load('tls.cert_file=a', 'tls.key_file=b')).map((k) => k.kind)).toEqual(['mqtt-tcp', 'mqtt-tls', 'mqtt-ws', 'mqtt-wss']);
  });
});

describe('pickWorker (admin port)', () => {
  const pool = (ready: number[]) => ({
    size: 3,
    adminPort: (i?: number) => {
      const w = i === undefined ? ready[0] : ready.find((r) => r === i);
      return w === undefined ? null : { worker: w, port: 9000 + w };
    },
  });
  const code = (fn: () => unknown): string => {
    try {
      fn();
    } catch (err: unknown) {
      if (err instanceof CodedError) return err.code;
    }
    return 'none';
  };

  it('takes ?worker=i, else the first ready worker', () => {
    expect(pickWorker(pool([2, 3]), null)).toEqual({ worker: 2, port: 9002 });
    expect(pickWorker(pool([2, 3]), '3')).toEqual({ worker: 3, port: 9003 });
  });

  it('answers a bad, unknown or restarting worker with a typed error', () => {
    expect(code(() => pickWorker(pool([1]), 'x'))).toBe('BR_ADMIN_BAD_REQUEST');
    expect(code(() => pickWorker(pool([1]), '0'))).toBe('BR_ADMIN_BAD_REQUEST');
    expect(code(() => pickWorker(pool([1]), '4'))).toBe('BR_ADMIN_NOT_FOUND');
    expect(code(() => pickWorker(pool([1]), '2'))).toBe('BR_ADMIN_INTERNAL');
    expect(code(() => pickWorker(pool([]), null))).toBe('BR_ADMIN_INTERNAL');
  });
});
