import type { Stage } from '../stages.js';

/** PostgreSQL's table-level lock modes, weakest first (see "Explicit Locking" in the PostgreSQL docs). */
export type LockMode =
  | 'ACCESS SHARE'
  | 'ROW SHARE'
  | 'ROW EXCLUSIVE'
  | 'SHARE UPDATE EXCLUSIVE'
  | 'SHARE'
  | 'SHARE ROW EXCLUSIVE'
  | 'EXCLUSIVE'
  | 'ACCESS EXCLUSIVE';

/** Every lock mode, weakest first. */
export const LOCK_MODES: readonly LockMode[] = Object.freeze([
  'ACCESS SHARE',
  'ROW SHARE',
  'ROW EXCLUSIVE',
  'SHARE UPDATE EXCLUSIVE',
  'SHARE',
  'SHARE ROW EXCLUSIVE',
  'EXCLUSIVE',
  'ACCESS EXCLUSIVE',
]);

/** Severity of a finding, before the knexfile's `checks` option adjusts it. */
export type FindingSeverity = 'error' | 'warning' | 'info';

/** Something analysis or a check noticed about a statement or migration. */
export interface Finding {
  /** Stable check id, e.g. `'create-index-blocking'`. */
  readonly code: string;
  readonly severity: FindingSeverity;
  /** What is dangerous and why, in a sentence or two. */
  readonly message: string;
  /** The safe alternative, written out as code the user can paste. */
  readonly hint?: string;
}

/** A lock a statement takes on one relation. */
export interface LockInfo {
  readonly mode: LockMode;
  /** The relation as written, schema-qualified when the SQL qualifies it (`"public.orders"` → `public.orders`). */
  readonly relation: string;
}

/** What a statement does to a table or column, used to order stages safely. */
export type ObjectEffect = 'create' | 'drop' | 'rename' | 'alter' | 'reference';

/** A table (and optionally a column) that a statement touches. */
export interface ObjectRef {
  readonly schema: string | null;
  readonly table: string;
  readonly column: string | null;
  readonly effect: ObjectEffect;
  /** For a rename: the new name (of the table, or of the column when `column` is set). */
  readonly renamedTo?: string;
}

/**
 * What an `ALTER COLUMN` action changes about one aspect of the column, with the state before it
 * as the catalog (or an earlier statement) knew it: `undefined` when nothing knew.
 */
export type ColumnChange =
  | { readonly table: string; readonly column: string; readonly aspect: 'type'; readonly before: string | null | undefined; readonly after: string | null; readonly widens: boolean | undefined }
  | { readonly table: string; readonly column: string; readonly aspect: 'not-null'; readonly before: boolean | undefined; readonly after: boolean }
  | { readonly table: string; readonly column: string; readonly aspect: 'default'; readonly before: string | null | undefined; readonly after: string | null };

/** One action of a statement (an `ALTER TABLE` can carry several). */
export interface ActionAnalysis {
  /** A short label, e.g. `'ADD COLUMN'`, `'SET NOT NULL'`, `'DROP TABLE'`. */
  readonly action: string;
  /** The stage this action needs, or `null` when it does not decide one (DML, SET, COMMENT…). */
  readonly stage: Stage | null;
  readonly lock: LockMode | null;
  readonly rewrites: boolean;
  readonly scans: boolean;
  /** For an `ALTER COLUMN` of a column's type, nullability or default: what it changes (see `ColumnChange`). */
  readonly change?: ColumnChange;
}

/** The classification of one SQL statement. */
export interface StatementAnalysis {
  /** The statement's text, as it appeared in the input. */
  readonly sql: string;
  /** The parser's node type, e.g. `'AlterTableStmt'`, or `'ParseError'`. */
  readonly kind: string;
  /** A short human summary, e.g. `'ALTER TABLE ADD COLUMN'`, `'CREATE INDEX CONCURRENTLY'`. */
  readonly summary: string;
  /** False when the analyser does not know this statement: it is reported, never called safe. */
  readonly classified: boolean;
  /** The stage the statement needs: `'mixed'` when its actions disagree, `null` when it decides none. */
  readonly stage: Stage | 'mixed' | null;
  /** The strongest lock the statement takes, or `null` when it takes no table lock. */
  readonly lock: LockMode | null;
  /** The relation the strongest lock is on. */
  readonly relation: string | null;
  /** Every table lock, one per relation. */
  readonly locks: readonly LockInfo[];
  /** True when the statement rewrites the whole table (and its indexes). */
  readonly rewrites: boolean;
  /** True when the statement reads every row (a validation scan or an index build). */
  readonly scans: boolean;
  /** False when the statement cannot run inside a transaction block (e.g. `CREATE INDEX CONCURRENTLY`). */
  readonly transactional: boolean;
  /** Tables and columns touched, for ordering checks. */
  readonly objects: readonly ObjectRef[];
  readonly actions: readonly ActionAnalysis[];
  readonly findings: readonly Finding[];
  /** Foreign keys the statement adds: the referencing table and columns, and the referenced table. */
  readonly foreignKeys?: ReadonlyArray<{
    readonly table: { readonly display: string; readonly schema: string | null; readonly table: string };
    readonly columns: readonly string[];
    readonly refTable: { readonly display: string; readonly schema: string | null; readonly table: string };
  }>;
}

/** Options of `analyzeSql`. */
export interface AnalyzeSqlOptions {
  /**
   * Tables created earlier in the same migration: unsafe-operation findings about them
   * are dropped, since nobody else can be using them yet.
   */
  readonly newTables?: ReadonlySet<string>;
  /**
   * Columns added earlier in the same migration, as `'table.column'` (or `'schema.table.column'`):
   * constraints and unique indexes covering only such columns are pre-deploy work, since old
   * code never writes them (knex's `t.integer('x').references(...)` in `alterTable`).
   */
  readonly newColumns?: ReadonlySet<string>;
}
