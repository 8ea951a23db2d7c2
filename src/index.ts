/**
 * knex-zero-downtime: zero-downtime migrations for Knex.js on PostgreSQL.
 * Explicit named exports only.
 */
export { parseSettings } from './config.js';
export type { ZeroDowntimeOptions, Settings, Severity, QuorumBackendName } from './config.js';
export { STAGES, isStage, invertStage, resolveStage, inferStage } from './stages.js';
export type { Stage, StageSource, StageResolution, InferredStages } from './stages.js';
export type { Duration } from './duration.js';
export {
  ZeroDowntimeError,
  ConfigError,
  StageError,
  CheckFailedError,
  MigrationError,
  LockTimeoutError,
  IdentifierError,
  UnsafeOperationError,
  QuorumError,
  HotUpgradeError,
} from './errors.js';
export type { ZeroDowntimeErrorOptions } from './errors.js';
export { LOCK_MODES } from './analysis/types.js';
export type {
  LockMode,
  LockInfo,
  Finding,
  FindingSeverity,
  ObjectRef,
  ObjectEffect,
  ActionAnalysis,
  StatementAnalysis,
  AnalyzeSqlOptions,
} from './analysis/types.js';
export { executePlan } from './operations/plan.js';
export type { OperationPlan, PlanStep, StepTransaction } from './operations/plan.js';
