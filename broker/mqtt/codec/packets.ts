// Packet object shapes. They follow the `mqtt-packet` npm package field for field (cmd, messageId,
// qos, dup, retain, topic, payload, properties with camelCase names, ...) so the broker is written
// against one shape and mqtt-packet can serve as the test oracle. The declarations are our own and
// stricter: every field the parser always produces is required, binary fields are Buffers.
// The interface names mirror mqtt-packet's (`IConnectPacket`, ...); shorter aliases follow.

export type QoS = 0 | 1 | 2;
export type ProtocolVersion = 3 | 4 | 5;

export type PacketCmd =
  | 'connect'
  | 'connack'
  | 'publish'
  | 'puback'
  | 'pubrec'
  | 'pubrel'
  | 'pubcomp'
  | 'subscribe'
  | 'suback'
  | 'unsubscribe'
  | 'unsuback'
  | 'pingreq'
  | 'pingresp'
  | 'disconnect'
  | 'auth';

/**
 * MQTT 5 User Properties. A name that occurs once maps to its value; a name that occurs several
 * times maps to the values in wire order. Parsed objects have a null prototype, so a name such as
 * `__proto__` is an ordinary key.
 */
export type UserProperties = { [name: string]: string | string[] };

export interface ConnectProperties {
  sessionExpiryInterval?: number;
  receiveMaximum?: number;
  maximumPacketSize?: number;
  topicAliasMaximum?: number;
  requestResponseInformation?: boolean;
  requestProblemInformation?: boolean;
  userProperties?: UserProperties;
  authenticationMethod?: string;
  authenticationData?: Buffer;
}

export interface WillProperties {
  willDelayInterval?: number;
  payloadFormatIndicator?: boolean;
  messageExpiryInterval?: number;
  contentType?: string;
  responseTopic?: string;
  correlationData?: Buffer;
  userProperties?: UserProperties;
}

export interface Will {
  topic: string;
  payload: Buffer;
  qos: QoS;
  retain: boolean;
  properties?: WillProperties;
}

export interface IConnectPacket {
  cmd: 'connect';
  protocolId: 'MQTT' | 'MQIsdp';
  protocolVersion: ProtocolVersion;
  /** Set when the level byte had bit 7 set (mosquitto's bridge extension, e.g. 0x84). */
  bridgeMode?: boolean;
  clean: boolean;
  keepalive: number;
  clientId: string;
  will?: Will;
  username?: string;
  password?: Buffer;
  properties?: ConnectProperties;
}

export interface ConnackProperties {
  sessionExpiryInterval?: number;
  receiveMaximum?: number;
  maximumQoS?: number;
  retainAvailable?: boolean;
  maximumPacketSize?: number;
  assignedClientIdentifier?: string;
  topicAliasMaximum?: number;
  reasonString?: string;
  userProperties?: UserProperties;
  wildcardSubscriptionAvailable?: boolean;
  subscriptionIdentifiersAvailable?: boolean;
  sharedSubscriptionAvailable?: boolean;
  serverKeepAlive?: number;
  responseInformation?: string;
  serverReference?: string;
  authenticationMethod?: string;
  authenticationData?: Buffer;
}

export interface IConnackPacket {
  cmd: 'connack';
  sessionPresent: boolean;
  /** MQTT 3.1 / 3.1.1 Connect Return Code. */
  returnCode?: number;
  /** MQTT 5 Connect Reason Code. */
  reasonCode?: number;
  properties?: ConnackProperties;
}

export interface PublishProperties {
  payloadFormatIndicator?: boolean;
  messageExpiryInterval?: number;
  topicAlias?: number;
  responseTopic?: string;
  correlationData?: Buffer;
  userProperties?: UserProperties;
  /** One number, or several in wire order when the Server matched several subscriptions. */
  subscriptionIdentifier?: number | number[];
  contentType?: string;
}

export interface IPublishPacket {
  cmd: 'publish';
  topic: string;
  payload: Buffer;
  qos: QoS;
  dup: boolean;
  retain: boolean;
  /** Present exactly when qos > 0. */
  messageId?: number;
  properties?: PublishProperties;
}

/** Properties of PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK and UNSUBACK. */
export interface AckProperties {
  reasonString?: string;
  userProperties?: UserProperties;
}

export interface IPubackPacket {
  cmd: 'puback';
  messageId: number;
  /** MQTT 5 only (0 when the packet omitted it). */
  reasonCode?: number;
  properties?: AckProperties;
}

export interface IPubrecPacket {
  cmd: 'pubrec';
  messageId: number;
  reasonCode?: number;
  properties?: AckProperties;
}

export interface IPubrelPacket {
  cmd: 'pubrel';
  messageId: number;
  reasonCode?: number;
  properties?: AckProperties;
}

export interface IPubcompPacket {
  cmd: 'pubcomp';
  messageId: number;
  reasonCode?: number;
  properties?: AckProperties;
}

export interface ISubscription {
  topic: string;
  qos: QoS;
  /** MQTT 5 No Local. */
  nl?: boolean;
  /** MQTT 5 Retain As Published. */
  rap?: boolean;
  /** MQTT 5 Retain Handling. */
  rh?: 0 | 1 | 2;
}

export interface SubscribeProperties {
  subscriptionIdentifier?: number;
  userProperties?: UserProperties;
}

export interface ISubscribePacket {
  cmd: 'subscribe';
  messageId: number;
  subscriptions: ISubscription[];
  properties?: SubscribeProperties;
}

export interface ISubackPacket {
  cmd: 'suback';
  messageId: number;
  /** Return codes (3.1.1) or Reason Codes (5), one per requested filter. */
  granted: number[];
  properties?: AckProperties;
}

export interface UnsubscribeProperties {
  userProperties?: UserProperties;
}

export interface IUnsubscribePacket {
  cmd: 'unsubscribe';
  messageId: number;
  unsubscriptions: string[];
  properties?: UnsubscribeProperties;
}

export interface IUnsubackPacket {
  cmd: 'unsuback';
  messageId: number;
  /** MQTT 5 only: one Reason Code per filter. */
  granted?: number[];
  properties?: AckProperties;
}

export interface IPingreqPacket {
  cmd: 'pingreq';
}

export interface IPingrespPacket {
  cmd: 'pingresp';
}

export interface DisconnectProperties {
  sessionExpiryInterval?: number;
  reasonString?: string;
  userProperties?: UserProperties;
  serverReference?: string;
}

export interface IDisconnectPacket {
  cmd: 'disconnect';
  /** MQTT 5 only (0 when the packet omitted it). */
  reasonCode?: number;
  properties?: DisconnectProperties;
}

export interface AuthProperties {
  authenticationMethod?: string;
  authenticationData?: Buffer;
  reasonString?: string;
  userProperties?: UserProperties;
}

export interface IAuthPacket {
  cmd: 'auth';
  reasonCode: number;
  properties?: AuthProperties;
}

export type Packet =
  | IConnectPacket
  | IConnackPacket
  | IPublishPacket
  | IPubackPacket
  | IPubrecPacket
  | IPubrelPacket
  | IPubcompPacket
  | ISubscribePacket
  | ISubackPacket
  | IUnsubscribePacket
  | IUnsubackPacket
  | IPingreqPacket
  | IPingrespPacket
  | IDisconnectPacket
  | IAuthPacket;

/** Any properties object of any packet (the union of all property names). */
export type AnyProperties = ConnectProperties &
  WillProperties &
  ConnackProperties &
  Omit<PublishProperties, 'subscriptionIdentifier'> &
  DisconnectProperties &
  AuthProperties & { subscriptionIdentifier?: number | number[] };

export type ConnectPacket = IConnectPacket;
export type ConnackPacket = IConnackPacket;
export type PublishPacket = IPublishPacket;
export type PubackPacket = IPubackPacket;
export type PubrecPacket = IPubrecPacket;
export type PubrelPacket = IPubrelPacket;
export type PubcompPacket = IPubcompPacket;
export type SubscribePacket = ISubscribePacket;
export type Subscription = ISubscription;
export type SubackPacket = ISubackPacket;
export type UnsubscribePacket = IUnsubscribePacket;
export type UnsubackPacket = IUnsubackPacket;
export type PingreqPacket = IPingreqPacket;
export type PingrespPacket = IPingrespPacket;
export type DisconnectPacket = IDisconnectPacket;
export type AuthPacket = IAuthPacket;
