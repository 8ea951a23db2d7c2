import type { Knex } from 'knex';
import type { Settings } from '../config.js';
import { SafeFormCursor } from '../safe-by-default/cursor.js';
import type { SafeFormDirective } from '../safe-by-default/directive.js';
import { sqlStateOf, LockTimeoutError } from '../errors.js';
import { LOCK_NOT_AVAILABLE } from './backoff.js';
import { withRunnerContext, type RunnerContext } from './context.js';
import { lockTimeoutError, retryOnLockTimeout } from './retry.js';
import { installRunner } from './step-executor.js';
import { applyTimeoutsQuery, timeoutValues } from './timeout-sql.js';
import { isTransaction, withTimeouts } from './timeouts-client.js';
import { sendInternalOn } from './internal-query.js';

/** What the runner knows about the migration it wraps. */
export interface RunContext {
  readonly name: string;
  readonly direction: 'up' | 'down';
  /** True when knex runs the migration inside a transaction. */
  readonly transaction: boolean;
  readonly settings: Settings;
  /** The statements the plan runs in their safe form (`safeByDefault`); the migration then runs outside a transaction. */
  readonly safeForms?: readonly SafeFormDirective[];
}

/** The savepoint the whole migration is retried from when it runs inside a transaction. */
export const MIGRATION_SAVEPOINT = 'knex_zd_migration';

type MigrationFn = (knex: Knex) => unknown;

async function runInTransaction(fn: MigrationFn, trx: Knex.Transaction, context: RunnerContext): Promise<unknown> {
  let failedSql: string | undefined;
  const onError = (_error: unknown, obj: { sql?: string }) => {
    failedSql = obj?.sql;
  };
  trx.on('query-error', onError);
  try {
    return await retryOnLockTimeout(
      async (attempt) => {
        // SET LOCAL before the savepoint, so that rolling back to it keeps them; each attempt
        // sets the lock_timeout of its own turn in the schedule.
        const [row] = await sendInternalOn(trx, applyTimeoutsQuery(timeoutValues(context.settings.timeouts, attempt.lockTimeout, true), true));
        attempt.watch(trx.client, Number(row?.pid));
        await sendInternalOn(trx, { sql: `SAVEPOINT ${MIGRATION_SAVEPOINT}`, bindings: [] });
        try {
          const result = await withRunnerContext(context, async () => await fn(trx));
          await sendInternalOn(trx, { sql: `RELEASE SAVEPOINT ${MIGRATION_SAVEPOINT}`, bindings: [] });
          return result;
        } catch (error) {
          // Rolling back to the savepoint releases every lock taken since, so the sessions
          // queued behind this migration proceed during the backoff.
          if (sqlStateOf(error) === LOCK_NOT_AVAILABLE && !trx.isCompleted()) {
            await sendInternalOn(trx, { sql: `ROLLBACK TO SAVEPOINT ${MIGRATION_SAVEPOINT}`, bindings: [] });
            await sendInternalOn(trx, { sql: `RELEASE SAVEPOINT ${MIGRATION_SAVEPOINT}`, bindings: [] });
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
        lockTimeout: context.settings.timeouts.lock,
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
 * - inside knex's transaction: `SET LOCAL lock_timeout/statement_timeout`, then the body
 *   under a savepoint; a lock timeout rolls back to the savepoint and retries the whole body;
 * - outside one: each statement that can run in a transaction runs in one of its own on its
 *   connection (BEGIN, SET LOCAL, the statement, COMMIT), retried whole on a lock timeout;
 *   one that cannot (CONCURRENTLY, VACUUM…) gets session settings, restored after, and is
 *   refused through transaction pooling, where a session setting would reach other clients.
 * A statement timeout is never retried. When retries run out a `LockTimeoutError` names the
 * migration, the statement and the sessions it waited behind.
 */
export function wrapMigration(migration: Knex.Migration, context: RunContext): Knex.Migration {
  installRunner();
  const wrapped: Knex.Migration = { ...migration };
  for (const direction of ['up', 'down'] as const) {
    const fn = migration[direction] as MigrationFn | undefined;
    if (typeof fn !== 'function') continue;
    const safeForms = context.safeForms ?? [];
    wrapped[direction] = async (knex: Knex) => {
      // Each run counts the migration's statements that have a safe form from the first one.
      const runner: RunnerContext = { name: context.name, direction, settings: context.settings, ...(safeForms.length > 0 ? { safeForms: new SafeFormCursor(safeForms) } : {}) };
      const bound: MigrationFn = (k) => fn.call(migration, k);
      return isTransaction(knex)
        ? runInTransaction(bound, knex, runner)
        : runOutsideTransaction(bound, knex, runner);
    };
  }
  return wrapped;
}
