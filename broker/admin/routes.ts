// What the admin API shows of a running broker: JSON-able snapshots, no live objects.

import type { MqttBroker } from '../mqtt/broker.js';

export function adminRoutes(broker: MqttBroker) {
  return {
    overview: () => broker.overview(),
    clients: () => [...broker.connections].filter((c) => c.session !== null).map((c) => ({
      client_id: c.clientId,
      username: c.username ?? null,
      protocol_version: c.protocolVersion,
      transport: c.info.transport,
      remote_address: `${c.info.remoteAddress}:${c.info.remotePort}`,
      keepalive: c.keepaliveMs / 1000,
      connected_at: new Date(c.connectedAt).toISOString(),
      messages_in: c.messagesIn,
      messages_out: c.messagesOut,
    })),
    sessions: () => [...broker.sessions.values()].map((s) => ({
      client_id: s.clientId,
      connected: s.conn !== null,
      protocol_version: s.protocolVersion,
      expiry_interval: s.expiryInterval,
      subscriptions: s.subs.size,
      queued: s.queued,
      inflight: s.inflight.size,
      disconnected_at: s.disconnectedAt === null ? null : new Date(s.disconnectedAt).toISOString(),
    })),
    subscriptions: () => [...broker.sessions.values()].flatMap((s) => [...s.subs.values()].map((sub) => ({
      client_id: s.clientId,
      filter: sub.filter,
      qos: sub.qos,
      no_local: sub.noLocal,
      retain_as_published: sub.retainAsPublished,
      retain_handling: sub.retainHandling,
      subscription_id: sub.subscriptionId ?? null,
    }))),
    topics: () => [...broker.retained.values()].map((m) => ({
      topic: m.topic,
      retained: true,
      qos: m.qos,
      payload_bytes: m.payload.length,
      stored_at: new Date(m.createdAt).toISOString(),
    })),
  };
}
