import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TcpProxy } from '../tcp-proxy.js';

let echo: Server;
let echoPort: number;

beforeAll(async () => {
  echo = createServer((s) => s.pipe(s));
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', () => r()));
  echoPort = (echo.address() as { port: number }).port;
});
afterAll(async () => {
  await new Promise((r) => echo.close(r));
});

/** Sends `text` and resolves with what comes back within `ms`, or 'closed' / 'silent'. */
function exchange(port: number, text: string, ms = 300): Promise<string> {
  return new Promise((resolve) => {
    const s: Socket = createConnection(port, '127.0.0.1');
    let got = '';
    const timer = setTimeout(() => {
      s.destroy();
      resolve(got === '' ? 'silent' : got);
    }, ms);
    s.on('data', (d) => {
      got += d.toString();
      if (got === text) {
        clearTimeout(timer);
        s.destroy();
        resolve(got);
      }
    });
    s.on('error', () => undefined);
    s.on('close', () => {
      clearTimeout(timer);
      resolve(got === '' ? 'closed' : got);
    });
    s.write(text);
  });
}

describe('TcpProxy', () => {
  it('passes, resets and blackholes on command, and follows a new target', async () => {
    const p = await TcpProxy.start();
    p.setTarget('127.0.0.1', echoPort);
    expect(await exchange(p.port, 'hi')).toBe('hi');
    p.setMode('reset');
    expect(await exchange(p.port, 'hi')).toBe('closed');
    p.setMode('blackhole');
    expect(await exchange(p.port, 'hi')).toBe('silent');
    p.setMode('pass');
    expect(await exchange(p.port, 'again')).toBe('again');
    // A target that is gone: the client's connection closes.
    p.setTarget('127.0.0.1', 1);
    expect(await exchange(p.port, 'x')).toBe('closed');
    await p.close();
  });
});
