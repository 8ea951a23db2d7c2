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

/** A `--pre-deploy` rollback, split: what is reverted now, and what waits for the post-deploy step. */
export interface PreDeployRollback {
  /** The reverts that run before the code rollback, in order. */
  readonly now: readonly MigrationReport[];
  /** The reverts left for after it (post-deploy work, and pre-deploy reverts that depend on one of those), in order. */
  readonly later: readonly MigrationReport[];
  /** Why each pre-deploy revert of `later` waits: the revert before it that it depends on. */
  readonly waiting: readonly WaitingRevert[];
}

/** A pre-deploy revert that a `--pre-deploy` rollback leaves for the post-deploy step. */
export interface WaitingRevert {
  /** The migration whose revert waits. */
  readonly migration: string;
  /** The migration reverted before it (a post-deploy revert, or one that waits itself). */
  readonly waitsFor: string;
  /** Why, e.g. `both change orders.status`. */
  readonly reason: string;
}

/**
 * Splits a rollback's reverts (in the order they must run: the reverse of the order they were
 * applied) for `--pre-deploy`. A pre-deploy revert may run before the post-deploy reverts that
 * precede it only when it is independent of them (the same rules as {@link findStageOrderConflicts});
 * one that depends on a revert left for later waits too, so that every dependent pair still
 * runs in reverse order.
 */
export function splitPreDeployRollback(ordered: readonly MigrationReport[]): PreDeployRollback {
  const now: MigrationReport[] = [];
  const later: MigrationReport[] = [];
  const waiting: WaitingRevert[] = [];
  for (const migration of ordered) {
    if (migration.stage === 'post-deploy') {
      later.push(migration);
      continue;
    }
    const blocker = later.map((earlier) => ({ earlier, shared: firstDependency(migration, earlier) })).find((d) => d.shared !== null);
    if (blocker) {
      later.push(migration);
      waiting.push({ migration: migration.name, waitsFor: blocker.earlier.name, reason: `both change ${blocker.shared!}` });
    } else {
      now.push(migration);
    }
  }
  return { now, later, waiting };
}
