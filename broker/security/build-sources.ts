// Builds the configured chains' sources from `[[auth.chain]]` / `[[acl.chain]]` entries.

import type { AclChainConfig, AuthChainConfig } from '../../common/config/index.js';
import type { AclSource, AuthSource } from './auth-source.js';
import { hashSpec, type PasswordHashSpec } from './password-hash.js';
import type { UserRecord } from './security-store.js';
import { BuiltInAuthSource } from './sources/built-in.js';
import { JwtAuthSource } from './sources/jwt.js';
import { MysqlAclSource, MysqlAuthSource } from './sources/mysql.js';
import { RedisAclSource, RedisAuthSource } from './sources/redis.js';

export function hashSpecOf(c: AuthChainConfig['password_hash']): PasswordHashSpec {
  return hashSpec({
    name: c.name, saltPosition: c.salt_position, iterations: c.iterations, macFun: c.mac_fun, dkLength: c.dk_length, saltRounds: c.salt_rounds,
  });
}

/** Password sources in chain order (scram entries are not password sources: they answer AUTH). */
export function buildAuthSources(chain: readonly AuthChainConfig[], users: { getUser(u: string): UserRecord | undefined }): AuthSource[] {
  const out: AuthSource[] = [];
  for (const c of chain) {
    if (!c.enable) continue;
    switch (c.type) {
      case 'built_in': out.push(new BuiltInAuthSource(users)); break;
      case 'mysql': out.push(new MysqlAuthSource({ url: c.url, query: c.query, timeoutMs: c.timeout }, hashSpecOf(c.password_hash))); break;
      case 'redis': out.push(new RedisAuthSource({ url: c.url, cmd: c.cmd, timeoutMs: c.timeout }, hashSpecOf(c.password_hash))); break;
      case 'jwt':
        out.push(new JwtAuthSource({
          secret: c.secret, secretBase64: c.secret_base64_encoded, publicKeyFile: c.public_key_file, from: c.from, verifyClaims: c.verify_claims,
        }));
        break;
      case 'scram': break;
    }
  }
  return out;
}

/** ACL chain entries in order: 'built_in' (the cached rules) or a source read at CONNECT. */
export function buildAclSources(chain: readonly AclChainConfig[]): Array<'built_in' | AclSource> {
  const out: Array<'built_in' | AclSource> = [];
  for (const c of chain) {
    if (!c.enable) continue;
    if (c.type === 'built_in') out.push('built_in');
    else if (c.type === 'mysql') out.push(new MysqlAclSource({ url: c.url, query: c.query, timeoutMs: c.timeout }));
    else out.push(new RedisAclSource({ url: c.url, cmd: c.cmd, timeoutMs: c.timeout }));
  }
  return out;
}
