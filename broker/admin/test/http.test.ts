import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CodedError } from '../../../common/errors.js';
import { createLogger } from '../../../common/log.js';
import { startAdminServer, type AdminServer } from '../http.js';
import type { AdminRoutes } from '../api-routes.js';

const logLines: string[] = [];
const log = createLogger('debug', 'broker.admin', { write: (l) => logLines.push(l) });

let failNext: unknown;
const routes: AdminRoutes = {
  overview: () => ({ connections: 2, sessions: 3, subscriptions: 4, retained: 1, messages: { in: 10, out: 20 } }),
  clients: async () => [{ client_id: 'c1', protocol_version: 5 }],
  sessions: () => {
    if (failNext !== undefined) {
      const e = failNext;
      failNext = undefined;
      throw e;
    }
    return [];
  },
  subscriptions: (req) => [{ filter: req.query.get('filter') ?? 'all' }],
  topics: () => [{ topic: 'a/b', big: 2n ** 70n }],
};

let server: AdminServer;
beforeAll(async () => {
  server = await startAdminServer({
    host: '127.0.0.1',
    port: 0,
    log,
    routes,
    extend: (router) => {
      router.get('/api/clients/:client_id', (req) => ({ id: req.params.client_id }));
      router.post('/api/echo', (req) => ({ got: req.body ?? null }));
      router.delete('/api/echo', () => undefined);
      router.get('/api/cyclic', () => {
        const o: Record<string, unknown> = {};
        o.self = o;
        return o;
      });
    },
  });
});
afterAll(() => server.close());

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: unknown;
}

function call(method: string, path: string, body?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: server.port, method, path, agent: false, headers: body === undefined ? {} : { 'content-type': 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = text === '' ? undefined : JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('admin HTTP server', () => {
  it('binds port 0 to a real port', () => {
    expect(server.port).toBeGreaterThan(0);
  });

  it('GET /health answers {"status":"ok"}', async () => {
    const r = await call('GET', '/health');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(r.json).toEqual({ status: 'ok' });
  });

  it('GET /api/overview answers what routes.overview() returns', async () => {
    const r = await call('GET', '/api/overview');
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ connections: 2, sessions: 3, subscriptions: 4, retained: 1, messages: { in: 10, out: 20 } });
  });

  it('serves every list route, async handlers and query strings included', async () => {
    expect((await call('GET', '/api/clients')).json).toEqual([{ client_id: 'c1', protocol_version: 5 }]);
    expect((await call('GET', '/api/sessions')).json).toEqual([]);
    expect((await call('GET', '/api/subscriptions?filter=a%2F%2B')).json).toEqual([{ filter: 'a/+' }]);
    expect((await call('GET', '/api/topics/')).json).toEqual([{ topic: 'a/b', big: (2n ** 70n).toString() }]);
  });

  it('unknown paths are 404 with a JSON error', async () => {
    const r = await call('GET', '/api/nope');
    expect(r.status).toBe(404);
    expect(r.json).toEqual({ error: { code: 'BR_ADMIN_NOT_FOUND', message: 'no route for GET /api/nope' } });
  });

  it('a wrong method is 405 with Allow', async () => {
    const r = await call('POST', '/api/overview', '{}');
    expect(r.status).toBe(405);
    expect(r.headers.allow).toBe('GET, HEAD');
    expect((r.json as { error: { code: string } }).error.code).toBe('BR_ADMIN_METHOD_NOT_ALLOWED');
    const patch = await call('PATCH', '/api/echo');
    expect(patch.status).toBe(405);
    expect(patch.headers.allow).toBe('POST, DELETE');
  });

  it('HEAD answers like GET without a body', async () => {
    const r = await call('HEAD', '/health');
    expect(r.status).toBe(200);
    expect(r.text).toBe('');
    expect(Number(r.headers['content-length'])).toBeGreaterThan(0);
  });

  it('a throwing handler is 500 with a JSON error and a log line', async () => {
    failNext = new Error('database on fire');
    const before = logLines.length;
    const r = await call('GET', '/api/sessions');
    expect(r.status).toBe(500);
    expect(r.json).toEqual({ error: { code: 'BR_ADMIN_INTERNAL', message: 'GET /api/sessions failed; see the broker log' } });
    const logged = logLines.slice(before).find((l) => l.includes('ERROR broker.admin admin request failed'));
    expect(logged).toContain('database on fire');
    expect(logged).toContain('"path":"/api/sessions"');
  });

  it('a handler throwing a coded error answers with its HTTP status', async () => {
    failNext = new CodedError('BR_ADMIN_NOT_FOUND', 'no session "x"');
    const r = await call('GET', '/api/sessions');
    expect(r.status).toBe(404);
    expect(r.json).toEqual({ error: { code: 'BR_ADMIN_NOT_FOUND', message: 'no session "x"' } });
    failNext = new CodedError('BR_STORAGE_UNAVAILABLE', 'leveldb closed');
    expect((await call('GET', '/api/sessions')).status).toBe(503);
  });

  it('a result that cannot be JSON is a 500, not a hung request', async () => {
    const r = await call('GET', '/api/cyclic');
    expect(r.status).toBe(500);
    expect((r.json as { error: { code: string } }).error.code).toBe('BR_ADMIN_INTERNAL');
  });

  it('extra routes: path parameters, JSON bodies, 204 for no result, 400 for bad JSON', async () => {
    expect((await call('GET', '/api/clients/dev%2F1')).json).toEqual({ id: 'dev/1' });
    expect((await call('POST', '/api/echo', '{"a":1}')).json).toEqual({ got: { a: 1 } });
    expect((await call('POST', '/api/echo')).json).toEqual({ got: null });
    const bad = await call('POST', '/api/echo', '{nope');
    expect(bad.status).toBe(400);
    expect((bad.json as { error: { code: string } }).error.code).toBe('BR_ADMIN_BAD_REQUEST');
    const del = await call('DELETE', '/api/echo');
    expect(del.status).toBe(204);
    expect(del.text).toBe('');
  });

  it('logs each request at debug level', () => {
    expect(logLines.some((l) => l.includes('DEBUG broker.admin admin request {"method":"GET","path":"/health","status":200'))).toBe(true);
  });
});

describe('admin server lifecycle', () => {
  it('close() ends keep-alive connections and frees the port; a busy port rejects', async () => {
    const a = await startAdminServer({ host: '127.0.0.1', port: 0, log, routes });
    await expect(startAdminServer({ host: '127.0.0.1', port: a.port, log, routes })).rejects.toMatchObject({ code: 'EADDRINUSE' });
    // A keep-alive request leaves an idle socket that close() must not wait for.
    await new Promise<void>((resolve, reject) => {
      request({ host: '127.0.0.1', port: a.port, path: '/health', headers: { connection: 'keep-alive' } }, (res) => {
        res.resume();
        res.on('end', resolve);
      })
        .on('error', reject)
        .end();
    });
    await a.close();
    await a.close();
    const b = await startAdminServer({ host: '127.0.0.1', port: a.port, log, routes });
    await b.close();
  });

  it('refuses a disabled (-1) port: the broker skips the listener instead', async () => {
    await expect(startAdminServer({ host: '127.0.0.1', port: -1, log, routes })).rejects.toThrow(RangeError);
  });
});
