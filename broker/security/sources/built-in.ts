// Built-in users: the placement center's user list, mirrored in memory by SecurityCache, so a
// lookup is a map read; only the password check costs (pbkdf2 runs off the event loop).

import type { AuthOutcome, AuthRequest, AuthSource } from '../auth-source.js';
import { verifyPassword } from '../password-hash.js';
import type { UserRecord } from '../security-store.js';

export class BuiltInAuthSource implements AuthSource {
  readonly name = 'built_in';
  readonly perClient = false;
  readonly cacheable = true;

  constructor(private readonly users: { getUser(username: string): UserRecord | undefined }) {}

  async authenticate(req: AuthRequest): Promise<AuthOutcome> {
    if (req.username === undefined) return { kind: 'ignore' };
    const user = this.users.getUser(req.username);
    if (user === undefined) return { kind: 'ignore' };
    const password = req.password?.toString('utf8') ?? '';
    const ok = await verifyPassword(user.hashSpec, password, { hash: user.hash, salt: user.salt });
    return ok ? { kind: 'allow', superuser: user.superuser } : { kind: 'deny', reason: 'wrong password' };
  }

  async close(): Promise<void> {}
}
