// What the security layer takes from the broker config: the `auth`, `acl`, `flapping_detect` and
// `rate_limit` sections unchanged (their keys and units are documented in config/broker.toml).

import { brokerSchema, configDefaults, type BrokerConfig } from '../../common/config/index.js';

export type SecurityOptions = Pick<BrokerConfig, 'auth' | 'acl' | 'flapping_detect' | 'rate_limit'>;

export function securityOptionsFrom(config: BrokerConfig): SecurityOptions {
  return { auth: config.auth, acl: config.acl, flapping_detect: config.flapping_detect, rate_limit: config.rate_limit };
}

let defaults: SecurityOptions | undefined;

/** The quick-start defaults of config/broker.toml, with `overrides` laid over whole sections. */
export function defaultSecurityOptions(overrides: Partial<SecurityOptions> = {}): SecurityOptions {
  defaults ??= securityOptionsFrom(configDefaults(brokerSchema));
  return { ...defaults, ...overrides };
}
