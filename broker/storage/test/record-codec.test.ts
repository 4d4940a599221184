import { describe, expect, it } from 'vitest';
import { message, patternBytes } from '../conformance.js';
import { CorruptValue, decodeMessage, decodeOutbound, decodeSession, encodeMessage, encodeOutbound, encodeSession } from '../record-codec.js';

describe('record codec', () => {
  const m = message('id', {
    payload: patternBytes(300),
    properties: { payloadFormatIndicator: true, messageExpiryInterval: 0xffffffff, correlationData: Buffer.alloc(0), userProperties: { a: ['x', 'y'], b: 'z' } },
    expiresAt: 1.5,
    origin: '',
  });

  it('round-trips a message with every optional field, and one with none', () => {
    expect(decodeMessage(encodeMessage(m))).toStrictEqual(m);
    const bare = message('b');
    expect(decodeMessage(encodeMessage(bare))).toStrictEqual(bare);
  });

  it('round-trips sessions whose will is absent, null or present', () => {
    for (const will of [undefined, null, { message: m, delayInterval: 7 }]) {
      const s = { clientId: 'c', protocolVersion: 5 as const, expiryInterval: 0, disconnectedAt: 12.25, ...(will === undefined ? {} : { will }) };
      expect(decodeSession('c', encodeSession(s))).toStrictEqual(s);
    }
  });

  it('refuses a truncated value, trailing bytes and an unknown format byte with CorruptValue', () => {
    const buf = encodeMessage(m);
    for (let cut = 0; cut < buf.length; cut += 17) expect(() => decodeMessage(buf.subarray(0, cut))).toThrow(CorruptValue);
    expect(() => decodeMessage(Buffer.concat([buf, Buffer.from([0])]))).toThrow(CorruptValue);
    const wrongFormat = Buffer.from(buf);
    wrongFormat[0] = 9;
    expect(() => decodeMessage(wrongFormat)).toThrow(/unknown format 9/);
    const e = encodeOutbound({ clientId: 'c', seq: 1, messageId: 'm', qos: 1, state: 'queued' });
    const badState = Buffer.from(e);
    badState[1] = 3 << 2;
    expect(() => decodeOutbound('c', 1, badState)).toThrow(/state 3/);
  });
});
