// Strict UTF-8 check for payloads flagged as UTF-8 (payload format indicator 1, [MQTT-3.3.2-4]).
const decoder = new TextDecoder('utf-8', { fatal: true });

export function isValidUtf8(buf: Buffer): boolean {
  try {
    decoder.decode(buf);
    return true;
  } catch {
    return false;
  }
}
