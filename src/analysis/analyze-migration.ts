import type { Knex } from 'knex';
import type { Settings } from '../config.js';
import { invertStage, isStage, resolveStage, type InferredStages, type Stage } from '../stages.js';
import { captureMigration, type Capture } from './capture/capture.js';
import { CaptureSession } from './capture/capture-session.js';
import type { CapturedStatement, Direction, MigrationReport } from './migration-types.js';
import { SafeFormCursor } from '../safe-by-default/cursor.js';
import type { SafeFormDirective } from '../safe-by-default/directive.js';

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
    /** `false`: run as written even with the knexfile's `safeByDefault`. */
    safeByDefault?: boolean;
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
  /**
   * The capture session of the plan this migration belongs to: its schema model carries what the
   * migrations analysed before this one change. @default a session of its own
   */
  readonly session?: CaptureSession;
  /**
   * With `settings.safeByDefault`: the statements to run in their safe form (decided from a first
   * analysis and its checks). @default none
   */
  readonly safeForms?: readonly SafeFormDirective[];
}

/** Statement kinds that only read or change rows. */
const DATA_ONLY: ReadonlySet<string> = new Set(['SelectStmt', 'InsertStmt', 'UpdateStmt', 'DeleteStmt', 'MergeStmt']);

function countStages(capture: FoundStatements): InferredStages {
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

/** What a report is made from: the statements found (captured or traced) and how the migration ran. */
export interface FoundStatements {
  readonly statements: readonly CapturedStatement[];
  readonly error: Error | null;
  readonly emptyOperations: ReadonlyArray<{ readonly name: string; readonly stage: Stage }>;
}

/** The report of a migration that has no function to analyse (it failed to load, or lacks `up`/`down`). */
export function unanalysableReport(migration: MigrationInput, direction: Direction): MigrationReport | null {
  const module = migration.module;
  if (module && typeof module[direction] === 'function') return null;
  const error =
    migration.loadError ?? (module && direction === 'up' ? new Error(`${migration.name} does not export an up function.`) : null);
  return { ...reportBase(migration, direction), stage: null, stageSource: null, ambiguity: 'undetermined', transaction: false, statements: [], error };
}

function reportBase(migration: MigrationInput, direction: Direction) {
  const config = migration.module?.config ?? {};
  return {
    name: migration.name,
    file: migration.file ?? null,
    direction,
    declaredStage: config.stage as unknown,
    hasDown: typeof migration.module?.down === 'function',
    allowUnsafe: wellFormedAllowUnsafe(config.allowUnsafe),
    declaredAllowUnsafe: config.allowUnsafe as unknown,
    transactionDeclared: typeof config.transaction === 'boolean',
    ...(config.safeByDefault === false ? { safeByDefault: false } : {}),
  };
}

/** True when the stage of a `down` report needs the statements of `up` (nothing declares it). */
export function downNeedsUp(migration: MigrationInput, settings: Settings): boolean {
  return !isStage(migration.module?.config?.stage) && !settings.stages.override[migration.name] && typeof migration.module?.up === 'function';
}

/**
 * Builds a migration's report from what was found: its stage (declared, overridden, inferred from
 * the statements of `up`, or the fallback; inverted for `down`) and whether knex runs it in a
 * transaction (`transaction`, when the run itself decided it, as in the shadow).
 */
export function buildReport(
  migration: MigrationInput,
  direction: Direction,
  found: FoundStatements,
  up: FoundStatements,
  options: Pick<AnalyzeMigrationOptions, 'settings' | 'transactionsDisabled' | 'safeForms'> & { readonly transaction?: boolean; readonly analysedBy: 'shadow' | 'capture' },
): MigrationReport {
  const safeForms = options.safeForms ?? [];
  const config = migration.module?.config ?? {};
  const declared = isStage(config.stage) ? config.stage : undefined;
  const resolution = resolveStage({ name: migration.name, declared, inferred: countStages(up), settings: options.settings });
  const stage = resolution.stage && direction === 'down' ? invertStage(resolution.stage) : resolution.stage;
  // A safe form builds indexes concurrently and validates in transactions of their own: the migration runs outside one.
  const transaction =
    (safeForms.length > 0 ? false : undefined) ??
    options.transaction ??
    (typeof config.transaction === 'boolean'
      ? config.transaction && !options.transactionsDisabled
      : !options.transactionsDisabled && !needsNoTransaction(found.statements));
  return {
    ...reportBase(migration, direction),
    stage,
    stageSource: resolution.source,
    ambiguity: resolution.stage === null ? resolution.reason : null,
    transaction,
    statements: found.statements,
    error: found.error ?? (direction === 'down' && up !== found ? up.error : null),
    analysedBy: options.analysedBy,
    ...(safeForms.length > 0 ? { safeForms } : {}),
  };
}

/**
 * Analyses one migration in one direction without writing to the database (capture mode): the
 * SQL it would send (schema builder, `knex.raw` and safe operations alike), each statement's
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
  const unanalysable = unanalysableReport(migration, direction);
  if (unanalysable) return unanalysable;
  const module = migration.module!;
  const cursor = options.settings.safeByDefault ? new SafeFormCursor(options.safeForms) : undefined;
  const capture = await captureMigration(knex, module[direction]!, options.session, cursor);
  // The stage belongs to the migration's `up`; a revert runs the inverse stage. A throw-away
  // session: the up's effects must not enter the plan's model.
  const up: Capture =
    direction === 'down' && downNeedsUp(migration, options.settings) ? await captureMigration(knex, module.up!, await CaptureSession.open(knex)) : capture;
  return buildReport(migration, direction, capture, up, { ...options, analysedBy: 'capture' });
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
