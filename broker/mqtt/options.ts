// What the MQTT engine needs from the broker config, in one flat, typed object. server.ts maps the
// validated config onto it, so the engine and its tests do not depend on the config file's shape.

import type { SecurityOptions } from '../security/security-options.js';

export type SharedStrategy = 'round_robin' | 'random' | 'sticky';

export interface MqttOptions {
  nodeId: number;
  maxPacketSize: number;
  maxQos: 0 | 1 | 2;
  retainAvailable: boolean;
  wildcardSubscriptionAvailable: boolean;
  subscriptionIdentifierAvailable: boolean;
  sharedSubscriptionAvailable: boolean;
  topicAliasMaximum: number;
  receiveMaximum: number;
  maxInflightOutbound: number;
  /** 0: accept the client's keep alive. */
  serverKeepAlive: number;
  maxKeepAlive: number;
  maxSessionExpiryInterval: number;
  v3SessionExpiryInterval: number;
  maxClientIdLength: number;
  maxTopicLength: number;
  maxTopicLevels: number;
  /** ms a socket may stay open without sending CONNECT. */
  connectTimeoutMs: number;
  /** 0: unlimited. */
  maxSubscriptionsPerClient: number;
  offlineMessageEnable: boolean;
  maxQueue: number;
  queueQos0: boolean;
  overflow: 'drop_oldest' | 'drop_new';
  sharedStrategy: SharedStrategy;
  /** Bytes buffered for one connection's socket beyond which QoS 0 messages to it are dropped. */
  maxOutboundBuffer: number;
  /** auth / acl / flapping_detect / rate_limit; absent = the quick-start defaults of config/broker.toml. */
  security?: SecurityOptions;
}

export const defaultMqttOptions: MqttOptions = Object.freeze({
  nodeId: 1,
  maxPacketSize: 10 * 1024 * 1024,
  maxQos: 2,
  retainAvailable: true,
  wildcardSubscriptionAvailable: true,
  subscriptionIdentifierAvailable: true,
  sharedSubscriptionAvailable: true,
  topicAliasMaximum: 65535,
  receiveMaximum: 65535,
  maxInflightOutbound: 1024,
  serverKeepAlive: 0,
  maxKeepAlive: 65535,
  maxSessionExpiryInterval: 0xffffffff,
  v3SessionExpiryInterval: 0xffffffff,
  maxClientIdLength: 65535,
  maxTopicLength: 65535,
  maxTopicLevels: 128,
  connectTimeoutMs: 10_000,
  maxSubscriptionsPerClient: 0,
  offlineMessageEnable: true,
  maxQueue: 10_000,
  queueQos0: false,
  overflow: 'drop_oldest',
  sharedStrategy: 'round_robin',
  maxOutboundBuffer: 2 * 1024 * 1024,
});
