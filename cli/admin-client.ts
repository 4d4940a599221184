// Reads one JSON document from a broker's admin HTTP API. Every failure becomes a CodedError:
// CTL_SERVER_UNREACHABLE when no HTTP answer came back, CTL_BAD_RESPONSE when the answer is an
// error status or not JSON.

import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { CodedError } from '../common/errors.js';

export interface GetJsonOptions {
  /** Whole-request deadline in milliseconds. */
  readonly timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const MAX_RESPONSE_BYTES = 64 * 1024 * 1024;

/** `http://host:port` from what a user types: a URL, or `host:port` without a scheme. */
export function parseServerUrl(server: string): URL | undefined {
  const text = /^[a-z][a-z0-9+.-]*:\/\//i.test(server) ? server : `http://${server}`;
  try {
    const url = new URL(text);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
    if (url.hostname === '') return undefined;
    return url;
  } catch {
    return undefined;
  }
}

export function getJson(server: URL, path: string, options: GetJsonOptions = {}): Promise<unknown> {
  return requestJson(server, 'GET', path, undefined, options);
}

/** One request with an optional JSON body; the answer's JSON (undefined for 204). */
export function requestJson(server: URL, method: 'GET' | 'POST' | 'DELETE', path: string, body: unknown, options: GetJsonOptions = {}): Promise<unknown> {
  const url = new URL(path, server);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string> = { accept: 'application/json' };
    if (payload !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(payload.length);
    }
    const req = request(url, { method, headers, agent: false }, (res) => {
      readBody(res).then(
        (text) => {
          try {
            resolve(interpret(url, res.statusCode ?? 0, text));
          } catch (err: unknown) {
            reject(err);
          }
        },
        (err: unknown) => reject(unreachable(server, err)),
      );
    });
    req.setTimeout(timeoutMs, () => {
      req.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' }));
    });
    req.on('error', (err) => reject(unreachable(server, err)));
    req.end(payload);
  });
}

async function readBody(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_RESPONSE_BYTES) throw new Error(`response larger than ${MAX_RESPONSE_BYTES} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function interpret(url: URL, status: number, text: string): unknown {
  let body: unknown;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    throw new CodedError('CTL_BAD_RESPONSE', `${url.href} answered ${status} with a body that is not JSON`);
  }
  if (status < 200 || status > 299) {
    const error = (body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
    const detail = error !== undefined && typeof error.message === 'string' ? `${String(error.code ?? '')}: ${error.message}`.replace(/^: /, '') : text.trim().slice(0, 200);
    throw new CodedError('CTL_BAD_RESPONSE', `${url.href} answered ${status}${detail === '' ? '' : ` (${detail})`}`, {
      details: { status, body },
    });
  }
  return body;
}

const reasons: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  ECONNRESET: 'connection reset',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'timed out',
};

function unreachable(server: URL, err: unknown): CodedError {
  const code = (err as { code?: unknown }).code;
  const why = typeof code === 'string' && reasons[code] !== undefined ? reasons[code] : err instanceof Error ? err.message : String(err);
  return new CodedError('CTL_SERVER_UNREACHABLE', `cannot reach the broker admin API at ${server.origin}: ${why}`, { cause: err });
}
