import type { MigrationReport } from '../analysis/migration-types.js';
import type { ObjectRef } from '../analysis/types.js';

/** A pre-deploy migration that depends on a post-deploy migration the pre-deploy run skips. */
export interface StageOrderConflict {
  /** The pre-deploy migration that would run too early. */
  readonly migration: string;
  /** The earlier, skipped post-deploy migration it depends on. */
  readonly dependsOn: string;
  /** The table or column they share, e.g. `orders.status`. */
  readonly object: string;
}

function sameTable(a: ObjectRef, b: ObjectRef): boolean {
  return a.table === b.table && (a.schema === null || b.schema === null || a.schema === b.schema);
}

/** Why `later` depends on `earlier`, or null when they are independent. */
function dependency(later: ObjectRef, earlier: ObjectRef): string | null {
  // A table that the earlier migration renames appears under its new name afterwards.
  if (earlier.effect === 'rename' && earlier.renamedTo !== undefined) {
    if (earlier.column === null && later.table === earlier.renamedTo) return later.table;
    if (earlier.column !== null && sameTable(later, earlier) && later.column === earlier.renamedTo) {
      return `${later.table}.${later.column}`;
    }
  }
  if (!sameTable(later, earlier)) return null;
  // The whole table is dropped or renamed away: anything later that uses it depends on that.
  if (earlier.column === null && (earlier.effect === 'drop' || earlier.effect === 'rename')) return earlier.table;
  if (later.column === null && (later.effect === 'drop' || later.effect === 'rename')) return later.table;
  if (earlier.column !== null && later.column === earlier.column) return `${earlier.table}.${earlier.column}`;
  return null;
}

/**
 * Finds pre-deploy migrations (in `toRun`) placed after skipped post-deploy migrations
 * (in `skipped`) that change what they use: the same column, or a table that the skipped
 * migration drops or renames. Running them out of file order could be wrong.
 * Changes to other columns of the same table are independent.
 */
export function findStageOrderConflicts(
  ordered: readonly MigrationReport[],
  skipped: ReadonlySet<string>,
): StageOrderConflict[] {
  const conflicts: StageOrderConflict[] = [];
  const skippedSoFar: MigrationReport[] = [];
  for (const migration of ordered) {
    if (skipped.has(migration.name)) {
      skippedSoFar.push(migration);
      continue;
    }
    for (const earlier of skippedSoFar) {
      const shared = firstDependency(migration, earlier);
      if (shared) conflicts.push({ migration: migration.name, dependsOn: earlier.name, object: shared });
    }
  }
  return conflicts;
}

function objectsOf(report: MigrationReport): ObjectRef[] {
  return report.statements.flatMap((s) => s.analysis.objects);
}

function firstDependency(later: MigrationReport, earlier: MigrationReport): string | null {
  const earlierObjects = objectsOf(earlier);
  for (const l of objectsOf(later)) {
    for (const e of earlierObjects) {
      const shared = dependency(l, e);
      if (shared) return shared;
    }
  }
  return null;
}
