// Strict decoding of MQTT UTF-8 Encoded Strings (MQTT 5 §1.5.4, MQTT 3.1.1 §1.5.3).

// fatal: ill-formed input (surrogate encodings, overlongs, truncated sequences) is refused
// [MQTT-1.5.4-1]. ignoreBOM: a leading 0xEF 0xBB 0xBF is U+FEFF and must not be stripped
// [MQTT-1.5.4-3].
const strictDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Returned instead of a string; numbers, so no decoded string can be mistaken for one. */
export const UTF8_NUL = 1;
export const UTF8_ILL_FORMED = 2;
export type Utf8Problem = typeof UTF8_NUL | typeof UTF8_ILL_FORMED;

/**
 * Decodes buf[start, end) as an MQTT string. Returns the string, or the problem that makes the
 * packet malformed: U+0000 [MQTT-1.5.4-2] or ill-formed UTF-8 [MQTT-1.5.4-1].
 */
export function decodeMqttString(buf: Buffer, start: number, end: number): string | Utf8Problem {
  let ascii = true;
  for (let i = start; i < end; i++) {
    const b = buf[i];
    // In well-formed UTF-8 a 0x00 byte only ever encodes U+0000 (overlong forms are ill-formed).
    if (b === 0) return UTF8_NUL;
    if (b >= 0x80) ascii = false;
  }
  if (ascii) return buf.toString('latin1', start, end);
  try {
    return strictDecoder.decode(buf.subarray(start, end));
  } catch {
    return UTF8_ILL_FORMED;
  }
}
