import type { Knex } from 'knex';
import type { Settings } from '../config.js';
import { invertStage, isStage, resolveStage, type InferredStages, type Stage } from '../stages.js';
import { captureMigration, type Capture } from './capture.js';
import type { CapturedStatement, Direction, MigrationReport } from './migration-types.js';

/** A migration module as knex loads it, with the optional `config` knex-zero-downtime reads. */
export interface MigrationModule {
  up?: (knex: Knex) => unknown;
  down?: (knex: Knex) => unknown;
  config?: {
    /** @default inferred from the SQL */
    stage?: Stage;
    /** knex's own flag; when absent, knex-zero-downtime decides from the statements. */
    transaction?: boolean;
    /** Check ids this migration opts out of, each with the reason a human judged it safe here. */
    allowUnsafe?: Record<string, string>;
  };
}

/** A migration to analyse: its name, and the loaded module or the error loading it threw. */
export interface MigrationInput {
  readonly name: string;
  readonly file?: string | null;
  readonly module: MigrationModule | null;
  readonly loadError?: Error | null;
}

/** Options of {@link analyzeMigration}. */
export interface AnalyzeMigrationOptions {
  /** @default 'up' */
  readonly direction?: Direction;
  readonly settings: Settings;
  /** True when the knexfile sets `migrations.disableTransactions`. @default false */
  readonly transactionsDisabled?: boolean;
}

/** Statement kinds that only read or change rows. */
const DATA_ONLY: ReadonlySet<string> = new Set(['SelectStmt', 'InsertStmt', 'UpdateStmt', 'DeleteStmt', 'MergeStmt']);

function countStages(capture: Capture): InferredStages {
  const statements = capture.statements;
  // An idempotent operation with nothing left to do still says which stage it belongs to.
  let pre = capture.emptyOperations.filter((o) => o.stage === 'pre-deploy').length;
  let post = capture.emptyOperations.length - pre;
  for (const statement of statements) {
    // A safe operation knows its stage better than its individual statements do
    // (saferRenameTablePart1 renames, yet is pre-deploy work).
    // Data-only steps (a backfill's UPDATEs) decide nothing, whatever the operation declares,
    // so that backfill followed by setNotNull in one migration is post-deploy, not mixed.
    if (statement.operation && !DATA_ONLY.has(statement.analysis.kind)) {
      if (statement.operation.stage === 'pre-deploy') pre++;
      else post++;
      continue;
    }
    for (const action of statement.analysis.actions) {
      if (action.stage === 'pre-deploy') pre++;
      else if (action.stage === 'post-deploy') post++;
    }
  }
  return { pre, post };
}

function needsNoTransaction(statements: readonly CapturedStatement[]): boolean {
  return statements.some(
    (s) => s.stepTransaction === 'none' || s.stepTransaction === 'own' || !s.analysis.transactional,
  );
}

/**
 * Analyses one migration in one direction without writing to the database: the SQL it
 * would send (schema builder, `knex.raw` and safe operations alike), each statement's
 * classification, and the migration's resolved stage.
 *
 * @example
 * const report = await analyzeMigration(knex, { name: '001_add_email.js', module: await import('./001_add_email.js') }, { settings: parseSettings({}) });
 * report.stage; // 'pre-deploy'
 */
export async function analyzeMigration(
  knex: Knex,
  migration: MigrationInput,
  options: AnalyzeMigrationOptions,
): Promise<MigrationReport> {
  const direction = options.direction ?? 'up';
  const module = migration.module;
  const config = module?.config ?? {};
  const declaredStage = config.stage as unknown;
  const declaredAllowUnsafe = config.allowUnsafe as unknown;
  const base = {
    name: migration.name,
    file: migration.file ?? null,
    direction,
    declaredStage,
    hasDown: typeof module?.down === 'function',
    allowUnsafe: wellFormedAllowUnsafe(declaredAllowUnsafe),
    declaredAllowUnsafe,
    transactionDeclared: typeof config.transaction === 'boolean',
  };

  const fn = module?.[direction];
  if (!module || typeof fn !== 'function') {
    const error =
      migration.loadError ??
      (module && direction === 'up' ? new Error(`${migration.name} does not export an up function.`) : null);
    return {
      ...base,
      stage: null,
      stageSource: null,
      ambiguity: 'undetermined',
      transaction: false,
      statements: [],
      error,
    };
  }

  const capture = await captureMigration(knex, fn);
  // The stage belongs to the migration's `up`; a revert runs the inverse stage.
  let upCapture: Capture = capture;
  const declared = isStage(declaredStage) ? declaredStage : undefined;
  if (direction === 'down' && !declared && !options.settings.stages.override[migration.name] && module.up) {
    upCapture = await captureMigration(knex, module.up);
  }
  const resolution = resolveStage({
    name: migration.name,
    declared,
    inferred: countStages(upCapture),
    settings: options.settings,
  });
  const stage = resolution.stage && direction === 'down' ? invertStage(resolution.stage) : resolution.stage;

  const transaction =
    typeof config.transaction === 'boolean'
      ? config.transaction && !options.transactionsDisabled
      : !options.transactionsDisabled && !needsNoTransaction(capture.statements);

  return {
    ...base,
    stage,
    stageSource: resolution.source,
    ambiguity: resolution.stage === null ? resolution.reason : null,
    transaction,
    statements: capture.statements,
    error: capture.error ?? (direction === 'down' ? upCapture.error : null),
  };
}

/** The entries of `config.allowUnsafe` that opt out: a check id with a non-empty reason (the check `invalid-allow-unsafe` reports the others). */
function wellFormedAllowUnsafe(value: unknown): Readonly<Record<string, string>> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return {};
  const out: Record<string, string> = {};
  for (const [id, reason] of Object.entries(value as Record<string, unknown>)) {
    if (typeof reason === 'string' && reason.trim() !== '') out[id] = reason.trim();
  }
  return Object.freeze(out);
}
