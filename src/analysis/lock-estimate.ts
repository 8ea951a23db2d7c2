/**
 * For each existing table a statement locks: its size in the target database, what the lock
 * blocks, and a rough estimate of how long the statement holds it, from the rates in
 * throughput.ts. Pure: the facts are loaded once per plan by table-stats.ts.
 */
import type { CapturedStatement } from './migration-types.js';
import type { TableStats, TargetFacts } from './table-stats.js';
import { THROUGHPUT } from './throughput.js';
import type { LockMode } from './types.js';

/** What application traffic a lock mode blocks: every query takes ACCESS SHARE, every write ROW EXCLUSIVE. */
export function trafficBlockedBy(mode: LockMode | null): 'reads and writes' | 'writes' | null {
  if (mode === 'ACCESS EXCLUSIVE') return 'reads and writes';
  if (mode === 'SHARE' || mode === 'SHARE ROW EXCLUSIVE' || mode === 'EXCLUSIVE') return 'writes';
  return null;
}

/** The work a statement does on a table while it holds its lock. */
export type LockedWork = 'rewrite' | 'scan' | 'index build' | 'foreign key validation' | 'row changes';

/** One table a statement locks, with its size and an estimate of how long it is held. */
export interface LockEstimate {
  /** The relation as the statement names it. */
  readonly relation: string;
  readonly mode: LockMode;
  /** What the lock blocks (`null`: neither reads nor writes of the application). */
  readonly blocks: 'reads and writes' | 'writes' | null;
  /** The table in the target database, `null` when it is not there (created by an earlier migration of the plan). */
  readonly stats: TableStats | null;
  /** What the statement does with the table under the lock, when it reads or rewrites it. */
  readonly work: LockedWork | null;
  /** Rough seconds of that work (rows or bytes over the rate of throughput.ts), `null` when unknown or no work. */
  readonly seconds: number | null;
}

/** True when a captured statement changes (nearly) every row of a table in one go. */
function changesWholeTable(statement: CapturedStatement): boolean {
  return statement.analysis.findings.some((f) => f.code === 'whole-table-update' || f.code === 'whole-table-delete');
}

function workOf(statement: CapturedStatement): LockedWork | null {
  const { analysis } = statement;
  if (analysis.kind === 'ReindexStmt' && analysis.lock === 'ACCESS EXCLUSIVE') return 'index build';
  if (analysis.kind === 'RefreshMatViewStmt') return 'rewrite';
  if (changesWholeTable(statement)) return 'row changes';
  if (analysis.rewrites) return 'rewrite';
  if (!analysis.scans) return null;
  if (analysis.kind === 'IndexStmt') return 'index build';
  const labels = analysis.actions.filter((a) => a.scans).map((a) => a.action);
  if (labels.some((l) => /^ADD (UNIQUE|PRIMARY KEY|EXCLUDE)/.test(l))) return 'index build';
  if (labels.some((l) => l.startsWith('ADD FOREIGN KEY'))) return 'foreign key validation';
  return 'scan';
}

function secondsOf(work: LockedWork, stats: TableStats, reindexAll: boolean): number | null {
  const rows = stats.rows;
  switch (work) {
    case 'rewrite':
      return stats.totalBytes / THROUGHPUT.rewriteBytesPerSecond;
    case 'scan':
      return stats.heapBytes / THROUGHPUT.scanBytesPerSecond;
    case 'index build':
      return rows === null ? null : (rows * (reindexAll ? Math.max(1, stats.indexes) : 1)) / THROUGHPUT.indexRowsPerSecond;
    case 'foreign key validation':
      return rows === null ? null : rows / THROUGHPUT.foreignKeyRowsPerSecond;
    case 'row changes':
      return rows === null ? null : rows / THROUGHPUT.updateRowsPerSecond;
  }
}

/**
 * The tables `statement` locks that already exist (not in `created`: made earlier by the same
 * migration), each with its size and, for the table the statement reads or rewrites (the one it
 * names first), the estimated time the lock is held.
 */
export function estimateLocks(statement: CapturedStatement, facts: TargetFacts, created: ReadonlySet<string> = new Set()): LockEstimate[] {
  const work = workOf(statement);
  const { analysis } = statement;
  // The statement works on the relation of its strongest lock (the ALTER's table, the DML target);
  // a foreign key's referenced table is only looked up.
  const worked = analysis.relation;
  return analysis.locks
    .filter((lock) => !created.has(lock.relation))
    .map((lock) => {
      const stats = facts.tables.get(lock.relation) ?? null;
      const mine = work !== null && lock.relation === worked;
      const seconds = mine && stats ? secondsOf(work, stats, analysis.summary === 'REINDEX TABLE') : null;
      return {
        relation: lock.relation,
        mode: lock.mode,
        blocks: mine && work === 'row changes' ? 'writes' : trafficBlockedBy(lock.mode),
        stats,
        work: mine ? work : null,
        seconds,
      };
    });
}

/** `~1.2 s`, `~40 ms`, `~3 min`: an order of magnitude, not a promise. */
export function formatSeconds(seconds: number): string {
  if (seconds < 0.001) return '<1 ms';
  if (seconds < 1) return `~${Math.max(1, Math.round(seconds * 1000))} ms`;
  if (seconds < 60) return `~${seconds < 10 ? seconds.toFixed(1) : Math.round(seconds)} s`;
  if (seconds < 3600) return `~${Math.round(seconds / 60)} min`;
  return `~${(seconds / 3600).toFixed(1)} h`;
}

/** `157 MB`, `48 kB`. */
export function formatBytes(bytes: number): string {
  const units = ['bytes', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

/** `~1,000,000 rows, 157 MB`; `~127 rows, 32 kB (never analysed: rows estimated from its size)`; `rows unknown, 0 bytes`. */
export function formatTableSize(stats: TableStats): string {
  const size = formatBytes(stats.totalBytes);
  if (stats.rows === null) return `rows unknown, ${size}`;
  const approx = stats.rowsSource === 'empty' ? '' : '~';
  const rows = `${approx}${stats.rows.toLocaleString('en-US')} row${stats.rows === 1 ? '' : 's'}`;
  return `${rows}, ${size}${stats.rowsSource === 'size' ? ' (never analysed: rows estimated from its size)' : ''}`;
}
