import type { Knex } from 'knex';
import { MigrationError } from '../errors.js';
import { NeedsNoTransactionError, shadowObserverOf } from '../analysis/shadow/observer.js';
import { setStepExecutor, type OperationPlan, type PlanStep, type StepExecutor } from '../operations/plan.js';
import { runnerContextFor } from './context.js';
import { retryOnLockTimeout } from './retry.js';
import { sendInternalOn } from './internal-query.js';
import { isTransaction, withStatementScope, withTimeouts } from './timeouts-client.js';
import { sendVerbatim } from './verbatim.js';

async function inTransaction(trx: Knex.Transaction, step: PlanStep, plan: OperationPlan): Promise<unknown> {
  // A shadow run trying the migration in a transaction learns here that it needs none.
  if (step.transaction !== 'inherit' && shadowObserverOf(trx)?.probing) throw new NeedsNoTransactionError(`${plan.operation}'s step ${JSON.stringify(step.sql.slice(0, 80))}`);
  if (step.transaction === 'none') {
    throw new MigrationError(
      `${plan.operation} runs a statement that PostgreSQL refuses inside a transaction block:\n  ${step.sql}\n` +
        'Run the migration without a transaction (knex-zd does this by itself for migrations whose operations need it), or in a hand-written migration:\n' +
        '  export const config = { transaction: false };',
      { details: { operation: plan.operation, statement: step.sql } },
    );
  }
  if (step.statementTimeout === false) {
    // Inside the migration's transaction the timeouts are SET LOCAL already; only the
    // exemption of long, weakly locking steps changes, and is put back afterwards.
    const [previous] = await sendInternalOn(trx, {
      sql: "SELECT current_setting('statement_timeout') AS previous, set_config('statement_timeout', '0', true)",
      bindings: [],
    });
    const result = await sendVerbatim(trx, step.sql, step.values);
    await sendInternalOn(trx, { sql: "SELECT set_config('statement_timeout', $1, true)", bindings: [previous?.previous] });
    return result;
  }
  return sendVerbatim(trx, step.sql, step.values);
}

/** The runner's step executor: timeouts on every step, lock-timeout retries where they are safe. */
export const runnerStepExecutor: StepExecutor = async (knex, step, plan) => {
  if (isTransaction(knex)) {
    return inTransaction(knex, step, plan);
  }
  const context = runnerContextFor(knex);
  const timed = withTimeouts(knex, context);
  const statementTimeout = step.statementTimeout !== false;
  if (step.transaction === 'own') {
    // A step of its own transaction is retried whole: once its statement failed the
    // transaction is aborted, and the locks it held are gone with the rollback.
    return retryOnLockTimeout(
      async (attempt) =>
        timed.transaction(async (trx) =>
          withStatementScope(
            { statementTimeout, retry: false, lockTimeout: attempt.lockTimeout, onBackend: (client, pid) => attempt.watch(client, pid) },
            async () => sendVerbatim(trx, step.sql, step.values),
          ),
        ),
      { context, scope: 'transaction', statement: () => step.sql },
    );
  }
  return withStatementScope(
    { statementTimeout, retry: true, ...(step.cleanupBeforeRetry ? { cleanupBeforeRetry: step.cleanupBeforeRetry } : {}) },
    async () => sendVerbatim(timed, step.sql, step.values),
  );
};

let installed = false;

/** Makes plan steps run through the runner (idempotent; called by every operation and by `wrapMigration`). */
export function installRunner(): void {
  if (installed) return;
  installed = true;
  setStepExecutor(runnerStepExecutor);
}
