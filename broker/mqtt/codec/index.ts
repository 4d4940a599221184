// Public surface of the broker's MQTT codec (MQTT 3.1, 3.1.1 and 5.0). See README.md.

export { MqttParser } from './parser.js';
export type { MqttParserOptions } from './parser.js';
export { encode } from './encoder.js';
export { encodePublish } from './encode-publish.js';
export type { PublishToEncode } from './encode-publish.js';
export { EncodeError, REASON_CODE } from './errors.js';
export type { CodecError, CodecErrorKind } from './errors.js';
export { decodeMqttString, UTF8_ILL_FORMED, UTF8_NUL } from './utf8.js';
export { MAX_PACKET_SIZE } from './constants.js';
export type * from './packets.js';
