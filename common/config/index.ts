// The config system's public surface; services import from here.

export { loadConfig, configDefaults, ConfigError, type ConfigProblem, type LoadConfigOptions } from './load-config.js';
export {
  ConfigField,
  flattenSchema,
  crossChecks,
  hostPort,
  raftPeer,
  int,
  port,
  bool,
  str,
  oneOf,
  stringList,
  duration,
  bytes,
  tableList,
  type ConfigSchema,
  type ConfigOf,
  type CrossCheckProblem,
  type FieldSpec,
  type FieldKind,
  type SchemaEntry,
  type ValuePattern,
} from './schema.js';
export { parseDuration, parseBytes, formatDuration, formatBytes } from './units.js';
export { parseSetOverride, type SetOverride } from './set-override.js';
export { formatConfigKeys, formatTomlValue, describeKind } from './describe.js';
export {
  brokerSchema,
  storageDrivers,
  sharedSubscriptionStrategies,
  offlineOverflowPolicies,
  type BrokerConfig,
  type StorageDriverName,
  type SharedSubscriptionStrategy,
  type OfflineOverflowPolicy,
  type AuthChainConfig,
  type AclChainConfig,
  type AuthSourceType,
  type AclSourceType,
  type PasswordHashName,
} from './broker-schema.js';
export { placementSchema, type PlacementConfig } from './placement-schema.js';
export { journalSchema, type JournalConfig } from './journal-schema.js';
