import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAdminServer, type AdminServer } from '../../broker/admin/http.js';
import type { AdminRoutes } from '../../broker/admin/api-routes.js';
import { silentLogger } from '../../common/log.js';
import { runCtl } from '../robust-ctl.js';
import { renderKeyValue, renderTable, width } from '../table.js';

// Fake data behind a real admin server: the CLI is the unit under test.
let clients: unknown[] = [
  { client_id: 'sensor-1', username: 'alice', protocol_version: 5, messages_in: 42 },
  { client_id: 'dashboard', username: null, protocol_version: 4, messages_in: 7 },
];
const routes: AdminRoutes = {
  overview: () => ({ connections: 2, sessions: 3, subscriptions: 5, retained: 1, messages: { in: 49, out: 12 } }),
  clients: () => clients as never,
  sessions: () => [{ client_id: 'sensor-1', connected: true, queued: 0 }],
  subscriptions: () => [],
  topics: () => [{ topic: 'home/kitchen\ntemp', retained: true }],
};

let server: AdminServer;
let url: string;
beforeAll(async () => {
  server = await startAdminServer({ host: '127.0.0.1', port: 0, log: silentLogger, routes });
  url = `http://127.0.0.1:${server.port}`;
});
afterAll(() => server.close());

async function ctl(...args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCtl(args, { out: (t) => out.push(t), err: (t) => err.push(t) }, { timeoutMs: 5000 });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('robust-ctl mqtt', () => {
  it('overview as a name/value table, nested counters dotted', async () => {
    const r = await ctl('mqtt', 'overview', '--server', url);
    expect(r.code).toBe(0);
    expect(r.out).toBe(
      [
        '+---------------+-------+',
        '| name          | value |',
        '+---------------+-------+',
        '| connections   |     2 |',
        '| sessions      |     3 |',
        '| subscriptions |     5 |',
        '| retained      |     1 |',
        '| messages.in   |    49 |',
        '| messages.out  |    12 |',
        '+---------------+-------+',
      ].join('\n'),
    );
  });

  it('client list as a table with a count', async () => {
    const r = await ctl('mqtt', 'client', 'list', '--server', url);
    expect(r.code).toBe(0);
    expect(r.out).toBe(
      [
        '+-----------+----------+------------------+-------------+',
        '| client_id | username | protocol_version | messages_in |',
        '+-----------+----------+------------------+-------------+',
        '| sensor-1  | alice    |                5 |          42 |',
        '| dashboard | -        |                4 |           7 |',
        '+-----------+----------+------------------+-------------+',
        '2 clients',
      ].join('\n'),
    );
  });

  it('--output json prints the server document as is', async () => {
    const r = await ctl('mqtt', 'session', 'list', '--server', url, '--output', 'json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toEqual([{ client_id: 'sensor-1', connected: true, queued: 0 }]);
    const o = await ctl('--output=json', 'mqtt', 'overview', `--server=${url}`);
    expect(JSON.parse(o.out)).toMatchObject({ connections: 2 });
  });

  it('an empty list says so', async () => {
    const r = await ctl('mqtt', 'subscribe', 'list', '--server', url);
    expect(r).toEqual({ code: 0, out: 'no subscriptions', err: '' });
  });

  it('control characters cannot break a row', async () => {
    const r = await ctl('mqtt', 'topic', 'list', '--server', url);
    expect(r.out).toContain('| home/kitchen\\ntemp | true     |');
    expect(r.out.endsWith('1 topic')).toBe(true);
  });

  it('accepts host:port without a scheme', async () => {
    const r = await ctl('mqtt', 'overview', '--server', `127.0.0.1:${server.port}`, '-o', 'json');
    expect(r.code).toBe(0);
  });

  it('an unreachable server is a clear error and exit 1', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as { port: number }).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const r = await ctl('mqtt', 'client', 'list', '--server', `http://127.0.0.1:${port}`);
    expect(r.code).toBe(1);
    expect(r.out).toBe('');
    expect(r.err).toBe(`robust-ctl: cannot reach the broker admin API at http://127.0.0.1:${port}: connection refused`);
  });

  it('an error answer is exit 1 with the server error', async () => {
    const other = await startAdminServer({
      host: '127.0.0.1',
      port: 0,
      log: silentLogger,
      routes: { ...routes, clients: () => Promise.reject(new Error('boom')) },
    });
    try {
      const r = await ctl('mqtt', 'client', 'list', '--server', `http://127.0.0.1:${other.port}`);
      expect(r.code).toBe(1);
      expect(r.err).toBe(
        `robust-ctl: http://127.0.0.1:${other.port}/api/clients answered 500 (BR_ADMIN_INTERNAL: GET /api/clients failed; see the broker log)`,
      );
    } finally {
      await other.close();
    }
  });

  it('a list route that answers something else is exit 1', async () => {
    clients = { not: 'a list' } as never;
    try {
      const r = await ctl('mqtt', 'client', 'list', '--server', url);
      expect(r.code).toBe(1);
      expect(r.err).toContain('/api/clients answered with something other than a list of objects');
    } finally {
      clients = [];
    }
  });

  it('unknown commands and bad options print usage and exit 2', async () => {
    for (const args of [[], ['mqtt'], ['mqtt', 'publish'], ['mqtt', 'client'], ['mqtt', 'overview', '--output', 'yaml'], ['mqtt', 'overview', '--bogus'], ['mqtt', 'overview', '--server', 'ftp://x']]) {
      const r = await ctl(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.out).toBe('');
      expect(r.err).toContain('Usage: robust-ctl <command>');
    }
  });

  it('--help lists the commands, exit 0', async () => {
    const r = await ctl('--help');
    expect(r.code).toBe(0);
    for (const c of ['mqtt overview', 'mqtt client list', 'mqtt session list', 'mqtt subscribe list', 'mqtt topic list']) expect(r.out).toContain(c);
  });
});

describe('table rendering', () => {
  it('takes the union of columns, shows absent values as "-", nested values as JSON', () => {
    expect(renderTable([{ a: 1 }, { b: 'x', c: { d: [1] } }])).toBe(
      ['+---+---+-----------+', '| a | b | c         |', '+---+---+-----------+', '| 1 | - | -         |', '| - | x | {"d":[1]} |', '+---+---+-----------+'].join('\n'),
    );
  });

  it('counts terminal columns, so CJK and emoji keep columns aligned', () => {
    const lines = renderTable([{ name: '😀x' }, { name: '温度' }, { name: 'e\u0301' }, { name: 'abcde' }]).split('\n');
    expect(lines.slice(3, 7)).toEqual(['| 😀x   |', '| 温度  |', '| e\u0301     |', '| abcde |']);
    expect(width('温度/😀')).toBe(7);
  });

  it('key/value for an empty nested object keeps it as a value', () => {
    expect(renderKeyValue({ a: {} })).toContain('| a    | {}    |');
  });
});
