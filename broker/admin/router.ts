// A small method + path router for the admin HTTP API. Patterns are literal segments and
// `:name` parameters (`/api/clients/:client_id`); a handler gets the request's parts and returns
// JSON-able data (or a Promise of it), or throws a CodedError whose HTTP status is used.

import type { IncomingHttpHeaders } from 'node:http';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface AdminRequest {
  readonly method: HttpMethod;
  /** Normalized path: no query, no trailing slash (except `/`). */
  readonly path: string;
  readonly query: URLSearchParams;
  /** Values of `:name` segments, percent-decoded. */
  readonly params: Readonly<Record<string, string>>;
  readonly headers: IncomingHttpHeaders;
  /** Parsed JSON body of POST/PUT/DELETE requests; undefined when there was none. */
  readonly body: unknown;
}

/** `undefined` answers 204 No Content; anything else is sent as JSON with 200. */
export type RouteHandler = (req: AdminRequest) => unknown;

type Segment = { literal: string } | { param: string };

interface Route {
  readonly method: HttpMethod;
  readonly pattern: string;
  readonly segments: readonly Segment[];
  readonly handler: RouteHandler;
}

export type RouteMatch =
  | { kind: 'found'; handler: RouteHandler; params: Record<string, string> }
  | { kind: 'method-not-allowed'; allow: HttpMethod[] }
  | { kind: 'not-found' };

export class Router {
  private readonly routes: Route[] = [];

  add(method: HttpMethod, pattern: string, handler: RouteHandler): this {
    if (!pattern.startsWith('/')) throw new TypeError(`route pattern must start with "/": ${pattern}`);
    const segments = splitPath(normalizePath(pattern)).map((s): Segment => (s.startsWith(':') ? { param: s.slice(1) } : { literal: s }));
    if (this.routes.some((r) => r.method === method && r.pattern === pattern)) {
      throw new Error(`route ${method} ${pattern} is already registered`);
    }
    this.routes.push({ method, pattern, segments, handler });
    return this;
  }

  get(pattern: string, handler: RouteHandler): this {
    return this.add('GET', pattern, handler);
  }

  post(pattern: string, handler: RouteHandler): this {
    return this.add('POST', pattern, handler);
  }

  put(pattern: string, handler: RouteHandler): this {
    return this.add('PUT', pattern, handler);
  }

  delete(pattern: string, handler: RouteHandler): this {
    return this.add('DELETE', pattern, handler);
  }

  /** Routes as `METHOD pattern`, for listings and tests. */
  list(): string[] {
    return this.routes.map((r) => `${r.method} ${r.pattern}`);
  }

  match(method: string, path: string): RouteMatch {
    const parts = splitPath(path);
    const allow: HttpMethod[] = [];
    for (const route of this.routes) {
      const params = matchSegments(route.segments, parts);
      if (params === undefined) continue;
      if (route.method === method) return { kind: 'found', handler: route.handler, params };
      if (!allow.includes(route.method)) allow.push(route.method);
    }
    return allow.length > 0 ? { kind: 'method-not-allowed', allow } : { kind: 'not-found' };
  }
}

export function normalizePath(path: string): string {
  const collapsed = path.replace(/\/{2,}/g, '/');
  return collapsed.length > 1 && collapsed.endsWith('/') ? collapsed.slice(0, -1) : collapsed;
}

function splitPath(path: string): string[] {
  return path === '/' ? [] : path.slice(1).split('/');
}

function matchSegments(segments: readonly Segment[], parts: readonly string[]): Record<string, string> | undefined {
  if (segments.length !== parts.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!;
    const part = parts[i]!;
    if ('literal' in segment) {
      if (segment.literal !== part) return undefined;
    } else {
      let value: string;
      try {
        value = decodeURIComponent(part);
      } catch {
        return undefined;
      }
      if (value === '') return undefined;
      params[segment.param] = value;
    }
  }
  return params;
}
