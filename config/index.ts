export { load, configFrom, defaults, deepFreeze, FILE_NAMES, type LoadOptions } from './load.js';
export { sliceFor } from './slice.js';
export { redact, isSecretKey, REDACTED } from './redact.js';
export { ConfigError, CONFIG_INVALID, describeIssue, type ConfigIssue } from './errors.js';
export { ENV_PREFIX, parseEnvValue } from './env.js';
export {
  configSchema,
  SECTIONS,
  STAGES,
  DEFAULT_PROMPT,
  type Config,
  type ConfigInput,
  type ConfigSection,
  type Stage,
  type ServerConfig,
  type AuthConfig,
  type AudioConfig,
  type WorkersConfig,
  type VadConfig,
  type ProvidersConfig,
  type ProviderInstanceConfig,
  type PipelineConfig,
  type RoleConfig,
  type DeviceConfig,
  type LogConfig,
} from './schema.js';
