// Admin API routes for authentication and authorization data (robust-ctl mqtt user | acl |
// blacklist | flapping-detect):
//   GET/POST /api/mqtt/users, DELETE /api/mqtt/users/:username
//   GET/POST /api/mqtt/acl, DELETE /api/mqtt/acl/:id
//   GET/POST /api/mqtt/blacklist, DELETE /api/mqtt/blacklist/:type/:value
//   GET /api/mqtt/flapping-detect, GET /api/mqtt/security (counters)

import type { SecurityAdmin } from '../security/security-admin.js';
import type { Router } from './router.js';

export const securityPaths = {
  users: '/api/mqtt/users',
  acl: '/api/mqtt/acl',
  blacklist: '/api/mqtt/blacklist',
  flapping: '/api/mqtt/flapping-detect',
  stats: '/api/mqtt/security',
} as const;

export function registerSecurityRoutes(router: Router, admin: SecurityAdmin): void {
  router.get(securityPaths.users, () => admin.listUsers());
  router.post(securityPaths.users, (req) => admin.createUser(req.body));
  router.delete(`${securityPaths.users}/:username`, (req) => admin.deleteUser(req.params['username']!));
  router.get(securityPaths.acl, () => admin.listAcl());
  router.post(securityPaths.acl, (req) => admin.createAcl(req.body));
  router.delete(`${securityPaths.acl}/:id`, (req) => admin.deleteAcl(req.params['id']!));
  router.get(securityPaths.blacklist, () => admin.listBlacklist());
  router.post(securityPaths.blacklist, (req) => admin.createBlacklist(req.body));
  router.delete(`${securityPaths.blacklist}/:type/:value`, (req) => admin.deleteBlacklist(req.params['type']!, req.params['value']!));
  router.get(securityPaths.flapping, () => admin.listFlapping());
  router.get(securityPaths.stats, () => admin.stats());
}
