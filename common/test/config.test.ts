import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { parse } from 'smol-toml';
import { afterAll, describe, expect, it } from 'vitest';
import {
  brokerSchema,
  bytes,
  ConfigError,
  configDefaults,
  duration,
  flattenSchema,
  formatBytes,
  formatDuration,
  int,
  journalSchema,
  loadConfig,
  oneOf,
  parseBytes,
  parseDuration,
  parseSetOverride,
  placementSchema,
  port,
  bool,
  str,
  stringList,
  hostPort,
  type BrokerConfig,
  type ConfigSchema,
} from '../config/index.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'config-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err: unknown) {
    if (err instanceof ConfigError) return err.problems.map((p) => `${p.path}: ${p.message}`);
    throw err;
  }
  throw new Error('expected a ConfigError');
}

function writeToml(name: string, text: string): string {
  const file = join(tmp, name);
  writeFileSync(file, text);
  return file;
}

/** A schema with one field of every kind, to test kinds in isolation from the services. */
const kinds = {
  count: int({ default: 5, min: 1, max: 10, doc: 'int' }),
  listen: port({ default: 1883, doc: 'port' }),
  flag: bool({ default: false, doc: 'bool' }),
  name: str({ default: 'x', doc: 'string' }),
  mode: oneOf({ values: ['a', 'b'], default: 'a', doc: 'enum' }),
  peers: stringList({ default: [], item: hostPort, doc: 'list' }),
  timeout: duration({ default: '30s', minMs: 1, doc: 'duration' }),
  size: bytes({ default: '1KB', min: 2, max: 268435455, doc: 'bytes' }),
  nested: { deep: { value: int({ default: 0, doc: 'deep int' }) } },
} satisfies ConfigSchema;

describe('broker defaults', () => {
  it('match the documented defaults', () => {
    const c: BrokerConfig = configDefaults(brokerSchema);
    expect(c.node_id).toBe(1);
    expect(c.cluster_name).toBe('robustmq');
    expect(c.data_dir).toBe('./data');
    expect(c.grpc_port).toBe(1229);
    expect(c.placement.addrs).toEqual([]);
    expect(c.mqtt).toEqual({
      host: '0.0.0.0',
      tcp_port: 1883,
      tls_port: 8883,
      ws_port: 8083,
      wss_port: 8084,
      quic_port: 14567,
      ws_path: '/mqtt',
      max_packet_size: 10 * 1024 * 1024,
      max_qos: 2,
      retain_available: true,
      wildcard_subscription_available: true,
      subscription_identifier_available: true,
      shared_subscription_available: true,
      topic_alias_maximum: 65535,
      receive_maximum: 65535,
      max_inflight_outbound: 1024,
      server_keep_alive: 0,
      max_keep_alive: 65535,
      max_session_expiry_interval: 4294967295,
      v3_session_expiry_interval: 4294967295,
      max_client_id_length: 65535,
      max_topic_length: 65535,
      max_topic_levels: 128,
      connect_timeout: 10_000,
      max_subscriptions_per_client: 0,
    });
    expect(c.offline_message).toEqual({ enable: true, max_queue: 10000, queue_qos0: false, overflow: 'drop_oldest' });
    expect(c.shared_subscription.strategy).toBe('round_robin');
    expect(c.tls).toEqual({ cert_file: '', key_file: '', ca_file: '', require_client_cert: false });
    expect(c.admin).toEqual({ host: '0.0.0.0', http_port: 8080 });
    expect(c.storage).toEqual({
      driver: 'auto',
      leveldb: { sync: false },
      mysql: { url: '' },
      s3: { endpoint: '', bucket: '', access_key: '', secret_key: '' },
      journal: { addrs: [], shard_prefix: '', acks: 'quorum', replicas: 1 },
    });
    expect(c.log.level).toBe('info');
  });

  it('placement and journal defaults', () => {
    const p = configDefaults(placementSchema);
    expect(p).toEqual({
      node_id: 1,
      cluster_name: 'robustmq',
      data_dir: './data',
      grpc_port: 1228,
      raft: { peers: ['1@127.0.0.1:1228'] },
      log: { level: 'info' },
    });
    const j = configDefaults(journalSchema);
    expect(j.grpc_port).toBe(1778);
    expect(j.placement.addrs).toEqual(['127.0.0.1:1228']);
  });
});

describe('shipped config files', () => {
  for (const [file, schema] of [
    ['config/broker.toml', brokerSchema],
    ['config/placement.toml', placementSchema],
    ['config/journal.toml', journalSchema],
  ] as const) {
    it(`${file} validates, lists every key and holds the schema defaults`, () => {
      const path = join(root, file);
      const fromFile = loadConfig(schema as ConfigSchema, { file: path });
      expect(fromFile).toEqual(configDefaults(schema as ConfigSchema));
      const listed = flattenKeys(parse(readFileSync(path, 'utf8')) as Record<string, unknown>);
      expect(listed.sort()).toEqual(flattenSchema(schema).map((e) => e.path).sort());
    });
  }
});

function flattenKeys(table: Record<string, unknown>, prefix = ''): string[] {
  return Object.entries(table).flatMap(([k, v]) => {
    const path = prefix === '' ? k : `${prefix}.${k}`;
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? flattenKeys(v as Record<string, unknown>, path) : [path];
  });
}

describe('field kinds', () => {
  const set = (...sets: string[]) => loadConfig(kinds, { sets });

  it('int: accepts the range, refuses outside, floats and strings', () => {
    expect(set('count=1').count).toBe(1);
    expect(set('count=10').count).toBe(10);
    expect(problemsOf(() => set('count=0'))).toEqual(['count: expected an integer 1..10, got 0 (from --set)']);
    expect(problemsOf(() => set('count=11'))).toEqual(['count: expected an integer 1..10, got 11 (from --set)']);
    expect(problemsOf(() => set('count=2.5'))).toEqual(['count: expected an integer 1..10, got 2.5 (from --set)']);
    expect(problemsOf(() => set('count=many'))).toEqual(['count: expected an integer 1..10, got "many" (from --set)']);
    expect(problemsOf(() => set('nested.deep.value=-1'))).toEqual(['nested.deep.value: expected an integer >= 0, got -1 (from --set)']);
  });

  it('port: 0..65535 and -1 (disabled)', () => {
    expect(set('listen=0').listen).toBe(0);
    expect(set('listen=-1').listen).toBe(-1);
    expect(set('listen=65535').listen).toBe(65535);
    for (const bad of ['65536', '-2', '1.5', '"1883"', 'abc']) {
      expect(problemsOf(() => set(`listen=${bad}`))[0]).toMatch(/^listen: expected an integer port 0\.\.65535 or -1 \(disabled\), got /);
    }
  });

  it('port error names the key path as the contract shows', () => {
    expect(problemsOf(() => loadConfig(brokerSchema, { sets: ['mqtt.tcp_port=abc'] }))).toEqual([
      'mqtt.tcp_port: expected an integer port 0..65535 or -1 (disabled), got "abc" (from --set)',
    ]);
  });

  it('bool: only true and false', () => {
    expect(set('flag=true').flag).toBe(true);
    expect(set('flag=false').flag).toBe(false);
    expect(problemsOf(() => set('flag=yes'))).toEqual(['flag: expected true or false, got "yes" (from --set)']);
    expect(problemsOf(() => loadConfig(kinds, { values: { flag: 1 } }))).toEqual(['flag: expected true or false, got 1']);
  });

  it('string: from a file only strings; patterns apply', () => {
    expect(loadConfig(kinds, { values: { name: 'y' } }).name).toBe('y');
    expect(problemsOf(() => loadConfig(kinds, { values: { name: 5 } }))).toEqual(['name: expected a string, got 5']);
    expect(problemsOf(() => loadConfig(brokerSchema, { sets: ['mqtt.ws_path=mqtt'] }))).toEqual([
      'mqtt.ws_path: expected a path starting with "/", got "mqtt" (from --set)',
    ]);
  });

  it('enum: one of the values', () => {
    expect(set('mode=b').mode).toBe('b');
    expect(problemsOf(() => set('mode=c'))).toEqual(['mode: expected one of "a", "b", got "c" (from --set)']);
    expect(problemsOf(() => loadConfig(brokerSchema, { sets: ['storage.driver=redis'] }))).toEqual([
      'storage.driver: expected one of "auto", "memory", "leveldb", "journal", "mysql", "s3", got "redis" (from --set)',
    ]);
  });

  it('string-list: items are checked one by one', () => {
    expect(set('peers=["a:1","b.example:65535"]').peers).toEqual(['a:1', 'b.example:65535']);
    expect(set('peers=[]').peers).toEqual([]);
    expect(problemsOf(() => set('peers=["a:1", "nope", 3]'))).toEqual([
      'peers[1]: expected "host:port", got "nope" (from --set)',
      'peers[2]: expected a string, got 3 (from --set)',
    ]);
    expect(problemsOf(() => loadConfig(kinds, { values: { peers: 'a:1' } }))).toEqual(['peers: expected a list of strings, got "a:1"']);
    expect(problemsOf(() => set('peers=["a:0"]'))).toEqual(['peers[0]: expected "host:port", got "a:0" (from --set)']);
    expect(set('peers=["[::1]:1228"]').peers).toEqual(['[::1]:1228']);
  });

  it('raft peers are id@host:port', () => {
    expect(loadConfig(placementSchema, { sets: ['raft.peers=["1@a:1228","2@b:1228"]'] }).raft.peers).toHaveLength(2);
    expect(problemsOf(() => loadConfig(placementSchema, { sets: ['raft.peers=["a:1228"]'] }))).toEqual([
      'raft.peers[0]: expected "id@host:port", got "a:1228" (from --set)',
    ]);
  });

  it('duration: units, integer seconds, milliseconds out', () => {
    expect(set('timeout="30s"').timeout).toBe(30_000);
    expect(set('timeout=1m').timeout).toBe(60_000);
    expect(set('timeout=5m').timeout).toBe(300_000);
    expect(set('timeout=1h').timeout).toBe(3_600_000);
    expect(set('timeout=250ms').timeout).toBe(250);
    expect(set('timeout=1h30m').timeout).toBe(5_400_000);
    expect(set('timeout=45').timeout).toBe(45_000);
    expect(problemsOf(() => set('timeout=soon'))).toEqual([
      'timeout: expected a duration like "30s", "5m", "1h", "250ms" or integer seconds, got "soon" (from --set)',
    ]);
    expect(problemsOf(() => set('timeout=0'))).toEqual(['timeout: expected a duration >= 1ms, got 0 (from --set)']);
    expect(problemsOf(() => set('timeout=-3'))[0]).toMatch(/^timeout: expected a duration like/);
  });

  it('bytes: units, integers, the MQTT maximum', () => {
    expect(set('size="10MB"').size).toBe(10 * 1024 * 1024);
    expect(set('size=256KB').size).toBe(256 * 1024);
    expect(set('size=1000').size).toBe(1000);
    expect(set('size=268435455').size).toBe(268435455);
    expect(problemsOf(() => set('size=256MB'))).toEqual([
      'size: expected a size 2..268435455 bytes, got "256MB" (268435456 bytes) (from --set)',
    ]);
    expect(problemsOf(() => set('size=lots'))).toEqual([
      'size: expected a size like "256KB", "10MB" or an integer number of bytes, got "lots" (from --set)',
    ]);
  });

  it('durations and sizes round-trip through their formatters', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10_000_000_000 }), (ms) => parseDuration(formatDuration(ms)) === ms),
    );
    fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 40 }), (n) => parseBytes(formatBytes(n)) === n));
  });
});

describe('--set parsing', () => {
  it('reads TOML values when the text is one, else a bare string', () => {
    expect(parseSetOverride('mqtt.tcp_port=1883')).toMatchObject({ path: 'mqtt.tcp_port', value: 1883, isToml: true });
    expect(parseSetOverride('a=true')).toMatchObject({ value: true });
    expect(parseSetOverride('a=["a:1","b:2"]')).toMatchObject({ value: ['a:1', 'b:2'] });
    expect(parseSetOverride('a="x"')).toMatchObject({ value: 'x' });
    expect(parseSetOverride('data_dir=/tmp/d')).toMatchObject({ path: 'data_dir', value: '/tmp/d', isToml: false });
    expect(parseSetOverride('a=b=c')).toMatchObject({ path: 'a', value: 'b=c' });
    expect(parseSetOverride('a=')).toMatchObject({ value: '', isToml: false });
  });

  it('does not let a value smuggle in more keys', () => {
    expect(parseSetOverride('a=1\nb = 2')).toMatchObject({ value: '1\nb = 2', isToml: false });
  });

  it('refuses malformed arguments', () => {
    expect(problemsOf(() => loadConfig(kinds, { sets: ['count'] }))).toEqual(['--set: --set "count": expected key.path=value']);
    expect(problemsOf(() => loadConfig(kinds, { sets: ['a..b=1'] }))[0]).toMatch(/is not a key path/);
  });

  it('works end to end on the broker schema', () => {
    const c = loadConfig(brokerSchema, {
      sets: ['data_dir=/tmp/d', 'mqtt.tcp_port=0', 'mqtt.retain_available=false', 'placement.addrs=["a:1","b:2"]', 'log.level=debug'],
    });
    expect(c.data_dir).toBe('/tmp/d');
    expect(c.mqtt.tcp_port).toBe(0);
    expect(c.mqtt.retain_available).toBe(false);
    expect(c.placement.addrs).toEqual(['a:1', 'b:2']);
    expect(c.log.level).toBe('debug');
  });

  it('string fields take the text as typed; lists take comma-separated text', () => {
    const c = loadConfig(brokerSchema, { sets: ['cluster_name=2024', 'placement.addrs=10.0.0.1:1228, 10.0.0.2:1228'] });
    expect(c.cluster_name).toBe('2024');
    expect(c.placement.addrs).toEqual(['10.0.0.1:1228', '10.0.0.2:1228']);
    expect(loadConfig(brokerSchema, { sets: ['placement.addrs='] }).placement.addrs).toEqual([]);
  });

  it('later --set wins over earlier ones, the file and values', () => {
    const file = writeToml('override.toml', '[mqtt]\ntcp_port = 1\n');
    const c = loadConfig(brokerSchema, { file, values: { mqtt: { tcp_port: 2 } }, sets: ['mqtt.tcp_port=3', 'mqtt.tcp_port=4'] });
    expect(c.mqtt.tcp_port).toBe(4);
    expect(loadConfig(brokerSchema, { file, values: { mqtt: { tcp_port: 2 } } }).mqtt.tcp_port).toBe(2);
    expect(loadConfig(brokerSchema, { file }).mqtt.tcp_port).toBe(1);
  });
});

describe('unknown keys and structure', () => {
  it('an unknown --set key is named', () => {
    expect(problemsOf(() => loadConfig(brokerSchema, { sets: ['bogus.key=1'] }))).toEqual(['bogus.key: unknown key (from --set)']);
  });

  it('suggests the key that was probably meant', () => {
    expect(problemsOf(() => loadConfig(brokerSchema, { sets: ['mqtt.tcp_prot=1'] }))).toEqual([
      'mqtt.tcp_prot: unknown key (did you mean mqtt.tcp_port?) (from --set)',
    ]);
    expect(problemsOf(() => loadConfig(brokerSchema, { values: { tcp_port: 1 } }))).toEqual(['tcp_port: unknown key (did you mean mqtt.tcp_port?)']);
  });

  it('unknown keys in a file, at any depth', () => {
    const file = writeToml('unknown.toml', 'colour = "red"\n[mqtt]\ntcp_port = 1\nflavour = 2\n[nope]\nx = 1\n');
    expect(problemsOf(() => loadConfig(brokerSchema, { file }))).toEqual([
      'colour: unknown key',
      'mqtt.flavour: unknown key',
      'nope: unknown key',
    ]);
  });

  it('a section given a value, and a key given a table', () => {
    expect(problemsOf(() => loadConfig(brokerSchema, { values: { mqtt: 5 } }))[0]).toMatch(/^mqtt: expected a table of settings \(host, tcp_port, /);
    expect(problemsOf(() => loadConfig(brokerSchema, { values: { node_id: { a: 1 } } }))).toEqual([
      'node_id: expected an integer >= 0, got a table',
    ]);
    expect(problemsOf(() => loadConfig(brokerSchema, { sets: ['mqtt=1'] }))).toEqual([
      'mqtt: is a section, not a key; set one of its keys, e.g. mqtt.host (from --set)',
    ]);
  });

  it('lists every problem at once, each with its full key path', () => {
    const file = writeToml('many.toml', 'node_id = -1\n[mqtt]\nmax_qos = 3\nws_port = "x"\n[storage]\ndriver = "tape"\n');
    let error: ConfigError | undefined;
    try {
      loadConfig(brokerSchema, { file, sets: ['bogus.key=1', 'offline_message.overflow=drop_all', 'mqtt.connect_timeout=never'] });
    } catch (err: unknown) {
      error = err as ConfigError;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(error!.code).toBe('CFG_INVALID');
    expect(error!.problems.map((p) => p.path).sort()).toEqual(
      ['bogus.key', 'mqtt.connect_timeout', 'mqtt.max_qos', 'mqtt.ws_port', 'node_id', 'offline_message.overflow', 'storage.driver'].sort(),
    );
    expect(error!.message.split('\n')[0]).toBe(`invalid configuration (${file}), 7 problems:`);
    for (const p of error!.problems) expect(error!.message).toContain(`  ${p.path}: ${p.message}`);
  });

  it('a missing or malformed file is CFG_FILE_UNREADABLE, with the other problems too', () => {
    let error: ConfigError | undefined;
    try {
      loadConfig(brokerSchema, { file: join(tmp, 'absent.toml'), sets: ['mqtt.tcp_port=x'] });
    } catch (err: unknown) {
      error = err as ConfigError;
    }
    expect(error!.code).toBe('CFG_FILE_UNREADABLE');
    expect(error!.problems.map((p) => `${p.path}: ${p.message}`)).toEqual([
      `--config: cannot read ${join(tmp, 'absent.toml')}: no such file`,
      'mqtt.tcp_port: expected an integer port 0..65535 or -1 (disabled), got "x" (from --set)',
    ]);
    const bad = writeToml('bad.toml', 'node_id = = 1\n');
    expect(problemsOf(() => loadConfig(brokerSchema, { file: bad }))[0]).toMatch(/^--config: .*bad\.toml is not valid TOML at line 1, column \d+/);
  });

  it('TOML dates are refused with a readable description', () => {
    const file = writeToml('date.toml', 'cluster_name = 2024-01-01\n');
    expect(problemsOf(() => loadConfig(brokerSchema, { file }))[0]).toMatch(/^cluster_name: expected a .*, got a date \(2024-01-01/);
  });
});

describe('cross-field checks', () => {
  it('TLS files go together; client certs need a CA; drivers need their settings', () => {
    expect(problemsOf(() => loadConfig(brokerSchema, { sets: ['tls.cert_file=/c.pem'] }))).toEqual([
      'tls.key_file: tls.cert_file and tls.key_file must be set together',
    ]);
    expect(problemsOf(() => loadConfig(brokerSchema, { sets: ['tls.require_client_cert=true'] }))[0]).toMatch(/^tls\.ca_file: required when/);
    expect(problemsOf(() => loadConfig(brokerSchema, { sets: ['storage.driver=mysql'] }))).toEqual([
      'storage.mysql.url: required when storage.driver = "mysql"',
    ]);
    expect(problemsOf(() => loadConfig(brokerSchema, { sets: ['storage.driver=s3'] }))).toEqual([
      'storage.s3.endpoint: required when storage.driver = "s3"',
      'storage.s3.bucket: required when storage.driver = "s3"',
    ]);
    const ok = loadConfig(brokerSchema, { sets: ['storage.driver=s3', 'storage.s3.endpoint=http://minio:9000', 'storage.s3.bucket=b'] });
    expect(ok.storage.s3.endpoint).toBe('http://minio:9000');
  });
});

describe('the result', () => {
  it('is deeply frozen', () => {
    const c = loadConfig(brokerSchema, { sets: ['placement.addrs=["a:1"]'] });
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.mqtt)).toBe(true);
    expect(Object.isFrozen(c.storage.s3)).toBe(true);
    expect(Object.isFrozen(c.placement.addrs)).toBe(true);
    expect(() => {
      (c.mqtt as { tcp_port: number }).tcp_port = 1;
    }).toThrow(TypeError);
    expect(() => (c.placement.addrs as string[]).push('b:2')).toThrow(TypeError);
  });

  it('has exactly the schema keys and no more', () => {
    const c = configDefaults(brokerSchema);
    expect(flattenKeys(c as unknown as Record<string, unknown>).sort()).toEqual(flattenSchema(brokerSchema).map((e) => e.path).sort());
  });

  it('does not share arrays with the defaults or the input', () => {
    const input = { placement: { addrs: ['a:1'] } };
    const c = loadConfig(brokerSchema, { values: input });
    input.placement.addrs.push('b:2');
    expect(c.placement.addrs).toEqual(['a:1']);
    expect(configDefaults(placementSchema).raft.peers).not.toBe(placementSchema.raft.peers.spec.default);
  });
});
