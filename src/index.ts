/**
 * knex-zero-downtime: zero-downtime migrations for Knex.js on PostgreSQL.
 * Explicit named exports only.
 */
import './augment.js';
export { parseSettings } from './config.js';
export type { ZeroDowntimeOptions, Settings, Severity, QuorumBackendName } from './config.js';
export type { MigrationConfig } from './augment.js';
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
  TransactionPoolingError,
  IdentifierError,
  UnsafeOperationError,
  QuorumError,
  MigrationLockError,
  HotUpgradeError,
} from './errors.js';
export type { ZeroDowntimeErrorOptions } from './errors.js';
export { analyzeSql, analyzeSqlSync, loadParser } from './analysis/classify/index.js';
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
export { withHotUpgrade } from './hot-upgrade/with-hot-upgrade.js';
export type { HotUpgradeOptions, HotUpgradeConfig } from './hot-upgrade/with-hot-upgrade.js';
export { TypeRegistry } from './hot-upgrade/type-registry.js';
export type { TypeRegistryOptions, TypeRegistryEvents, ServerChangeEvent } from './hot-upgrade/type-registry.js';
export { hstoreType, citextType, BUILTIN_TYPES } from './hot-upgrade/type-definition.js';
export type { TypeDefinition, TypeParser } from './hot-upgrade/type-definition.js';
export type { ServerTypes, ResolvedType, MovedType } from './hot-upgrade/server-types.js';
export { parseHstore } from './hot-upgrade/hstore.js';
export type { Hstore } from './hot-upgrade/hstore.js';
export { parsePgArray } from './hot-upgrade/pg-array.js';
export type { PgArray } from './hot-upgrade/pg-array.js';
export {
  saferRenameTablePart1,
  saferRenameTablePart2,
  revertSaferRenameTablePart1,
  revertSaferRenameTablePart2,
  saferRenameColumnPart1,
  saferRenameColumnPart2,
  revertSaferRenameColumnPart1,
  revertSaferRenameColumnPart2,
  addNullableColumn,
  addColumnWithDefault,
  prepareDropColumn,
  dropColumn,
  dropTable,
  addIndexConcurrently,
  dropIndexConcurrently,
  addUniqueConstraint,
  addCheckConstraint,
  addForeignKey,
  setNotNull,
  dropNotNull,
  backfill,
} from './operations/index.js';
export type {
  AddColumnWithDefaultOptions,
  AddIndexOptions,
  AddUniqueConstraintOptions,
  AddForeignKeyOptions,
  ReferentialAction,
  SetNotNullOptions,
  BackfillOptions,
  BackfillProgress,
  SchemaOption,
  SqlValue,
  RawSql,
} from './operations/index.js';
export { wrapMigration } from './runner/wrap-migration.js';
export type { RunContext } from './runner/wrap-migration.js';
export type { BlockingProcess } from './runner/blockers.js';
export { runWithQuorum } from './quorum/run-with-quorum.js';
export type { QuorumRunOptions, QuorumResult } from './quorum/run-with-quorum.js';
export { decideQuorumStep } from './quorum/decide.js';
export type { QuorumView, QuorumStep } from './quorum/decide.js';
export { quorumNamespace } from './quorum/namespace.js';
export type { QuorumNamespaceInput, QuorumPlanEntry } from './quorum/namespace.js';
export { createQuorumBackend, validateQuorumUrl } from './quorum/create-backend.js';
export type { QuorumBackendOptions, QuorumBackendContext } from './quorum/create-backend.js';
export { resolveQuorumOptions } from './quorum/resolve-options.js';
export type { QuorumFlags, ResolvedQuorumOptions } from './quorum/resolve-options.js';
export { formatQuorumEvent } from './quorum/events.js';
export type { QuorumEvent } from './quorum/events.js';
export { defaultDeployerId } from './quorum/deployer-id.js';
export { RedisQuorumBackend } from './quorum/redis-quorum.js';
export type { RedisQuorumOptions } from './quorum/redis-quorum.js';
export { MemcachedQuorumBackend } from './quorum/memcached-quorum.js';
export type { MemcachedQuorumOptions } from './quorum/memcached-quorum.js';
export { PostgresQuorumBackend, DEFAULT_QUORUM_TABLE } from './quorum/postgres-quorum.js';
export type { PostgresQuorumOptions } from './quorum/postgres-quorum.js';
export type {
  QuorumBackend,
  QuorumState,
  QuorumDecision,
  QuorumOutcome,
  QuorumOutcomeKind,
  QuorumArrival,
  QuorumClaim,
} from './quorum/types.js';
export { analyzeMigration } from './analysis/analyze-migration.js';
export type { MigrationModule, MigrationInput, AnalyzeMigrationOptions } from './analysis/analyze-migration.js';
export type { MigrationReport, CapturedStatement, CheckFinding, Direction } from './analysis/migration-types.js';
export { createStagedMigrator } from './migrator/staged-migrator.js';
export type {
  StagedMigrator,
  StagedMigratorOptions,
  StagedOptions,
  MigrationPlan,
  MigrationStatus,
  MigrateResult,
  MigrationLockRunOptions,
  StepConfig,
} from './migrator/staged-migrator.js';
export type { StageOrderConflict } from './migrator/stage-order.js';
export { MigrationLock, withMigrationLock, DEFAULT_LOCK_TABLE, DEFAULT_LOCK_LEASE_MS, DEFAULT_LOCK_WAIT_MS } from './migrator/migration-lock.js';
export type { MigrationLockOptions, HeldMigrationLock, UnlockResult } from './migrator/migration-lock.js';
export { decideLockStep } from './migrator/lock-decision.js';
export type { LockView, LockStep } from './migrator/lock-decision.js';
export { formatMigrationLockEvent } from './migrator/lock-events.js';
export type { MigrationLockEvent, LockHolder, KnexLockChange } from './migrator/lock-events.js';
export type { OwnerProcessState } from './migrator/lock-owner.js';
export { runChecks, CHECKS, checkRules } from './checks/index.js';
export type { CheckResult, CheckRule } from './checks/index.js';
export { loadTargetFacts } from './analysis/table-stats.js';
export type { TargetFacts, TableStats } from './analysis/table-stats.js';
export type { Check, CheckContext } from './checks/types.js';
export { recordQueries, DEFAULT_MAX_RECORDED_QUERIES, DEFAULT_MAX_RECORDED_SQL_LENGTH } from './verify/record-queries.js';
export type { RecordQueriesOptions, QueryRecorder } from './verify/record-queries.js';
export { verifyQueries } from './verify/verify.js';
export type { VerifyOptions, VerifyResult, MigrationFailure } from './verify/verify.js';
export type { VerifyStep, DeployPhase, Verdict, QueryVerdict, QueryFailure } from './verify/verdict.js';
export type { StepOutcome } from './verify/step-check.js';
export { parseSourceSpec, loadQuerySource, PG_STAT_STATEMENTS } from './verify/query-source.js';
export type { QuerySourceSpec, QuerySet } from './verify/query-source.js';
export type { QuerySide, SourceStatement } from './verify/statements.js';
