import type { Stage, StageSource } from '../stages.js';
import type { Finding, LockMode, StatementAnalysis } from './types.js';
import type { StepTransaction } from '../operations/plan.js';
import type { SafeFormDirective } from '../safe-by-default/directive.js';

/** Which way a migration is being run. */
export type Direction = 'up' | 'down';

/** A statement that a migration would send, captured without running it. */
export interface CapturedStatement {
  /** The SQL with its bindings inlined, as it would reach the server. */
  readonly sql: string;
  /** Where it came from: knex's builders and `knex.raw`, or a safe operation's plan. */
  readonly source: 'knex' | 'operation';
  /** The safe operation that planned it, with the stage it declares. */
  readonly operation?: { readonly name: string; readonly stage: Stage };
  /** How the statement relates to transactions (`'inherit'` for plain knex statements). */
  readonly stepTransaction: StepTransaction;
  /** False for operation steps that only hold weak locks a long time (no statement timeout). */
  readonly statementTimeout: boolean;
  /** True when the migration itself opened a transaction (`knex.transaction(...)`) around it. */
  readonly inExplicitTransaction: boolean;
  readonly analysis: StatementAnalysis;
  /** What happened when it ran in the shadow database (shadow mode only). */
  readonly trace?: StatementTrace;
  /**
   * With `safeByDefault`: the place of the statement among the migration's statements that have
   * a safe form (0 is the first), when it is one of them.
   */
  readonly candidate?: number;
  /** With `safeByDefault`: set on each step of a statement's safe form, the statement it replaces. */
  readonly safeForm?: SafeFormDirective;
}

/** A lock PostgreSQL granted, as `pg_locks` showed it while the statement's transaction was open. */
export interface TracedLock {
  /** The relation as `regclass` prints it (qualified when not on the search path). */
  readonly relation: string;
  readonly mode: LockMode;
  /** `pg_class.relkind` of the relation (`r` table, `i` index, `v` view…). */
  readonly kind: string;
  /** True when the statement created the relation (a lock nobody else can be waiting for). */
  readonly created: boolean;
}

/** What one statement did when it ran in the shadow database. */
export interface StatementTrace {
  /** The text sent to the server (several statements when a string held several), byte for byte. */
  readonly sent: string;
  /** Values sent with it (`$1`…), if any. */
  readonly values: readonly unknown[];
  /** False when the statement was recorded and not run: its effects reach beyond the shadow database. */
  readonly ran: boolean;
  /** Why it was not run: its effects reach beyond the shadow database. */
  readonly sandboxed: string | null;
  /**
   * True for a step of an operation's plan that the shadow run never reached (a backfill's next
   * batch, when the shadow's tables hold no rows): shown as planned, not traced.
   */
  readonly notReached?: boolean;
  readonly durationMs: number | null;
  /** Locks the statement acquired; `null` when it ran outside a transaction, where they cannot be read after it. */
  readonly locks: readonly TracedLock[] | null;
  /** Every lock its transaction held once it was done (what blocks others until the commit); `null` as for `locks`. */
  readonly held?: readonly TracedLock[] | null;
  /** Tables and materialized views that got new storage (a rewrite or TRUNCATE); `null` when not observed. */
  readonly newStorage: readonly string[] | null;
  /** Indexes rebuilt; `null` when not observed. */
  readonly rebuiltIndexes: readonly string[] | null;
  /** The error PostgreSQL answered, if any. */
  readonly error: { readonly sqlState: string | null; readonly message: string } | null;
  /** How many statements were sent together in `sent` (what was observed is theirs together). */
  readonly together: number;
}

/** Everything analysis learned about one migration in one direction. */
export interface MigrationReport {
  /** The migration's name as knex records it in `knex_migrations`. */
  readonly name: string;
  /** Absolute path of the file, when the migration comes from a directory. */
  readonly file: string | null;
  readonly direction: Direction;
  /** The raw `config.stage` value of the file (possibly invalid), `undefined` when absent. */
  readonly declaredStage: unknown;
  /** The resolved stage of this direction (inverted for `down`), `null` when ambiguous. */
  readonly stage: Stage | null;
  readonly stageSource: StageSource | null;
  /** Why the stage is `null`: the statements mix stages, or none decides one. */
  readonly ambiguity: 'mixed' | 'undetermined' | null;
  /** True when knex will run this migration inside a transaction. */
  readonly transaction: boolean;
  /** True when the file's config set `transaction` explicitly (to true or false). */
  readonly transactionDeclared: boolean;
  readonly hasDown: boolean;
  /**
   * Check ids the file opts out of, each with the reason a human gave:
   * `export const config = { allowUnsafe: { 'create-index-blocking': 'lookup table of 40 rows' } }`.
   * Only well-formed entries (a non-empty reason); the `invalid-allow-unsafe` check reports the rest.
   */
  readonly allowUnsafe: Readonly<Record<string, string>>;
  /** The raw `config.allowUnsafe` value of the file (possibly invalid), `undefined` when absent. */
  readonly declaredAllowUnsafe?: unknown;
  readonly statements: readonly CapturedStatement[];
  /** Set when the file could not be loaded or its function threw during analysis. */
  readonly error: Error | null;
  /** How the statements were found: run in a shadow database and traced, or captured without running. */
  readonly analysedBy?: 'shadow' | 'capture';
  /** False when the file opts out of `safeByDefault` (`export const config = { safeByDefault: false }`). */
  readonly safeByDefault?: boolean;
  /**
   * The statements that run in their safe form (`safeByDefault`), in the order the migration sends
   * them; the migration then runs outside a transaction. Absent when none does.
   */
  readonly safeForms?: readonly SafeFormDirective[];
}

/** A finding tied to a migration (and a statement), as `check` prints it. */
export interface CheckFinding extends Finding {
  /** The migration it is about, or `null` for a finding about the whole set. */
  readonly migration: string | null;
  /** The statement it is about, if any. */
  readonly statement?: string;
  /**
   * The existing tables whose size decides how long the danger lasts (the tables a statement
   * scans or rewrites): when all are below `checks.smallTable` rows, the finding becomes a note.
   */
  readonly tables?: readonly string[];
  /** Set when the migration opted out of this check with `config.allowUnsafe`: kept as a note, with the reason. */
  readonly allowed?: { readonly reason: string };
  /** Set when every table of `tables` is below `checks.smallTable`: kept as a note that says why. */
  readonly smallTable?: { readonly note: string };
  /** Set when the statement runs in its safe form (`safeByDefault`): kept as a note that says what runs instead. */
  readonly safeForm?: { readonly note: string };
}
