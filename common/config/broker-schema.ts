// The MQTT broker's configuration: schema (keys, defaults, constraints, docs) and typed shape.
// config/broker.toml lists the same keys with the same defaults; a test keeps them in step.

import type { LogLevel } from '../log.js';
import { bool, bytes, crossChecks, duration, hostPort, int, oneOf, port, str, stringList, tableList, type Assert, type ConfigOf, type CrossCheckProblem, type Equal } from './schema.js';
import { logKeys, serviceKeys } from './service-keys.js';

const U16 = 65535;
const U32 = 4294967295;
/** Largest Remaining Length plus fixed header is bounded by the variable byte integer (MQTT 2.2.3). */
const MQTT_MAX_PACKET = 268435455;

export const storageDrivers = ['auto', 'memory', 'leveldb', 'journal', 'mysql', 's3'] as const;
export type StorageDriverName = (typeof storageDrivers)[number];

export const journalAcks = ['1', 'quorum', 'all'] as const;
/** Journal shard names are directory names: [A-Za-z0-9_.-], not starting with "."; the driver appends ".<generation>". */
const journalShardPrefix = { test: (v: string) => v === '' || /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,180}$/.test(v), expected: 'up to 181 of A-Z a-z 0-9 _ . - not starting with "."' };

export const sharedSubscriptionStrategies = ['round_robin', 'random', 'sticky'] as const;
export type SharedSubscriptionStrategy = (typeof sharedSubscriptionStrategies)[number];

export const offlineOverflowPolicies = ['drop_oldest', 'drop_new'] as const;
export type OfflineOverflowPolicy = (typeof offlineOverflowPolicies)[number];

const nonEmpty = { test: (v: string) => v.length > 0, expected: 'a non-empty string' };

export const authSourceTypes = ['built_in', 'mysql', 'redis', 'jwt', 'scram'] as const;
export type AuthSourceType = (typeof authSourceTypes)[number];
export const aclSourceTypes = ['built_in', 'mysql', 'redis'] as const;
export type AclSourceType = (typeof aclSourceTypes)[number];
export const passwordHashNames = ['plain', 'sha256', 'sha512', 'pbkdf2', 'bcrypt'] as const;
export type PasswordHashName = (typeof passwordHashNames)[number];
export const saltPositions = ['prefix', 'suffix', 'disable'] as const;
export type SaltPositionName = (typeof saltPositions)[number];

const backendKeys = {
  enable: bool({ default: true, doc: 'false skips this source.' }),
  url: str({ default: '', doc: 'mysql://user:pass@host:port/db or redis://[:pass@]host:port/db (mysql and redis sources).' }),
  query: str({ default: '', doc: 'MySQL query with ${username} / ${clientid} / ${peerhost} placeholders, bound as parameters ("" = the EMQX-compatible default).' }),
  cmd: str({ default: '', doc: 'Redis command with placeholders, e.g. "HMGET mqtt_user:${username} password_hash salt is_superuser" ("" = the default).' }),
  timeout: duration({ default: '5s', minMs: 1, doc: 'A backend that does not answer within this time counts as down (fail closed).' }),
};

const authChainItem = {
  type: oneOf({ values: authSourceTypes, default: 'built_in', doc: 'built_in | mysql | redis | jwt | scram (MQTT 5 enhanced authentication SCRAM-SHA-256).' }),
  ...backendKeys,
  password_hash: {
    name: oneOf({ values: passwordHashNames, default: 'pbkdf2', doc: 'plain | sha256 | sha512 | pbkdf2 | bcrypt.' }),
    salt_position: oneOf({ values: saltPositions, default: 'prefix', doc: 'sha256/sha512: salt + password (prefix), password + salt (suffix), or no salt (disable).' }),
    iterations: int({ default: 100000, min: 1, doc: 'pbkdf2 iterations.' }),
    mac_fun: oneOf({ values: ['sha256', 'sha512'], default: 'sha256', doc: 'pbkdf2 pseudo-random function.' }),
    dk_length: int({ default: 32, min: 0, max: 1024, doc: 'pbkdf2 derived key bytes (0 = digest size).' }),
    salt_rounds: int({ default: 10, min: 4, max: 31, doc: 'bcrypt cost for new built-in users.' }),
  },
  secret: str({ default: '', doc: 'jwt: HMAC secret (HS256/HS384/HS512).' }),
  secret_base64_encoded: bool({ default: false, doc: 'jwt: the secret is base64.' }),
  public_key_file: str({ default: '', doc: 'jwt: PEM public key for RS256/RS384/RS512.' }),
  from: oneOf({ values: ['password', 'username'], default: 'password', doc: 'jwt: the CONNECT field that carries the token.' }),
  verify_claims: stringList({ default: [], doc: 'jwt: "claim=value" checks, value may use ${username} / ${clientid}.' }),
  iterations: int({ default: 4096, min: 1, doc: 'scram: PBKDF2 iterations of the SCRAM credentials made for new built-in users.' }),
};

const aclChainItem = {
  type: oneOf({ values: aclSourceTypes, default: 'built_in', doc: 'built_in | mysql | redis.' }),
  ...backendKeys,
};


export const brokerSchema = {
  ...serviceKeys(1229),
  workers: int({
    default: 1,
    min: 0,
    max: 1024,
    doc: 'Broker processes behind the same MQTT ports (1 = one process; 0 = one per CPU core); they route to each other as a cluster does (broker/workers/).',
  }),
  placement: {
    addrs: stringList({
      default: [],
      item: hostPort,
      doc: 'Placement center addresses ("host:port"); empty = standalone with embedded placement and journal.',
    }),
  },
  mqtt: {
    host: str({ default: '0.0.0.0', pattern: nonEmpty, doc: 'Address every MQTT listener binds.' }),
    tcp_port: port({ default: 1883, doc: 'MQTT over TCP (0 = any free port, -1 = disabled).' }),
    tls_port: port({ default: 8883, doc: 'MQTT over TLS; listens only when tls.cert_file and tls.key_file are set.' }),
    ws_port: port({ default: 8083, doc: 'MQTT over WebSocket, on mqtt.ws_path.' }),
    wss_port: port({ default: 8084, doc: 'MQTT over secure WebSocket, on mqtt.ws_path; needs the tls.* files.' }),
    quic_port: port({ default: 14567, doc: 'MQTT over QUIC (reserved; no QUIC listener is built yet).' }),
    ws_path: str({
      default: '/mqtt',
      pattern: { test: (v) => v.startsWith('/'), expected: 'a path starting with "/"' },
      doc: 'HTTP path of the WebSocket and secure WebSocket listeners.',
    }),
    max_packet_size: bytes({
      default: '10MB',
      min: 2,
      max: MQTT_MAX_PACKET,
      doc: 'Largest whole packet accepted from a client, in bytes (larger: 0x95 and close); sent as Maximum Packet Size in v5 CONNACK.',
    }),
    max_qos: int<0 | 1 | 2>({ default: 2, min: 0, max: 2, doc: 'Highest QoS the broker grants and accepts (v5 CONNACK Maximum QoS).' }),
    retain_available: bool({ default: true, doc: 'Whether retained messages are supported.' }),
    wildcard_subscription_available: bool({ default: true, doc: 'Whether filters with + and # are accepted.' }),
    subscription_identifier_available: bool({ default: true, doc: 'Whether v5 subscription identifiers are accepted.' }),
    shared_subscription_available: bool({ default: true, doc: 'Whether $share/{group}/{filter} and $queue/{filter} are accepted.' }),
    topic_alias_maximum: int({ default: U16, min: 0, max: U16, doc: 'Topic aliases a v5 client may use towards the broker (0 = none).' }),
    receive_maximum: int({
      default: U16,
      min: 1,
      max: U16,
      doc: 'Unacknowledged inbound QoS 1/2 PUBLISH packets the broker accepts per client (v5 CONNACK Receive Maximum).',
    }),
    max_inflight_outbound: int({
      default: 1024,
      min: 1,
      max: U16,
      doc: "Cap on unacknowledged outbound QoS 1/2 messages per client, also bounded by the client's Receive Maximum.",
    }),
    server_keep_alive: int({ default: 0, min: 0, max: U16, doc: "Keep alive (seconds) imposed on v5 clients; 0 = accept the client's." }),
    max_keep_alive: int({ default: U16, min: 0, max: U16, doc: 'Largest keep alive (seconds) the broker accepts; larger requests are lowered.' }),
    max_session_expiry_interval: int({ default: U32, min: 0, max: U32, doc: 'Largest v5 session expiry interval (seconds) honoured.' }),
    v3_session_expiry_interval: int({
      default: U32,
      min: 0,
      max: U32,
      doc: 'Seconds an offline v3 clean_session=0 session is kept (4294967295 = forever).',
    }),
    max_client_id_length: int({ default: U16, min: 23, max: U16, doc: 'Longest client identifier accepted (the spec requires at least 23).' }),
    max_topic_length: int({ default: U16, min: 1, max: U16, doc: 'Longest topic name or filter accepted, in UTF-8 bytes.' }),
    max_topic_levels: int({ default: 128, min: 1, max: U16, doc: 'Most "/"-separated levels in a topic name or filter.' }),
    connect_timeout: duration({
      default: '10s',
      minMs: 1,
      doc: 'Close a connection that has not sent CONNECT within this time.',
    }),
    max_subscriptions_per_client: int({ default: 0, min: 0, doc: 'Most subscriptions one session may hold (0 = unlimited).' }),
  },
  offline_message: {
    enable: bool({ default: true, doc: 'Queue QoS 1/2 messages for offline persistent sessions.' }),
    max_queue: int({ default: 10000, min: 1, doc: 'Most messages queued per offline session.' }),
    queue_qos0: bool({ default: false, doc: 'Also queue QoS 0 messages for offline sessions.' }),
    overflow: oneOf({
      values: offlineOverflowPolicies,
      default: 'drop_oldest',
      doc: 'When the queue is full: drop_oldest (make room) or drop_new (refuse the new message).',
    }),
  },
  cluster: {
    advertise_host: str({
      default: '127.0.0.1',
      pattern: nonEmpty,
      doc: 'Host the other brokers dial for this broker\'s inter-broker link (on grpc_port); registered in placement.',
    }),
    heartbeat_timeout: duration({
      default: '10s',
      minMs: 100,
      doc: 'Placement marks this broker dead after this long without a heartbeat (heartbeats go 4 times as often).',
    }),
    max_unacked_bytes: bytes({
      default: '16MB',
      min: 1024,
      doc: 'Forwarded bytes one link may have unacknowledged before the publishers feeding it are paused.',
    }),
    takeover_timeout: duration({ default: '5s', minMs: 1, doc: 'How long a CONNECT waits for another broker to hand its session over.' }),
  },
  shared_subscription: {
    strategy: oneOf({
      values: sharedSubscriptionStrategies,
      default: 'round_robin',
      doc: 'How a shared subscription group picks the member for a message: round_robin, random or sticky.',
    }),
  },
  tls: {
    cert_file: str({ default: '', doc: 'PEM certificate chain for the TLS and WSS listeners ("" = those listeners stay off).' }),
    key_file: str({ default: '', doc: 'PEM private key for tls.cert_file.' }),
    ca_file: str({ default: '', doc: 'PEM CA bundle; when set, client certificates are requested and verified against it.' }),
    require_client_cert: bool({ default: false, doc: 'Refuse TLS clients without a valid certificate (needs tls.ca_file).' }),
  },
  admin: {
    host: str({ default: '0.0.0.0', pattern: nonEmpty, doc: 'Address the admin HTTP API binds.' }),
    http_port: port({ default: 8080, doc: 'Admin HTTP API: /health, /api/..., /metrics (0 = any free port, -1 = disabled).' }),
  },
  storage: {
    driver: oneOf({
      values: storageDrivers,
      default: 'auto',
      doc: 'Where sessions, subscriptions, queued, in-flight and retained messages persist: auto, memory, leveldb, journal, mysql or s3. auto = leveldb on a standalone broker; in a cluster journal (storage.journal.addrs, else the journal nodes registered in placement, each shard on up to 3 of them), leveldb when there is none.',
    }),
    leveldb: {
      sync: bool({
        default: false,
        doc: 'fsync every batch; false still survives a process kill (kill -9), not a power loss.',
      }),
    },
    mysql: {
      url: str({ default: '', doc: 'mysql://user:password@host:port/database, for storage.driver = "mysql".' }),
    },
    s3: {
      endpoint: str({ default: '', doc: 'S3-compatible endpoint URL, for storage.driver = "s3".' }),
      bucket: str({ default: '', doc: 'Bucket that holds the broker objects.' }),
      access_key: str({ default: '', doc: 'Access key id.' }),
      secret_key: str({ default: '', doc: 'Secret access key.' }),
    },
    journal: {
      addrs: stringList({
        default: [],
        item: hostPort,
        doc: 'Journal nodes ("host:port") for storage.driver = "journal"; empty = a journal embedded in the broker under <data_dir>/journal.',
      }),
      shard_prefix: str({
        default: '',
        pattern: journalShardPrefix,
        doc: 'Name prefix of this broker\'s journal shards; one broker per prefix ("" = "broker-<node_id>").',
      }),
      acks: oneOf({ values: journalAcks, default: 'quorum', doc: 'Journal acks a write needs before the broker acknowledges: 1, quorum or all.' }),
      replicas: int({ default: 1, min: 1, max: 15, doc: 'Replicas of each journal shard the driver creates (at most the number of journal nodes).' }),
    },
  },
  auth: {
    allow_anonymous: bool({
      default: true,
      doc: 'Let in clients that send no username, password or authentication method. On for the standalone quick start; set false in production.',
    }),
    use_cert_cn_as_username: bool({ default: false, doc: "TLS/WSS: the verified client certificate's subject CN is the username." }),
    cache_ttl: duration({ default: '30s', minMs: 0, maxMs: 3_600_000, doc: 'How long a successful password check (and MySQL/Redis ACL rules) is cached (0 = no cache).' }),
    chain: tableList({
      item: authChainItem,
      default: [{ type: 'built_in' }],
      doc: 'Authentication sources, tried in order; the first source that knows the user decides.',
    }),
  },
  acl: {
    no_match: oneOf({ values: ['allow', 'deny'], default: 'allow', doc: 'Result when no ACL rule matches (allow for the quick start; deny in production).' }),
    deny_action: oneOf({ values: ['ignore', 'disconnect'], default: 'ignore', doc: 'A denied PUBLISH/SUBSCRIBE: refuse it (ignore) or also close the connection (disconnect).' }),
    chain: tableList({ item: aclChainItem, default: [{ type: 'built_in' }], doc: 'ACL rule sources, read in order; the first matching rule wins.' }),
  },
  flapping_detect: {
    enable: bool({ default: true, doc: 'Ban a client id that connects too often.' }),
    window_time: duration({ default: '1m', minMs: 1, doc: 'Window in which connects of one client id are counted.' }),
    max_client_connections: int({ default: 15, min: 1, doc: 'More connects than this within window_time bans the client id.' }),
    ban_time: duration({ default: '5m', minMs: 1, doc: 'How long a flapping client id stays in the blacklist.' }),
  },
  rate_limit: {
    listener_connection_rate: int({ default: 0, min: 0, doc: 'New connections per second per listener (0 = unlimited); over it: CONNACK 0x97.' }),
    listener_connection_burst: int({ default: 0, min: 0, doc: 'Token bucket size for listener_connection_rate (0 = the rate).' }),
    client_message_rate: int({ default: 0, min: 0, doc: 'PUBLISH packets per second per client (0 = unlimited); over it: PUBACK/PUBREC 0x97 (v5).' }),
    client_message_burst: int({ default: 0, min: 0, doc: 'Token bucket size for client_message_rate (0 = the rate).' }),
    listener_message_rate: int({ default: 0, min: 0, doc: 'PUBLISH packets per second per listener (0 = unlimited).' }),
    listener_message_burst: int({ default: 0, min: 0, doc: 'Token bucket size for listener_message_rate (0 = the rate).' }),
  },
  log: logKeys(),
  [crossChecks]: checkBroker,
};

function checkBroker(c: BrokerConfig): CrossCheckProblem[] {
  const problems: CrossCheckProblem[] = [];
  if ((c.tls.cert_file === '') !== (c.tls.key_file === '')) {
    const missing = c.tls.cert_file === '' ? 'tls.cert_file' : 'tls.key_file';
    problems.push({ path: missing, message: 'tls.cert_file and tls.key_file must be set together' });
  }
  if (c.tls.require_client_cert && c.tls.ca_file === '') {
    problems.push({ path: 'tls.ca_file', message: 'required when tls.require_client_cert = true (client certificates are verified against it)' });
  }
  if (c.storage.driver === 'mysql' && c.storage.mysql.url === '') {
    problems.push({ path: 'storage.mysql.url', message: 'required when storage.driver = "mysql"' });
  }
  if (c.storage.driver === 's3') {
    for (const key of ['endpoint', 'bucket'] as const) {
      if (c.storage.s3[key] === '') problems.push({ path: `storage.s3.${key}`, message: 'required when storage.driver = "s3"' });
    }
  }
  c.auth.chain.forEach((item, i) => {
    const at = `auth.chain[${i}]`;
    if ((item.type === 'mysql' || item.type === 'redis') && item.url === '') problems.push({ path: `${at}.url`, message: `required for a ${item.type} source` });
    if (item.type === 'jwt' && item.secret === '' && item.public_key_file === '') {
      problems.push({ path: `${at}.secret`, message: 'a jwt source needs secret (HMAC) or public_key_file (RSA)' });
    }
  });
  c.acl.chain.forEach((item, i) => {
    if ((item.type === 'mysql' || item.type === 'redis') && item.url === '') problems.push({ path: `acl.chain[${i}].url`, message: `required for a ${item.type} source` });
  });
  if (c.workers !== 1) {
    // Each worker process is a broker with its own storage; these drivers hold one writer per database / key prefix.
    if (c.storage.driver === 'mysql' || c.storage.driver === 's3') {
      problems.push({ path: 'workers', message: `workers other than 1 needs storage.driver memory, leveldb or journal (${c.storage.driver} allows one broker per database or prefix)` });
    }
    if (c.grpc_port === -1) problems.push({ path: 'grpc_port', message: 'must not be -1 when workers is not 1 (the worker processes route to each other over their links)' });
  }
  if (c.auth.use_cert_cn_as_username && c.tls.ca_file === '') {
    problems.push({ path: 'tls.ca_file', message: 'required when auth.use_cert_cn_as_username = true (the certificate must be verified)' });
  }
  return problems;
}

interface BackendKeys {
  readonly enable: boolean;
  readonly url: string;
  readonly query: string;
  readonly cmd: string;
  /** milliseconds */
  readonly timeout: number;
}

/** One `[[auth.chain]]` entry. */
export interface AuthChainConfig extends BackendKeys {
  readonly type: AuthSourceType;
  readonly password_hash: {
    readonly name: PasswordHashName;
    readonly salt_position: SaltPositionName;
    readonly iterations: number;
    readonly mac_fun: 'sha256' | 'sha512';
    readonly dk_length: number;
    readonly salt_rounds: number;
  };
  readonly secret: string;
  readonly secret_base64_encoded: boolean;
  readonly public_key_file: string;
  readonly from: 'password' | 'username';
  readonly verify_claims: readonly string[];
  readonly iterations: number;
}

/** One `[[acl.chain]]` entry. */
export interface AclChainConfig extends BackendKeys {
  readonly type: AclSourceType;
}

/**
 * The broker's validated, deeply frozen configuration. Keys are the TOML keys unchanged
 * (snake_case). Durations are milliseconds, sizes are bytes, ports use 0 = any free port and
 * -1 = disabled.
 */
export interface BrokerConfig {
  readonly node_id: number;
  readonly cluster_name: string;
  readonly data_dir: string;
  readonly grpc_port: number;
  /** Broker processes behind the MQTT ports; 0 = one per CPU core. */
  readonly workers: number;
  readonly placement: { readonly addrs: readonly string[] };
  readonly mqtt: {
    readonly host: string;
    readonly tcp_port: number;
    readonly tls_port: number;
    readonly ws_port: number;
    readonly wss_port: number;
    readonly quic_port: number;
    readonly ws_path: string;
    /** bytes */
    readonly max_packet_size: number;
    readonly max_qos: 0 | 1 | 2;
    readonly retain_available: boolean;
    readonly wildcard_subscription_available: boolean;
    readonly subscription_identifier_available: boolean;
    readonly shared_subscription_available: boolean;
    readonly topic_alias_maximum: number;
    readonly receive_maximum: number;
    readonly max_inflight_outbound: number;
    /** seconds */
    readonly server_keep_alive: number;
    /** seconds */
    readonly max_keep_alive: number;
    /** seconds */
    readonly max_session_expiry_interval: number;
    /** seconds */
    readonly v3_session_expiry_interval: number;
    readonly max_client_id_length: number;
    readonly max_topic_length: number;
    readonly max_topic_levels: number;
    /** milliseconds */
    readonly connect_timeout: number;
    readonly max_subscriptions_per_client: number;
  };
  readonly cluster: {
    readonly advertise_host: string;
    /** milliseconds */
    readonly heartbeat_timeout: number;
    /** bytes */
    readonly max_unacked_bytes: number;
    /** milliseconds */
    readonly takeover_timeout: number;
  };
  readonly offline_message: {
    readonly enable: boolean;
    readonly max_queue: number;
    readonly queue_qos0: boolean;
    readonly overflow: OfflineOverflowPolicy;
  };
  readonly shared_subscription: { readonly strategy: SharedSubscriptionStrategy };
  readonly tls: {
    readonly cert_file: string;
    readonly key_file: string;
    readonly ca_file: string;
    readonly require_client_cert: boolean;
  };
  readonly admin: { readonly host: string; readonly http_port: number };
  readonly storage: {
    readonly driver: StorageDriverName;
    readonly leveldb: { readonly sync: boolean };
    readonly mysql: { readonly url: string };
    readonly s3: {
      readonly endpoint: string;
      readonly bucket: string;
      readonly access_key: string;
      readonly secret_key: string;
    };
    readonly journal: {
      readonly addrs: readonly string[];
      readonly shard_prefix: string;
      readonly acks: (typeof journalAcks)[number];
      readonly replicas: number;
    };
  };
  readonly auth: {
    readonly allow_anonymous: boolean;
    readonly use_cert_cn_as_username: boolean;
    /** milliseconds */
    readonly cache_ttl: number;
    readonly chain: readonly AuthChainConfig[];
  };
  readonly acl: {
    readonly no_match: 'allow' | 'deny';
    readonly deny_action: 'ignore' | 'disconnect';
    readonly chain: readonly AclChainConfig[];
  };
  readonly flapping_detect: {
    readonly enable: boolean;
    /** milliseconds */
    readonly window_time: number;
    readonly max_client_connections: number;
    /** milliseconds */
    readonly ban_time: number;
  };
  readonly rate_limit: {
    readonly listener_connection_rate: number;
    readonly listener_connection_burst: number;
    readonly client_message_rate: number;
    readonly client_message_burst: number;
    readonly listener_message_rate: number;
    readonly listener_message_burst: number;
  };
  readonly log: { readonly level: LogLevel };
}

/** Compile-time proof that the interface above and the schema describe the same object. */
export type BrokerConfigMatchesSchema = Assert<Equal<BrokerConfig, ConfigOf<typeof brokerSchema>>>;
