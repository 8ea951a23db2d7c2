import type { CapturedStatement, CheckFinding, MigrationReport } from '../../analysis/migration-types.js';
import type { LockMode } from '../../analysis/types.js';
import { LOCK_MODES } from '../../analysis/types.js';
import type { Check } from '../types.js';
import { short, tablesCreatedBefore } from './statements.js';

/** Kinds of statements that read or change rows. */
const DATA_KINDS: ReadonlySet<string> = new Set(['InsertStmt', 'UpdateStmt', 'DeleteStmt', 'MergeStmt', 'SelectStmt', 'CopyStmt']);

/** Locks that can make a statement wait behind application traffic or autovacuum (SHARE UPDATE EXCLUSIVE and up). */
function waitsBehindOthers(mode: LockMode): boolean {
  return LOCK_MODES.indexOf(mode) >= LOCK_MODES.indexOf('SHARE UPDATE EXCLUSIVE');
}

/** What makes a statement expensive to run while another table stays locked, or `null` when it is cheap. */
interface Cost {
  readonly kind: 'work' | 'wait';
  readonly why: string;
  /** Existing tables whose size decides how long the work takes. */
  readonly tables: readonly string[];
}

function costOf(statement: CapturedStatement, created: ReadonlySet<string>, held: ReadonlySet<string>, lockTimeout: boolean): Cost | null {
  const { analysis } = statement;
  const existing = analysis.locks.filter((l) => !created.has(l.relation));
  if (existing.length === 0) return null; // no table, or only tables this migration created (and so holds no rows yet)
  const tables = existing.map((l) => l.relation);
  if (analysis.rewrites) return { kind: 'work', why: `rewrites ${tables.join(', ')}`, tables };
  if (analysis.scans) return { kind: 'work', why: `reads every row of ${tables.join(', ')}`, tables };
  if (DATA_KINDS.has(analysis.kind)) {
    // INSERT … VALUES into a table only writes the rows it lists.
    const onlyTarget = analysis.kind === 'InsertStmt' && existing.every((l) => l.mode === 'ROW EXCLUSIVE');
    if (!onlyTarget) return { kind: 'work', why: `reads or changes rows of ${tables.join(', ')}`, tables };
  }
  // With a lock_timeout, a wait for another table's lock is bounded (and retried): the lock held meanwhile is too.
  const other = lockTimeout ? undefined : existing.find((l) => !held.has(l.relation) && waitsBehindOthers(l.mode));
  if (other) return { kind: 'wait', why: `must first get ${/^[AEIOU]/.test(other.mode) ? 'an' : 'a'} ${other.mode} lock on ${other.relation}, and waits behind every query running there`, tables: [] };
  return null;
}

/** The statements of `report` that run inside one transaction, in order. */
function transactionalRun(report: MigrationReport): CapturedStatement[] {
  return report.statements.filter((s) => s.stepTransaction === 'inherit' && (report.transaction || s.inExplicitTransaction));
}

/**
 * Statements after an ACCESS EXCLUSIVE lock in the same transaction: the lock is held until the
 * transaction ends, so every read and write of the locked table waits for all of them. More
 * catalog-only statements on the same table (or on tables the migration created) are fine; a
 * statement that reads, rewrites or changes rows is not. With timeouts off, neither is one that
 * must wait for a lock on another existing table (with a lock_timeout, that wait is bounded).
 */
export const lockHeldAcrossStatements: Check = {
  id: 'lock-held-across-statements',
  description: 'no statement that reads, rewrites or changes rows (or waits for another lock) runs after an ACCESS EXCLUSIVE lock in the same transaction',
  unsafe: true,
  run({ migrations, settings }) {
    const findings: CheckFinding[] = [];
    const lockTimeout = settings.timeouts.lock !== null;
    for (const report of migrations) {
      if (report.error) continue;
      const run = transactionalRun(report);
      // Existing tables locked ACCESS EXCLUSIVE so far (with the statement that took each), and every table locked.
      const exclusive = new Map<string, CapturedStatement>();
      const held = new Set<string>();
      let lock: { statement: CapturedStatement; relation: string } | null = null;
      const costs: { statement: CapturedStatement; cost: Cost }[] = [];
      for (const statement of run) {
        const created = tablesCreatedBefore(report, report.statements.indexOf(statement));
        // A statement that takes ACCESS EXCLUSIVE on a table itself blocks it anyway: holding it longer adds nothing there.
        const ownExclusive = new Set(statement.analysis.locks.filter((l) => l.mode === 'ACCESS EXCLUSIVE').map((l) => l.relation));
        const harmed = [...exclusive].find(([relation]) => !ownExclusive.has(relation));
        if (harmed) {
          const cost = costOf(statement, created, held, lockTimeout);
          if (cost) {
            lock ??= { statement: harmed[1], relation: harmed[0] };
            costs.push({ statement, cost });
          }
        }
        for (const l of statement.analysis.locks) {
          if (created.has(l.relation)) continue;
          held.add(l.relation);
          if (l.mode === 'ACCESS EXCLUSIVE' && !exclusive.has(l.relation)) exclusive.set(l.relation, statement);
        }
      }
      if (!lock || costs.length === 0) continue;
      const first = costs[0];
      const work = costs.filter((c) => c.cost.kind === 'work');
      const tables = [...new Set(work.flatMap((c) => c.cost.tables))];
      const more = costs.length > 1 ? `, and ${costs.length - 1} more after it` : '';
      findings.push({
        code: this.id,
        severity: work.length > 0 ? 'error' : 'warning',
        migration: report.name,
        statement: first.statement.sql,
        message:
          `${report.name} takes an ACCESS EXCLUSIVE lock on ${lock.relation} (${short(lock.statement.sql, 100)}) and holds it to the end of its transaction, ` +
          `through a later statement that ${first.cost.why} (${short(first.statement.sql, 100)})${more}: every read and write of ${lock.relation} waits for all of it.`,
        hint:
          `// Keep the lock short: end the migration right after the statement that takes it, and run the rest in the next migration\n` +
          `// (or before the lock, when the order allows). Fill rows with backfill(), which commits each batch on its own:\n` +
          `//   await backfill(knex, '<table>', { '<column>': '<value>' }, { batchSize: 10000 });  // with export const config = { transaction: false };`,
        ...(work.length === costs.length && tables.length > 0 ? { tables } : {}),
      });
    }
    return findings;
  },
};
