// startBroker: the standalone broker process. Maps the validated config onto the engine, opens
// storage, loads state, binds every configured listener and the admin API.

import { readFileSync } from 'node:fs';
import type { BrokerConfig } from '../common/config/index.js';
import type { Logger } from '../common/log.js';
import { startAdminServer } from './admin/http.js';
import { MqttBroker } from './mqtt/broker.js';
import type { MqttOptions } from './mqtt/options.js';
import { createStorageDriver } from './storage/index.js';
import type { BoundListener } from './listeners/listener.js';
import { startTcpListener } from './listeners/tcp.js';
import { startTlsListener, type TlsFiles } from './listeners/tls.js';
import { startWsListener } from './listeners/ws.js';
import { adminRoutes } from './admin/routes.js';
import { securityOptionsFrom } from './security/security-options.js';
import { SecurityAdmin } from './security/security-admin.js';
import { registerSecurityRoutes } from './admin/security-routes.js';
import type { SecurityStore } from './security/security-store.js';
import { PlacementSecurityStore } from './security/placement-security-store.js';
import { startEmbeddedPlacement } from '../placement/service/embedded.js';
import { GrpcPlacementClient } from '../placement/client/grpc-client.js';
import type { PlacementClient } from '../placement/client/placement-client.js';
import { BrokerCluster } from './cluster/broker-cluster.js';
import { RC } from './mqtt/reason-codes.js';
import { NodeKind, NodeStatus } from '../proto/gen/placement_pb.js';

export interface RunningBroker {
  listeners: { name: string; host: string; port: number }[];
  broker: MqttBroker;
  /** Set when placement.addrs is (this broker is one of a cluster). */
  cluster: BrokerCluster | undefined;
  close(): Promise<void>;
}

export function mqttOptionsFrom(config: BrokerConfig): MqttOptions {
  const m = config.mqtt;
  return {
    nodeId: config.node_id,
    maxPacketSize: m.max_packet_size,
    maxQos: m.max_qos as 0 | 1 | 2,
    retainAvailable: m.retain_available,
    wildcardSubscriptionAvailable: m.wildcard_subscription_available,
    subscriptionIdentifierAvailable: m.subscription_identifier_available,
    sharedSubscriptionAvailable: m.shared_subscription_available,
    topicAliasMaximum: m.topic_alias_maximum,
    receiveMaximum: m.receive_maximum,
    maxInflightOutbound: m.max_inflight_outbound,
    serverKeepAlive: m.server_keep_alive,
    maxKeepAlive: m.max_keep_alive,
    maxSessionExpiryInterval: m.max_session_expiry_interval,
    v3SessionExpiryInterval: m.v3_session_expiry_interval,
    maxClientIdLength: m.max_client_id_length,
    maxTopicLength: m.max_topic_length,
    maxTopicLevels: m.max_topic_levels,
    connectTimeoutMs: m.connect_timeout,
    maxSubscriptionsPerClient: m.max_subscriptions_per_client,
    offlineMessageEnable: config.offline_message.enable,
    maxQueue: config.offline_message.max_queue,
    queueQos0: config.offline_message.queue_qos0,
    overflow: config.offline_message.overflow,
    sharedStrategy: config.shared_subscription.strategy,
    maxOutboundBuffer: 2 * 1024 * 1024,
    security: securityOptionsFrom(config),
  };
}

export interface BrokerDeps {
  /**
   * Where built-in users, ACL rules and the blacklist live. Absent: the placement center — an
   * embedded single-node group under data_dir when placement.addrs is empty (standalone), else
   * the cluster at placement.addrs.
   */
  readonly securityStore?: SecurityStore;
  /** Raft tick of the embedded placement (tests shorten it). */
  readonly embeddedPlacementTickMs?: number;
}

/** The placement center the broker talks to: embedded in standalone mode, remote in a cluster. */
async function connectPlacement(config: BrokerConfig, log: Logger, tickMs: number | undefined): Promise<{ client: PlacementClient; close(): Promise<void> }> {
  if (config.placement.addrs.length === 0) {
    return startEmbeddedPlacement({
      dataDir: config.data_dir, log: log.child('placement'), nodeId: config.node_id, clusterName: config.cluster_name,
      tuning: tickMs === undefined ? undefined : { tickMs },
    });
  }
  const client = new GrpcPlacementClient({ addresses: config.placement.addrs });
  return { client, close: () => client.close() };
}

/**
 * `storage.driver = "auto"`: LevelDB on a standalone broker; in a cluster the journal — the nodes of
 * `storage.journal.addrs`, else the journal nodes registered in placement (each shard on up to three
 * of them) — so the others can adopt this broker's sessions; LevelDB when there is no journal node.
 */
async function resolveStorage(
  config: BrokerConfig, clustered: boolean, placement: () => Promise<PlacementClient>, log: Logger,
): Promise<{ driver: string; journalAddrs: readonly string[]; replicas: number }> {
  const j = config.storage.journal;
  const chosen = { driver: config.storage.driver as string, journalAddrs: j.addrs, replicas: j.replicas };
  if (chosen.driver !== 'auto') return chosen;
  if (!clustered) return { ...chosen, driver: 'leveldb' };
  if (j.addrs.length > 0) return { ...chosen, driver: 'journal' };
  const nodes = (await (await placement()).listNodes(NodeKind.JOURNAL)).filter((n) => n.status === NodeStatus.ALIVE && n.address !== '');
  if (nodes.length === 0) {
    log.warn('storage.driver = "auto": no journal node is registered in placement; keeping this broker\'s state in LevelDB (its sessions wait for it if it dies)');
    return { ...chosen, driver: 'leveldb' };
  }
  const journalAddrs = nodes.map((n) => n.address).sort();
  const replicas = Math.max(j.replicas, Math.min(3, journalAddrs.length));
  log.info('storage.driver = "auto": broker state goes to the journal nodes registered in placement', { nodes: journalAddrs.join(','), replicas });
  return { driver: 'journal', journalAddrs, replicas };
}

export async function startBroker(config: BrokerConfig, log: Logger, deps: BrokerDeps = {}): Promise<RunningBroker> {
  const s3 = config.storage.s3;
  const j = config.storage.journal;
  const clustered = config.placement.addrs.length > 0 && config.grpc_port >= 0;
  let placement: { client: PlacementClient; close(): Promise<void> } | undefined;
  const placementClient = async (): Promise<PlacementClient> => (placement ??= await connectPlacement(config, log, deps.embeddedPlacementTickMs)).client;
  let resolved;
  try {
    resolved = await resolveStorage(config, clustered, placementClient, log);
  } catch (err) {
    await placement?.close();
    throw err;
  }
  const { driver, journalAddrs, replicas } = resolved;
  const storageConfig = (nodeId: number) => ({
    driver,
    dataDir: config.data_dir,
    leveldb: { sync: config.storage.leveldb.sync },
    mysql: { url: config.storage.mysql.url },
    s3: { endpoint: s3.endpoint, bucket: s3.bucket, accessKey: s3.access_key, secretKey: s3.secret_key },
    journal: { addrs: journalAddrs, shardPrefix: j.shard_prefix, acks: j.acks, replicas },
    nodeId,
  });
  const storage = createStorageDriver(storageConfig(config.node_id));
  // Brokers share storage when each one's state is a shard prefix of the same journal cluster:
  // then a survivor can open a dead broker's state and adopt its sessions (broker/cluster/adoption.ts).
  const sharedStorage = driver === 'journal' && journalAddrs.length > 0 && j.shard_prefix === '';
  try {
    await storage.open();
  } catch (err) {
    await placement?.close();
    throw err;
  }
  const broker = new MqttBroker(mqttOptionsFrom(config), storage, log.child('mqtt'));
  const bound: BoundListener[] = [];
  let cluster: BrokerCluster | undefined;
  const closeAll = async (): Promise<void> => {
    for (const l of bound.splice(0).reverse()) await l.close().catch(() => undefined);
    await broker.close();
    await cluster?.close();
    await storage.close();
    await placement?.close();
  };
  // In a cluster nothing fires (wills, delayed publishes due during the downtime) before the
  // cluster is attached, or it would miss the other brokers; BrokerCluster resumes the broker.
  if (clustered) broker.suspend(RC.SERVER_UNAVAILABLE, 'starting');
  try {
    await broker.open();
    let securityStore = deps.securityStore;
    if (securityStore === undefined) securityStore = new PlacementSecurityStore(await placementClient());
    await broker.security.open(securityStore);
    if (clustered) {
      const c = config.cluster;
      cluster = await BrokerCluster.start(broker, await placementClient(), {
        brokerId: config.node_id, clusterName: config.cluster_name, linkHost: config.mqtt.host, linkPort: config.grpc_port,
        advertiseHost: c.advertise_host, heartbeatTimeoutMs: c.heartbeat_timeout, maxUnackedBytes: c.max_unacked_bytes,
        takeoverTimeoutMs: c.takeover_timeout,
        openPeerStorage: sharedStorage ? (id) => createStorageDriver(storageConfig(id)) : null,
        adoptDelayed: (records) => {
          for (const r of records) broker.delayed.addDelayed(r);
        },
      }, log.child('cluster'));
      bound.push({ name: 'broker-grpc', host: config.mqtt.host, port: cluster.linkPort, close: async () => undefined });
    }
    if (config.auth.allow_anonymous) log.warn('anonymous access is on (auth.allow_anonymous = true): set it to false on a broker others can reach');
    const host = config.mqtt.host;
    let tlsFiles: TlsFiles | undefined;
    if (config.tls.cert_file !== '') {
      tlsFiles = {
        cert: readFileSync(config.tls.cert_file),
        key: readFileSync(config.tls.key_file),
        ca: config.tls.ca_file !== '' ? readFileSync(config.tls.ca_file) : undefined,
        requireClientCert: config.tls.require_client_cert,
      };
    }
    if (config.mqtt.tcp_port >= 0) bound.push(await startTcpListener(broker, host, config.mqtt.tcp_port));
    if (tlsFiles && config.mqtt.tls_port >= 0) bound.push(await startTlsListener(broker, host, config.mqtt.tls_port, tlsFiles));
    if (config.mqtt.ws_port >= 0) bound.push(await startWsListener(broker, host, config.mqtt.ws_port, config.mqtt.ws_path));
    if (tlsFiles && config.mqtt.wss_port >= 0) {
      bound.push(await startWsListener(broker, host, config.mqtt.wss_port, config.mqtt.ws_path, tlsFiles));
    }
    if (config.admin.http_port >= 0) {
      const admin = await startAdminServer({ host: config.admin.host, port: config.admin.http_port, log: log.child('admin'), routes: adminRoutes(broker),
        extend: (router) => registerSecurityRoutes(router, new SecurityAdmin(broker.security)) });
      bound.push({ name: 'admin-http', host: config.admin.host, port: admin.port, close: admin.close });
    }
  } catch (err) {
    await closeAll();
    throw err;
  }
  return {
    listeners: bound.map(({ name, host, port }) => ({ name, host, port })),
    broker,
    cluster,
    close: closeAll,
  };
}
