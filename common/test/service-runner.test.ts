import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { brokerSchema, journalSchema } from '../config/index.js';
import { CodedError } from '../errors.js';
import { describeStartupError, parseServiceArgs, runService, type ServiceDefinition, type ServiceIo, type StartedService } from '../service-runner.js';

function fakeIo() {
  const out: string[] = [];
  const err: string[] = [];
  const logs: string[] = [];
  let handler: ((signal: string) => void) | undefined;
  const io: ServiceIo = {
    out: (l) => out.push(l),
    err: (l) => err.push(l),
    log: (l) => logs.push(l),
    onSignal(h) {
      handler = h;
      return () => (handler = undefined);
    },
  };
  return { io, out, err, logs, signal: (s = 'SIGTERM') => handler?.(s), subscribed: () => handler !== undefined };
}

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

function broker(start: ServiceDefinition<typeof brokerSchema>['start']): ServiceDefinition<typeof brokerSchema> {
  return { name: 'broker', summary: 'test broker', schema: brokerSchema, defaultConfigFile: 'config/broker.toml', start };
}

describe('argument parsing', () => {
  it('start with --config and repeated --set in either spelling', () => {
    expect(parseServiceArgs(['start', '--config', 'a.toml', '--set', 'x=1', '--set=y=2'])).toEqual({
      kind: 'start',
      file: 'a.toml',
      sets: ['x=1', 'y=2'],
    });
    expect(parseServiceArgs(['start'])).toEqual({ kind: 'start', file: undefined, sets: [] });
    expect(parseServiceArgs(['--help'])).toEqual({ kind: 'help' });
    expect(parseServiceArgs(['start', '-h'])).toEqual({ kind: 'help' });
    expect(parseServiceArgs([])).toMatchObject({ kind: 'usage-error' });
    expect(parseServiceArgs(['stop'])).toMatchObject({ kind: 'usage-error', message: 'unknown command "stop"' });
    expect(parseServiceArgs(['start', '--port', '1'])).toMatchObject({ kind: 'usage-error' });
    expect(parseServiceArgs(['start', 'extra'])).toMatchObject({ kind: 'usage-error' });
  });
});

describe('runService', () => {
  it('help lists every key with its default and doc, exit 0', async () => {
    const f = fakeIo();
    expect(await runService(broker(undefined), ['start', '--help'], f.io)).toBe(0);
    const help = f.out.join('\n');
    expect(help).toContain('Usage: broker start [--config FILE] [--set key.path=value]...');
    expect(help).toContain('mqtt.tcp_port = 1883');
    expect(help).toContain('mqtt.max_packet_size = "10MB"');
    expect(help).toContain('storage.driver = "auto"   [auto | memory | leveldb | journal | mysql | s3]');
    expect(help).toContain('Close a connection that has not sent CONNECT within this time.');
  });

  it('a config error goes to stderr with exit 2, before start is called', async () => {
    const f = fakeIo();
    let started = false;
    const code = await runService(broker(async () => ((started = true), { listeners: [], close: async () => {} })), ['start', '--set', 'bogus.key=1'], f.io);
    expect(code).toBe(2);
    expect(started).toBe(false);
    expect(f.out).toEqual([]);
    expect(f.err.join('\n')).toContain('bogus.key: unknown key');
  });

  it('a usage error is exit 2', async () => {
    const f = fakeIo();
    expect(await runService(broker(undefined), ['begin'], f.io)).toBe(2);
    expect(f.err[0]).toBe('broker: unknown command "begin"');
  });

  it('a service without start validates, says "not built yet" and exits 2', async () => {
    const f = fakeIo();
    const journal = { name: 'journal', summary: 's', schema: journalSchema, defaultConfigFile: 'config/journal.toml' };
    expect(await runService(journal, ['start', '--set', 'grpc_port=0'], f.io)).toBe(2);
    expect(f.err).toEqual(['journal: not built yet']);
    const g = fakeIo();
    expect(await runService(journal, ['start', '--set', 'grpc_port=x'], g.io)).toBe(2);
    expect(g.err.join('\n')).toContain('grpc_port: expected an integer port');
  });

  it('prints one listening line per listener, then stops cleanly on SIGTERM', async () => {
    const f = fakeIo();
    let closed = 0;
    let seenPort = -2;
    const running = runService(
      broker(async (config, log) => {
        seenPort = config.mqtt.tcp_port;
        log.info('started');
        return {
          listeners: [
            { name: 'mqtt-tcp', host: '0.0.0.0', port: 41883 },
            { name: 'admin-http', host: '127.0.0.1', port: 48080 },
          ],
          close: async () => void closed++,
        } satisfies StartedService;
      }),
      ['start', '--set', 'mqtt.tcp_port=0', '--set', 'log.level=info'],
      f.io,
    );
    await until(() => f.out.length === 2);
    expect(f.out).toEqual(['listening mqtt-tcp 0.0.0.0:41883', 'listening admin-http 127.0.0.1:48080']);
    expect(seenPort).toBe(0);
    f.signal('SIGTERM');
    expect(await running).toBe(0);
    expect(closed).toBe(1);
    expect(f.subscribed()).toBe(false);
    expect(f.logs.some((l) => / INFO  broker started$/.test(l))).toBe(true);
    expect(f.logs.some((l) => l.includes('stopping {"signal":"SIGTERM"}'))).toBe(true);
  });

  it('a second signal during a slow close forces exit 1', async () => {
    const f = fakeIo();
    const running = runService(
      broker(async () => ({ listeners: [{ name: 'x', host: 'h', port: 1 }], close: () => new Promise<void>(() => {}) })),
      ['start'],
      f.io,
    );
    await until(() => f.out.length === 1);
    f.signal('SIGINT');
    f.signal('SIGINT');
    expect(await running).toBe(1);
  });

  it('a signal during start-up stops the service once it is up', async () => {
    const f = fakeIo();
    let release: () => void = () => {};
    let closed = false;
    const running = runService(
      broker(async () => {
        await new Promise<void>((r) => (release = r));
        return { listeners: [], close: async () => void (closed = true) };
      }),
      ['start'],
      f.io,
    );
    await until(() => f.subscribed());
    f.signal('SIGTERM');
    release();
    expect(await running).toBe(0);
    expect(closed).toBe(true);
  });

  it('a start-up failure is one stderr line and exit 1', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    try {
      const f = fakeIo();
      const code = await runService(
        broker(async () => {
          const s = createServer();
          await new Promise<void>((resolve, reject) => {
            s.once('error', reject);
            s.listen(port, '127.0.0.1', resolve);
          });
          return { listeners: [], close: async () => {} };
        }),
        ['start'],
        f.io,
      );
      expect(code).toBe(1);
      expect(f.err).toEqual([`broker: failed to start: 127.0.0.1:${port} is already in use`]);
    } finally {
      blocker.close();
    }
  });

  it('a failing close is exit 1 with the reason', async () => {
    const f = fakeIo();
    const running = runService(
      broker(async () => ({ listeners: [], close: async () => Promise.reject(new CodedError('BR_STORAGE_UNAVAILABLE', 'flush failed')) })),
      ['start'],
      f.io,
    );
    await until(() => f.subscribed());
    await new Promise((r) => setTimeout(r, 0));
    f.signal();
    expect(await running).toBe(1);
    expect(f.err).toEqual(['broker: failed to stop cleanly: flush failed [BR_STORAGE_UNAVAILABLE]']);
  });
});

describe('describeStartupError', () => {
  it('keeps to one line', () => {
    expect(describeStartupError(new Error('a\nb'))).toBe('a; b');
    expect(describeStartupError('plain')).toBe('plain');
    expect(describeStartupError(Object.assign(new Error('x'), { code: 'EACCES', syscall: 'listen', address: '0.0.0.0', port: 80 }))).toBe(
      'not permitted to listen on 0.0.0.0:80',
    );
  });
});
