// The admin port of a multi-process broker, served by the primary: `GET /api/workers` lists the
// worker processes; every other request is passed to one worker's own admin API (on 127.0.0.1):
// the one named by `?worker=<i>`, else the first ready one. Writes (users, ACLs, blacklist) land
// in placement, which every worker reads, so any worker may take them; reads of connections and
// sessions show that worker's share. The answering worker is named in `x-robustmq-worker`.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CodedError, errorSpec, type ErrorCode } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import { listen } from '../listeners/listener.js';
import type { WorkerPool } from './worker-pool.js';

export interface AdminProxy {
  readonly port: number;
  close(): Promise<void>;
}

function sendError(res: http.ServerResponse, code: ErrorCode, message: string): void {
  const body = JSON.stringify({ error: { code, message } });
  res.writeHead(errorSpec(code).http ?? 500, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** Which worker a request goes to; throws a CodedError for a bad `worker` parameter. */
export function pickWorker(pool: Pick<WorkerPool, 'adminPort' | 'size'>, param: string | null): { worker: number; port: number } {
  let index: number | undefined;
  if (param !== null) {
    index = /^[1-9][0-9]{0,4}$/.test(param) ? Number(param) : NaN;
    if (!Number.isSafeInteger(index)) throw new CodedError('BR_ADMIN_BAD_REQUEST', `worker must be an integer 1..${pool.size}, got ${JSON.stringify(param)}`);
    if (index > pool.size) throw new CodedError('BR_ADMIN_NOT_FOUND', `no worker ${index}: this broker runs ${pool.size}`);
  }
  const target = pool.adminPort(index);
  if (target === null) {
    throw new CodedError('BR_ADMIN_INTERNAL', index === undefined ? 'no worker is running (they are restarting)' : `worker ${index} is not running (it is restarting)`);
  }
  return target;
}

export async function startAdminProxy(opts: { host: string; port: number; pool: WorkerPool; log: Logger }): Promise<AdminProxy> {
  const { pool, log } = opts;
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://admin');
    if (url.pathname.replace(/\/+$/, '') === '/api/workers') {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.setHeader('allow', 'GET, HEAD');
        sendError(res, 'BR_ADMIN_METHOD_NOT_ALLOWED', `${req.method} is not allowed on /api/workers`);
        return;
      }
      const body = JSON.stringify(pool.info());
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    let target: { worker: number; port: number };
    try {
      target = pickWorker(pool, url.searchParams.get('worker'));
    } catch (err: unknown) {
      req.resume();
      if (err instanceof CodedError) sendError(res, err.code, err.message);
      else sendError(res, 'BR_ADMIN_INTERNAL', String(err));
      return;
    }
    url.searchParams.delete('worker');
    const upstream = http.request({
      host: '127.0.0.1', port: target.port, method: req.method, path: url.pathname + url.search,
      headers: { ...req.headers, host: `127.0.0.1:${target.port}`, connection: 'close' },
    }, (up) => {
      res.writeHead(up.statusCode ?? 502, { ...up.headers, 'x-robustmq-worker': String(target.worker) });
      up.pipe(res);
    });
    upstream.on('error', (err) => {
      log.debug('admin request to a worker failed', { worker: target.worker, error: err.message });
      if (!res.headersSent) sendError(res, 'BR_ADMIN_INTERNAL', `worker ${target.worker} did not answer: ${err.message}`);
      else res.destroy();
    });
    req.pipe(upstream);
  });
  await listen(server, opts.host, opts.port);
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
