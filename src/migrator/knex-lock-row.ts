import type { LockQuery } from './lock-connection.js';
import { quoteQualified as qualified } from '../identifiers.js';

/** What knex's own lock table (`knex_migrations_lock`) holds. */
export interface KnexLockState {
  /** Whether the table exists (it does not before the first migration). */
  readonly exists: boolean;
  /** How many rows it has: knex expects exactly one. */
  readonly rows: number;
  /** How many of them say `is_locked = 1`. */
  readonly locked: number;
}

/** knex's lock table name for a migrations table: `knex_migrations` → `knex_migrations_lock`. */
export function knexLockTableName(tableName: string): string {
  return `${tableName}_lock`;
}

/** Reads knex's lock rows. */
export async function readKnexLock(query: LockQuery, schema: string, tableName: string): Promise<KnexLockState> {
  const table = qualified(schema, knexLockTableName(tableName));
  const [found] = await query<{ exists: boolean }>('SELECT to_regclass($1) IS NOT NULL AS exists', [table]);
  if (!found?.exists) return { exists: false, rows: 0, locked: 0 };
  const [row] = await query<{ rows: number; locked: number }>(
    `SELECT count(*)::int AS rows, count(*) FILTER (WHERE is_locked <> 0)::int AS locked FROM ${table}`,
  );
  return { exists: true, rows: row?.rows ?? 0, locked: row?.locked ?? 0 };
}

/**
 * Leaves knex's lock table as `knex migrate:unlock` does (one row, unlocked), in one statement:
 * the row that a killed run left locked is unlocked, and extra rows (two runs that created the
 * table at once) are deleted, since knex refuses to lock a table with two. Returns what it changed.
 */
export async function resetKnexLock(query: LockQuery, schema: string, tableName: string): Promise<{ unlocked: number; deleted: number }> {
  const state = await readKnexLock(query, schema, tableName);
  if (!state.exists || (state.rows === 1 && state.locked === 0)) return { unlocked: 0, deleted: 0 };
  const table = qualified(schema, knexLockTableName(tableName));
  const [row] = await query<{ unlocked: number; deleted: number }>(
    `WITH keep AS (SELECT min("index") AS index FROM ${table}),
          deleted AS (DELETE FROM ${table} WHERE "index" <> (SELECT index FROM keep) RETURNING 1),
          unlocked AS (UPDATE ${table} SET is_locked = 0 WHERE "index" = (SELECT index FROM keep) AND is_locked <> 0 RETURNING 1),
          inserted AS (INSERT INTO ${table} (is_locked) SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM keep WHERE index IS NOT NULL) RETURNING 1)
     SELECT (SELECT count(*) FROM unlocked)::int AS unlocked, (SELECT count(*) FROM deleted)::int AS deleted`,
  );
  return { unlocked: row?.unlocked ?? 0, deleted: row?.deleted ?? 0 };
}
