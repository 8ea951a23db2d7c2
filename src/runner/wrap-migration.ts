import type { Knex } from 'knex';
import type { Settings } from '../config.js';
import { sqlStateOf, LockTimeoutError } from '../errors.js';
import { LOCK_NOT_AVAILABLE } from './backoff.js';
import { withRunnerContext, type RunnerContext } from './context.js';
import { lockTimeoutError, retryOnLockTimeout } from './retry.js';
import { installRunner } from './step-executor.js';
import { applyTimeoutsQuery, timeoutValues } from './timeout-sql.js';
import { isTransaction, withTimeouts } from './timeouts-client.js';

/** What the runner knows about the migration it wraps. */
export interface RunContext {
  readonly name: string;
  readonly direction: 'up' | 'down';
  /** True when knex runs the migration inside a transaction. */
  readonly transaction: boolean;
  readonly settings: Settings;
}

/** The savepoint the whole migration is retried from when it runs inside a transaction. */
export const MIGRATION_SAVEPOINT = 'knex_zd_migration';

type MigrationFn = (knex: Knex) => unknown;

async function runInTransaction(fn: MigrationFn, trx: Knex.Transaction, context: RunnerContext): Promise<unknown> {
  // SET LOCAL before the savepoint, so that rolling back to the savepoint keeps them.
  const applied = applyTimeoutsQuery(timeoutValues(context.settings.timeouts, true), true);
  const sql = applied.sql.replace(/\$\d+/g, '?');
  const row = (await trx.raw<{ rows: { pid: number }[] }>(sql, applied.bindings as Knex.RawBinding[])).rows[0];
  const pid = Number(row?.pid);
  let failedSql: string | undefined;
  const onError = (_error: unknown, obj: { sql?: string }) => {
    failedSql = obj?.sql;
  };
  trx.on('query-error', onError);
  try {
    return await retryOnLockTimeout(
      async (attempt) => {
        attempt.watch(trx.client, pid);
        await trx.raw(`SAVEPOINT ${MIGRATION_SAVEPOINT}`);
        try {
          const result = await withRunnerContext(context, async () => await fn(trx));
          await trx.raw(`RELEASE SAVEPOINT ${MIGRATION_SAVEPOINT}`);
          return result;
        } catch (error) {
          // Rolling back to the savepoint releases every lock taken since, so the sessions
          // queued behind this migration proceed during the backoff.
          if (sqlStateOf(error) === LOCK_NOT_AVAILABLE && !trx.isCompleted()) {
            await trx.raw(`ROLLBACK TO SAVEPOINT ${MIGRATION_SAVEPOINT}`);
          }
          throw error;
        }
      },
      { context, scope: 'migration', statement: () => failedSql },
    );
  } finally {
    trx.off('query-error', onError);
  }
}

async function runOutsideTransaction(fn: MigrationFn, knex: Knex, context: RunnerContext): Promise<unknown> {
  const started = Date.now();
  try {
    return await withRunnerContext(context, async () => await fn(withTimeouts(knex, context)));
  } catch (error) {
    if (sqlStateOf(error) === LOCK_NOT_AVAILABLE && !(error instanceof LockTimeoutError)) {
      // A lock timeout inside a transaction that the migration opened itself: its work was
      // rolled back, but the statements before it were committed, so nothing can be retried.
      throw lockTimeoutError({
        context,
        statement: (error as { message?: string }).message,
        blockers: [],
        attempts: 1,
        elapsedMs: Date.now() - started,
        scope: 'transaction',
        cause: error,
      });
    }
    throw error;
  }
}

/**
 * Wraps a migration so that its statements run with the configured timeouts and retries:
 * - inside knex's transaction: `SET LOCAL lock_timeout/statement_timeout` once, then the body
 *   under a savepoint; a lock timeout rolls back to the savepoint and retries the whole body;
 * - outside one: each statement gets the timeouts on its own connection, restored after, and
 *   a lock timeout retries that statement alone.
 * A statement timeout is never retried. When retries run out a `LockTimeoutError` names the
 * migration, the statement and the sessions it waited behind.
 */
export function wrapMigration(migration: Knex.Migration, context: RunContext): Knex.Migration {
  installRunner();
  const wrapped: Knex.Migration = { ...migration };
  for (const direction of ['up', 'down'] as const) {
    const fn = migration[direction] as MigrationFn | undefined;
    if (typeof fn !== 'function') continue;
    const runner: RunnerContext = { name: context.name, direction, settings: context.settings };
    wrapped[direction] = async (knex: Knex) => {
      const bound: MigrationFn = (k) => fn.call(migration, k);
      return isTransaction(knex)
        ? runInTransaction(bound, knex, runner)
        : runOutsideTransaction(bound, knex, runner);
    };
  }
  return wrapped;
}
