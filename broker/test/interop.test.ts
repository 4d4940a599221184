// Interoperability with Eclipse Mosquitto's command-line clients (Debian mosquitto-clients),
// MQTT 3.1.1 and 5.0. .ci/run installs them; a missing binary fails the test with a clear message.

import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, endClient, startTestBroker, tlsDir, waitFor, type TestBroker } from './helpers.js';
import path from 'node:path';

const run = promisify(execFile);
const PUB = '/usr/bin/mosquitto_pub';
const SUB = '/usr/bin/mosquitto_sub';

let broker: TestBroker;
beforeAll(async () => {
  if (!existsSync(PUB) || !existsSync(SUB)) {
    throw new Error('mosquitto_pub/mosquitto_sub not found: install Debian package mosquitto-clients (.ci/run does)');
  }
  broker = await startTestBroker([], { tls: true });
});
afterAll(async () => {
  await broker?.stop();
});

function mosquittoSub(args: string[]): { lines: string[]; done: Promise<number | null> } {
  const p = spawn(SUB, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let buf = '';
  p.stdout.on('data', (d: Buffer) => {
    buf += d.toString();
    const parts = buf.split('\n');
    buf = parts.pop()!;
    lines.push(...parts);
  });
  // 'close', not 'exit': stdout may still hold the last lines when the process exits.
  return { lines, done: new Promise((r) => p.once('close', (code) => r(code))) };
}

describe('mosquitto_pub / mosquitto_sub', () => {
  for (const v of ['mqttv311', 'mqttv5'] as const) {
    it(`${v}: mosquitto_sub receives what mosquitto_pub sends, QoS 0/1/2`, async () => {
      const port = String(broker.port('mqtt-tcp'));
      const topic = `interop/${v}`;
      const sub = mosquittoSub(['-h', '127.0.0.1', '-p', port, '-V', v, '-t', `${topic}/#`, '-q', '2', '-C', '3', '-v', '-i', `msub-${v}`]);
      await waitFor(() => [...broker.broker.sessions.keys()].includes(`msub-${v}`) && broker.broker.sessions.get(`msub-${v}`)!.subs.size === 1, 'mosquitto_sub subscribed');
      for (const qos of ['0', '1', '2']) {
        await run(PUB, ['-h', '127.0.0.1', '-p', port, '-V', v, '-t', `${topic}/q${qos}`, '-q', qos, '-m', `hello-${qos}`]);
      }
      expect(await sub.done).toBe(0);
      expect(sub.lines).toEqual([`${topic}/q0 hello-0`, `${topic}/q1 hello-1`, `${topic}/q2 hello-2`]);
    });
  }

  it('mqttv5 user properties from mosquitto_pub reach an mqtt.js subscriber', async () => {
    const port = String(broker.port('mqtt-tcp'));
    const c = await connectClient(broker.url('mqtt'), { protocolVersion: 5 });
    const got: Array<Record<string, unknown> | undefined> = [];
    c.on('message', (_t, _p, packet) => got.push(packet.properties?.userProperties));
    await c.subscribeAsync('interop/props', { qos: 1 });
    await run(PUB, ['-h', '127.0.0.1', '-p', port, '-V', 'mqttv5', '-t', 'interop/props', '-q', '1', '-m', 'x', '-D', 'publish', 'user-property', 'k', 'v']);
    await waitFor(() => got.length === 1, 'delivery');
    expect(got[0]).toEqual({ k: 'v' });
    await endClient(c);
  });

  it('retained message set by mosquitto_pub -r is read by mosquitto_sub', async () => {
    const port = String(broker.port('mqtt-tcp'));
    await run(PUB, ['-h', '127.0.0.1', '-p', port, '-t', 'interop/retained', '-r', '-q', '1', '-m', 'kept']);
    const { stdout } = await run(SUB, ['-h', '127.0.0.1', '-p', port, '-t', 'interop/retained', '-C', '1', '-W', '5']);
    expect(stdout.trim()).toBe('kept');
  });

  it('mosquitto clients over TLS with the test CA', async () => {
    const port = String(broker.port('mqtt-tls'));
    const ca = path.join(tlsDir, 'ca.crt');
    const sub = mosquittoSub(['-h', 'localhost', '-p', port, '--cafile', ca, '-t', 'interop/tls', '-C', '1', '-i', 'msub-tls']);
    await waitFor(() => broker.broker.sessions.get('msub-tls')?.subs.size === 1, 'TLS subscriber ready');
    await run(PUB, ['-h', 'localhost', '-p', port, '--cafile', ca, '-t', 'interop/tls', '-q', '1', '-m', 'secure']);
    expect(await sub.done).toBe(0);
    expect(sub.lines).toEqual(['secure']);
  });
});
