// The broker's admin HTTP listener (`admin.http_port`) on plain node:http: /health, the JSON API
// under /api, and whatever later issues register on the router. Errors are JSON:
//   {"error": {"code": "BR_ADMIN_NOT_FOUND", "message": "..."}}
// with the HTTP status from the error catalogue (common/errors.ts).

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CodedError, errorSpec, isCodedError, type ErrorCode } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import { registerApiRoutes, type AdminRoutes } from './api-routes.js';
import { normalizePath, Router, type AdminRequest, type HttpMethod } from './router.js';

export interface AdminServerOptions {
  readonly host: string;
  /** 0 binds any free port; read the bound one from the result. */
  readonly port: number;
  readonly log: Logger;
  readonly routes: AdminRoutes;
  /** Adds more routes (later features) to the router before the server starts. */
  readonly extend?: (router: Router) => void;
}

export interface AdminServer {
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Largest request body the admin API reads; the API takes small JSON documents only. */
const MAX_BODY_BYTES = 1024 * 1024;

export async function startAdminServer(opts: AdminServerOptions): Promise<AdminServer> {
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) {
    throw new RangeError(`admin port must be 0..65535 (the caller skips a disabled listener), got ${opts.port}`);
  }
  const log = opts.log;
  const router = new Router();
  router.get('/health', () => ({ status: 'ok' }));
  registerApiRoutes(router, opts.routes);
  opts.extend?.(router);

  const server = createServer((req, res) => {
    void handle(router, log, req, res);
  });
  // Keep-alive sockets would hold close() open; closeAllConnections() below ends them.
  await listen(server, opts.host, opts.port);
  const port = (server.address() as AddressInfo).port;
  log.info('admin API listening', { host: opts.host, port });

  let closing: Promise<void> | undefined;
  return {
    host: opts.host,
    port,
    close() {
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((err) => (err === undefined ? resolve() : reject(err)));
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => {
      server.off('listening', onListening);
      reject(err);
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

async function handle(router: Router, log: Logger, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const started = performance.now();
  const rawMethod = req.method ?? 'GET';
  // HEAD is GET without a body (RFC 9110 section 9.3.2).
  const method = rawMethod === 'HEAD' ? 'GET' : rawMethod;
  let path = '/';
  let status = 500;
  try {
    const url = new URL(req.url ?? '/', 'http://admin.invalid');
    path = normalizePath(url.pathname);
    const match = router.match(method, path);
    if (match.kind === 'not-found') {
      status = sendError(res, 'BR_ADMIN_NOT_FOUND', `no route for ${rawMethod} ${path}`);
      return;
    }
    if (match.kind === 'method-not-allowed') {
      const allow: string[] = [...match.allow];
      if (allow.includes('GET')) allow.push('HEAD');
      res.setHeader('Allow', allow.join(', '));
      status = sendError(res, 'BR_ADMIN_METHOD_NOT_ALLOWED', `${rawMethod} is not allowed on ${path}; use ${allow.join(' or ')}`);
      return;
    }
    const request: AdminRequest = {
      method: method as HttpMethod,
      path,
      query: url.searchParams,
      params: match.params,
      headers: req.headers,
      body: method === 'GET' ? undefined : await readJsonBody(req),
    };
    const result: unknown = await match.handler(request);
    if (result === undefined) {
      status = 204;
      res.writeHead(204).end();
    } else {
      status = sendJson(res, 200, result, rawMethod === 'HEAD');
    }
  } catch (err: unknown) {
    const http = isCodedError(err) ? errorSpec(err.code).http : undefined;
    if (http === undefined || http >= 500) log.error('admin request failed', { method: rawMethod, path, err });
    status =
      isCodedError(err) && http !== undefined
        ? sendError(res, err.code, err.message)
        : sendError(res, 'BR_ADMIN_INTERNAL', `${rawMethod} ${path} failed; see the broker log`);
  } finally {
    log.debug('admin request', { method: rawMethod, path, status, ms: Math.round((performance.now() - started) * 10) / 10 });
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown, headOnly = false): number {
  // Serialize before writing the head, so a body that cannot be encoded still gets a clean 500.
  const text = JSON.stringify(body, (_key, value: unknown) => (typeof value === 'bigint' ? bigintToJson(value) : value));
  if (text === undefined) throw new CodedError('INTERNAL', 'admin handler returned a value that is not JSON');
  const payload = Buffer.from(text + '\n', 'utf8');
  if (res.headersSent) return status;
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': payload.length,
    'Cache-Control': 'no-store',
  });
  res.end(headOnly ? undefined : payload);
  return status;
}

function sendError(res: ServerResponse, code: ErrorCode, message: string): number {
  const status = errorSpec(code).http ?? 500;
  return sendJson(res, status, { error: { code, message } });
}

function bigintToJson(value: bigint): number | string {
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value.toString();
}

async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new CodedError('BR_ADMIN_BAD_REQUEST', `request body is larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  if (size === 0) return undefined;
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new CodedError('BR_ADMIN_BAD_REQUEST', 'request body is not valid JSON');
  }
}
