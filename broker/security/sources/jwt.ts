// JWT authentication: the token comes in the CONNECT password (or username); a valid signature,
// `exp` / `nbf`, and the configured claim checks (`sub=${username}`) let the client in, and the
// broker closes the connection when `exp` passes. A password that is not JWT-shaped is left to the
// next source.

import { readFileSync } from 'node:fs';
import type { AuthOutcome, AuthRequest, AuthSource } from '../auth-source.js';
import { placeholderValues, truthy } from '../auth-source.js';
import { hmacKey, looksLikeJwt, rsaKey, verifyJwt, type JwtKey } from '../jwt.js';
import { placeholderNames, TemplateError, type PlaceholderName } from '../placeholders.js';

export interface JwtSourceOptions {
  readonly secret: string;
  readonly secretBase64: boolean;
  readonly publicKeyFile: string;
  readonly from: 'password' | 'username';
  readonly verifyClaims: readonly string[];
}

interface ClaimCheck {
  readonly claim: string;
  readonly template: string;
}

export class JwtAuthSource implements AuthSource {
  readonly name = 'jwt';
  readonly perClient = true;
  readonly cacheable = false;
  private readonly keys: JwtKey[] = [];
  private readonly checks: ClaimCheck[];

  constructor(private readonly options: JwtSourceOptions, private readonly now: () => number = Date.now) {
    if (options.secret !== '') this.keys.push(hmacKey(options.secret, options.secretBase64));
    if (options.publicKeyFile !== '') this.keys.push(rsaKey(readFileSync(options.publicKeyFile)));
    this.checks = options.verifyClaims.map((c) => {
      const eq = c.indexOf('=');
      if (eq <= 0) throw new TemplateError(`verify_claims entry ${JSON.stringify(c)} is not "claim=value"`);
      const template = c.slice(eq + 1);
      for (const m of template.matchAll(/\$\{([^}]*)\}/g)) {
        if (!(placeholderNames as readonly string[]).includes(m[1]!)) throw new TemplateError(`unknown placeholder \${${m[1]}} in verify_claims`);
      }
      return { claim: c.slice(0, eq).trim(), template };
    });
  }

  async authenticate(req: AuthRequest): Promise<AuthOutcome> {
    const token = this.options.from === 'password' ? req.password?.toString('utf8') : req.username;
    if (token === undefined || !looksLikeJwt(token)) return { kind: 'ignore' };
    let last = 'no key configured';
    for (const key of this.keys) {
      const r = verifyJwt(token, key, this.now());
      if (!r.ok) {
        last = r.reason;
        continue;
      }
      const values = placeholderValues(req);
      for (const c of this.checks) {
        const want = c.template.replace(/\$\{([^}]*)\}/g, (_m, n: string) => values[n as PlaceholderName]);
        if (String(r.claims[c.claim] ?? '') !== want) return { kind: 'deny', reason: `JWT claim ${c.claim} does not match` };
      }
      return { kind: 'allow', superuser: truthy(r.claims['is_superuser']), expiresAt: r.expiresAt };
    }
    return { kind: 'deny', reason: last };
  }

  async close(): Promise<void> {}
}
