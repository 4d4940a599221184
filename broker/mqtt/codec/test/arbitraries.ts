// fast-check arbitraries for every packet type and protocol version, in the canonical form the
// parser produces (so encode → parse is the identity on them).
//
// `oracle: true` keeps to inputs mqtt-packet handles correctly, for byte/shape comparison with it:
// no empty User Property values (its parser drops a repeated name whose first value is ''),
// a non-empty Client Identifier unless clean (its generator refuses the others), a password only
// with a username, a non-empty will topic.

import fc from 'fast-check';
import type {
  AckProperties,
  ConnackProperties,
  ConnectProperties,
  DisconnectProperties,
  AuthProperties,
  Packet,
  PacketCmd,
  ProtocolVersion,
  PublishProperties,
  QoS,
  UserProperties,
  WillProperties,
} from '../index.js';

export interface ArbOptions {
  oracle: boolean;
}

const noNul = (s: string): boolean => !s.includes('\u0000');

/** Mostly ASCII, sometimes any Unicode code point (never U+0000, never a lone surrogate). */
export function mqttString(minLength = 0, maxLength = 12): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.string({ unit: 'grapheme-ascii', minLength, maxLength }) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength, maxLength }).filter(noNul) },
  );
}

export const bytes = (maxLength = 24): fc.Arbitrary<Buffer> =>
  fc.uint8Array({ maxLength }).map((a) => Buffer.from(a));

const qos = fc.constantFrom<QoS>(0, 1, 2);
const u16 = fc.integer({ min: 0, max: 0xffff });
const u16NonZero = fc.integer({ min: 1, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u32NonZero = fc.integer({ min: 1, max: 0xffffffff });
const vbiNonZero = fc.oneof(fc.integer({ min: 1, max: 127 }), fc.integer({ min: 1, max: 268_435_455 }));

function userProperties(o: ArbOptions): fc.Arbitrary<UserProperties> {
  const value = o.oracle ? mqttString(1, 8) : mqttString(0, 8);
  return fc
    .dictionary(mqttString(0, 8), fc.oneof(value, fc.array(value, { minLength: 2, maxLength: 3 })), {
      minKeys: 1,
      maxKeys: 3,
    })
    .map((d) => d as UserProperties);
}

/** A properties object with any subset of the given fields, or undefined when empty. */
function props<T extends object>(fields: { [K in keyof T]: fc.Arbitrary<T[K]> }): fc.Arbitrary<T | undefined> {
  return fc
    .record(fields, { requiredKeys: [] })
    .map((r) => {
      const out = r as Record<string, unknown>;
      // Authentication Data needs an Authentication Method (MQTT 5 §3.1.2.11.10).
      if (out.authenticationData !== undefined && out.authenticationMethod === undefined) delete out.authenticationData;
      return Object.keys(out).length === 0 ? undefined : (out as T);
    });
}

function connectProperties(o: ArbOptions): fc.Arbitrary<ConnectProperties | undefined> {
  return props<ConnectProperties>({
    sessionExpiryInterval: u32,
    receiveMaximum: u16NonZero,
    maximumPacketSize: u32NonZero,
    topicAliasMaximum: u16,
    requestResponseInformation: fc.boolean(),
    requestProblemInformation: fc.boolean(),
    userProperties: userProperties(o),
    authenticationMethod: mqttString(),
    authenticationData: bytes(),
  });
}

function willProperties(o: ArbOptions): fc.Arbitrary<WillProperties | undefined> {
  return props<WillProperties>({
    willDelayInterval: u32,
    payloadFormatIndicator: fc.boolean(),
    messageExpiryInterval: u32,
    contentType: mqttString(),
    responseTopic: mqttString(),
    correlationData: bytes(),
    userProperties: userProperties(o),
  });
}

function connackProperties(o: ArbOptions): fc.Arbitrary<ConnackProperties | undefined> {
  return props<ConnackProperties>({
    sessionExpiryInterval: u32,
    receiveMaximum: u16NonZero,
    maximumQoS: fc.integer({ min: 0, max: 1 }),
    retainAvailable: fc.boolean(),
    maximumPacketSize: u32NonZero,
    assignedClientIdentifier: mqttString(),
    topicAliasMaximum: u16,
    reasonString: mqttString(),
    userProperties: userProperties(o),
    wildcardSubscriptionAvailable: fc.boolean(),
    subscriptionIdentifiersAvailable: fc.boolean(),
    sharedSubscriptionAvailable: fc.boolean(),
    serverKeepAlive: u16,
    responseInformation: mqttString(),
    serverReference: mqttString(),
    authenticationMethod: mqttString(),
    authenticationData: bytes(),
  });
}

function publishProperties(o: ArbOptions): fc.Arbitrary<PublishProperties | undefined> {
  return props<PublishProperties>({
    payloadFormatIndicator: fc.boolean(),
    messageExpiryInterval: u32,
    topicAlias: u16NonZero,
    responseTopic: mqttString(),
    correlationData: bytes(),
    userProperties: userProperties(o),
    subscriptionIdentifier: fc.oneof(vbiNonZero, fc.array(vbiNonZero, { minLength: 2, maxLength: 3 })),
    contentType: mqttString(),
  });
}

function ackProperties(o: ArbOptions): fc.Arbitrary<AckProperties | undefined> {
  return props<AckProperties>({ reasonString: mqttString(), userProperties: userProperties(o) });
}

const PUBACK_CODES = [0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99];
const PUBREL_CODES = [0x00, 0x92];
const CONNACK_CODES = [0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8c, 0x90, 0x95, 0x97, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9f];
const SUBACK_CODES_5 = [0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8f, 0x91, 0x97, 0x9e, 0xa1, 0xa2];
const SUBACK_CODES_311 = [0x00, 0x01, 0x02, 0x80];
const UNSUBACK_CODES = [0x00, 0x11, 0x80, 0x83, 0x87, 0x8f, 0x91];
const DISCONNECT_CODES = [0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8b, 0x8d, 0x8e, 0x8f, 0x90, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9e, 0x9f, 0xa0, 0xa1, 0xa2];
const AUTH_CODES = [0x00, 0x18, 0x19];

/** Drops keys whose value is undefined, so the canonical form has no `key: undefined`. */
function clean<T extends object>(o: T): T {
  const out = o as Record<string, unknown>;
  for (const k of Object.keys(out)) if (out[k] === undefined) delete out[k];
  return o;
}

export const ALL_CMDS: PacketCmd[] = [
  'connect', 'connack', 'publish', 'puback', 'pubrec', 'pubrel', 'pubcomp', 'subscribe', 'suback',
  'unsubscribe', 'unsuback', 'pingreq', 'pingresp', 'disconnect', 'auth',
];

export function cmdsFor(v: ProtocolVersion): PacketCmd[] {
  return v === 5 ? ALL_CMDS : ALL_CMDS.filter((c) => c !== 'auth');
}

export function arbPacket(v: ProtocolVersion, cmd: PacketCmd, o: ArbOptions): fc.Arbitrary<Packet> {
  const v5 = v === 5;
  switch (cmd) {
    case 'connect': {
      const will = fc.record({
        topic: o.oracle ? mqttString(1) : mqttString(),
        payload: bytes(),
        qos,
        retain: fc.boolean(),
        properties: v5 ? willProperties(o) : fc.constant(undefined),
      });
      return fc
        .record({
          clean: fc.boolean(),
          keepalive: u16,
          clientId: mqttString(),
          will: fc.option(will, { nil: undefined }),
          username: fc.option(mqttString(), { nil: undefined }),
          password: fc.option(bytes(), { nil: undefined }),
          properties: v5 ? connectProperties(o) : fc.constant(undefined),
        })
        .map((r) => {
          const p = clean({
            cmd: 'connect' as const,
            protocolId: v === 3 ? ('MQIsdp' as const) : ('MQTT' as const),
            protocolVersion: v,
            ...r,
            will: r.will === undefined ? undefined : clean({ ...r.will }),
          });
          // [MQTT-3.1.2-22]: before MQTT 5 a password needs a username; mqtt-packet wants one always.
          if ((o.oracle || !v5) && p.username === undefined) delete p.password;
          if (o.oracle && p.clientId === '' && (v === 3 || !p.clean)) p.clientId = 'c';
          return p;
        });
    }
    case 'connack':
      return fc
        .record({
          sessionPresent: fc.boolean(),
          code: v5 ? fc.constantFrom(...CONNACK_CODES) : fc.integer({ min: 0, max: 5 }),
          properties: v5 ? connackProperties(o) : fc.constant(undefined),
        })
        .map(({ sessionPresent, code, properties }) =>
          clean(v5 ? { cmd: 'connack' as const, sessionPresent, reasonCode: code, properties } : { cmd: 'connack' as const, sessionPresent, returnCode: code }),
        );
    case 'publish':
      return fc
        .record({
          topic: mqttString(0, 16),
          payload: bytes(64),
          qos,
          dup: fc.boolean(),
          retain: fc.boolean(),
          messageId: u16NonZero,
          properties: v5 ? publishProperties(o) : fc.constant(undefined),
        })
        .map((r) =>
          clean({
            cmd: 'publish' as const,
            topic: r.topic,
            payload: r.payload,
            qos: r.qos,
            dup: r.qos === 0 ? false : r.dup,
            retain: r.retain,
            messageId: r.qos === 0 ? undefined : r.messageId,
            properties: r.properties,
          }),
        );
    case 'puback':
    case 'pubrec':
    case 'pubrel':
    case 'pubcomp': {
      const codes = cmd === 'puback' || cmd === 'pubrec' ? PUBACK_CODES : PUBREL_CODES;
      return fc
        .record({ messageId: u16, reasonCode: fc.constantFrom(...codes), properties: ackProperties(o) })
        .map((r) => (v5 ? clean({ cmd, ...r }) : { cmd, messageId: r.messageId }) as Packet);
    }
    case 'subscribe': {
      const sub = v5
        ? fc.record({ topic: mqttString(), qos, nl: fc.boolean(), rap: fc.boolean(), rh: fc.constantFrom<0 | 1 | 2>(0, 1, 2) })
        : fc.record({ topic: mqttString(), qos });
      return fc
        .record({
          messageId: u16NonZero,
          subscriptions: fc.array(sub, { minLength: 1, maxLength: 3 }),
          properties: v5
            ? props<{ subscriptionIdentifier: number; userProperties: UserProperties }>({ subscriptionIdentifier: vbiNonZero, userProperties: userProperties(o) })
            : fc.constant(undefined),
        })
        .map((r) => clean({ cmd: 'subscribe' as const, ...r }));
    }
    case 'suback':
      return fc
        .record({
          messageId: u16,
          granted: fc.array(fc.constantFrom(...(v5 ? SUBACK_CODES_5 : SUBACK_CODES_311)), { minLength: 1, maxLength: 4 }),
          properties: v5 ? ackProperties(o) : fc.constant(undefined),
        })
        .map((r) => clean({ cmd: 'suback' as const, ...r }));
    case 'unsubscribe':
      return fc
        .record({
          messageId: u16NonZero,
          unsubscriptions: fc.array(mqttString(), { minLength: 1, maxLength: 3 }),
          properties: v5 ? props<{ userProperties: UserProperties }>({ userProperties: userProperties(o) }) : fc.constant(undefined),
        })
        .map((r) => clean({ cmd: 'unsubscribe' as const, ...r }));
    case 'unsuback':
      return fc
        .record({
          messageId: u16,
          granted: fc.array(fc.constantFrom(...UNSUBACK_CODES), { minLength: 1, maxLength: 4 }),
          properties: ackProperties(o),
        })
        .map((r) => (v5 ? clean({ cmd: 'unsuback' as const, ...r }) : { cmd: 'unsuback' as const, messageId: r.messageId }));
    case 'pingreq':
      return fc.constant({ cmd: 'pingreq' as const });
    case 'pingresp':
      return fc.constant({ cmd: 'pingresp' as const });
    case 'disconnect':
      if (!v5) return fc.constant({ cmd: 'disconnect' as const });
      return fc
        .record({
          reasonCode: fc.constantFrom(...DISCONNECT_CODES),
          properties: props<DisconnectProperties>({
            sessionExpiryInterval: u32,
            reasonString: mqttString(),
            userProperties: userProperties(o),
            serverReference: mqttString(),
          }),
        })
        .map((r) => clean({ cmd: 'disconnect' as const, ...r }));
    case 'auth':
      return fc
        .record({
          reasonCode: fc.constantFrom(...AUTH_CODES),
          properties: props<AuthProperties>({
            authenticationMethod: mqttString(),
            authenticationData: bytes(),
            reasonString: mqttString(),
            userProperties: userProperties(o),
          }),
        })
        .map((r) => clean({ cmd: 'auth' as const, ...r }));
  }
}

/** Any packet a connection of version v can carry. */
export function arbAnyPacket(v: ProtocolVersion, o: ArbOptions): fc.Arbitrary<Packet> {
  return fc.oneof(...cmdsFor(v).map((c) => arbPacket(v, c, o)));
}
