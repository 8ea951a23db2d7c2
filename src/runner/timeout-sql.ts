import type { Settings } from '../config.js';
import { toPostgresInterval } from '../duration.js';
import type { DriverQuery } from './internal-query.js';

export type { DriverQuery } from './internal-query.js';

/** The values a statement runs with; `null` leaves the setting as the session has it. */
export interface TimeoutValues {
  readonly lock: string | null;
  readonly statement: string | null;
}

/**
 * The timeouts of one statement: `lock` is the attempt's `lock_timeout` in milliseconds (`null`
 * leaves the server's value alone); `Settings.timeouts.statement` of `null` ("off") leaves the
 * server's value alone; a statement without statement timeout (index build, VALIDATE) gets `0`
 * so that a role-level `statement_timeout` cannot cancel it half-way either.
 */
export function timeoutValues(timeouts: Pick<Settings['timeouts'], 'statement'>, lock: number | null, statementTimeout: boolean): TimeoutValues {
  return {
    lock: lock === null ? null : toPostgresInterval(lock),
    statement: !statementTimeout ? '0' : timeouts.statement === null ? null : toPostgresInterval(timeouts.statement),
  };
}

/**
 * One round trip that reads the backend pid and the current values, then sets the new ones.
 * `local` uses `set_config(…, true)`, i.e. `SET LOCAL`: gone at the end of the transaction,
 * which keeps pgbouncer's transaction pooling safe. `OFFSET 0` keeps the subquery from being
 * flattened, so the previous values are read before they are changed.
 */
export function applyTimeoutsQuery(values: TimeoutValues, local: boolean): DriverQuery {
  const sets: string[] = [];
  const bindings: string[] = [];
  if (values.lock !== null) {
    bindings.push(values.lock);
    sets.push(`set_config('lock_timeout', $${bindings.length}, ${local})`);
  }
  if (values.statement !== null) {
    bindings.push(values.statement);
    sets.push(`set_config('statement_timeout', $${bindings.length}, ${local})`);
  }
  const sql =
    'SELECT pg_backend_pid() AS pid, prev.lock_timeout, prev.statement_timeout' +
    sets.map((s) => `, ${s}`).join('') +
    " FROM (SELECT current_setting('lock_timeout') AS lock_timeout, current_setting('statement_timeout') AS statement_timeout OFFSET 0) AS prev";
  return { sql, bindings };
}

/** Puts back the values read by {@link applyTimeoutsQuery} (session level). */
export function restoreTimeoutsQuery(previous: { lock_timeout: string; statement_timeout: string }): DriverQuery {
  return {
    sql: "SELECT set_config('lock_timeout', $1, false), set_config('statement_timeout', $2, false)",
    bindings: [previous.lock_timeout, previous.statement_timeout],
  };
}

/** Opens the runner's own transaction around a statement that can run in one. */
export const BEGIN: DriverQuery = { sql: 'BEGIN', bindings: [] };
/** Commits it. */
export const COMMIT: DriverQuery = { sql: 'COMMIT', bindings: [] };
/** Rolls it back, releasing every lock it took. */
export const ROLLBACK: DriverQuery = { sql: 'ROLLBACK', bindings: [] };
