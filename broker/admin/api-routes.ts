// The JSON API under /api that robust-ctl and the dashboard use. The broker supplies the data
// through AdminRoutes; this file only maps paths to those handlers. A new endpoint is one member
// here and one line in registerApiRoutes.

import type { AdminRequest, Router } from './router.js';

/** One JSON object: a row of a list or the overview. */
export type AdminRow = Readonly<Record<string, unknown>>;

type MaybePromise<T> = T | Promise<T>;

export interface AdminRoutes {
  /** GET /api/overview: counters such as connections, sessions, subscriptions, retained, messages in/out. */
  overview(req: AdminRequest): MaybePromise<AdminRow>;
  /** GET /api/clients: one row per connected client. */
  clients(req: AdminRequest): MaybePromise<readonly AdminRow[]>;
  /** GET /api/sessions: one row per session, connected or not. */
  sessions(req: AdminRequest): MaybePromise<readonly AdminRow[]>;
  /** GET /api/subscriptions: one row per (client, filter). */
  subscriptions(req: AdminRequest): MaybePromise<readonly AdminRow[]>;
  /** GET /api/topics: one row per topic the broker has seen or retains. */
  topics(req: AdminRequest): MaybePromise<readonly AdminRow[]>;
}

export const apiPaths = {
  overview: '/api/overview',
  clients: '/api/clients',
  sessions: '/api/sessions',
  subscriptions: '/api/subscriptions',
  topics: '/api/topics',
} as const satisfies Record<keyof AdminRoutes, string>;

export function registerApiRoutes(router: Router, routes: AdminRoutes): void {
  for (const name of Object.keys(apiPaths) as (keyof AdminRoutes)[]) {
    router.get(apiPaths[name], (req) => routes[name](req));
  }
}
