// Typed results for bad input (CodecError) and the exception for a packet object that cannot be
// encoded (EncodeError, a programming error in the caller).

import type { ProtocolVersion } from './packets.js';

export type CodecErrorKind =
  | 'malformed'
  | 'protocol_error'
  | 'packet_too_large'
  | 'unsupported_protocol_version'
  | 'unsupported_protocol_name';

export interface CodecError {
  kind: CodecErrorKind;
  /** MQTT 5 Reason Code for the CONNACK or DISCONNECT that reports it (MQTT 5 §2.4 Table 2-6). */
  reasonCode: number;
  /** Names the field and cites the spec, e.g. "[MQTT-3.3.1-2] PUBLISH with QoS 0 must not set DUP". */
  message: string;
  /** Lower-case cmd name of the offending packet (e.g. 'publish'), when the type byte was valid. */
  packetType?: string;
  /**
   * For a refused CONNECT: the protocol version whose CONNACK format the client can read.
   * 5 → answer CONNACK Reason Code 0x84; 3 or 4 → Return Code 0x01 [MQTT-3.1.2-2].
   * Absent → close without a CONNACK ([MQTT-3.1.2-1] lets the server just close).
   */
  answerVersion?: ProtocolVersion;
}

/** MQTT 5 Reason Code reported for each kind. */
export const REASON_CODE: Readonly<Record<CodecErrorKind, number>> = {
  malformed: 0x81,
  protocol_error: 0x82,
  packet_too_large: 0x95,
  unsupported_protocol_version: 0x84,
  unsupported_protocol_name: 0x84,
};

export function codecError(
  kind: CodecErrorKind,
  message: string,
  packetType?: string,
  answerVersion?: ProtocolVersion,
): CodecError {
  const err: CodecError = { kind, reasonCode: REASON_CODE[kind], message };
  if (packetType !== undefined) err.packetType = packetType;
  if (answerVersion !== undefined) err.answerVersion = answerVersion;
  return err;
}

/**
 * Thrown inside the decoder to unwind to the parser, which turns it into a returned CodecError.
 * It never escapes the codec.
 */
export class DecodeFailure extends Error {
  readonly error: CodecError;
  constructor(error: CodecError) {
    super(error.message);
    this.name = 'DecodeFailure';
    this.error = error;
  }
}

/** The packet object given to encode()/encodePublish() cannot be put on the wire. */
export class EncodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EncodeError';
  }
}

/**
 * Picks the conformance id of the spec the connection speaks: MQTT 5 ids for version 5, MQTT
 * 3.1.1 ids for 3.1.1 and for 3.1 (which has no numbered statements).
 */
export function cite(version: ProtocolVersion, v5: string, v311: string): string {
  return version === 5 ? v5 : v311;
}
