// Packet object shapes the engine works with: the codec's (which match the mqtt-packet package's,
// so either can decode what the other encodes; the codec's tests hold them to that).
export type * from './codec/packets.js';
