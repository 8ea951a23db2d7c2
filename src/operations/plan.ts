import { AsyncLocalStorage } from 'node:async_hooks';
import type { Knex } from 'knex';
import type { Stage } from '../stages.js';
import { processSingleton } from '../process-singleton.js';
import { shadowObserverOf } from '../analysis/shadow/observer.js';
import { sendVerbatim } from '../runner/verbatim.js';
import type { SafeFormDirective } from '../safe-by-default/directive.js';

/**
 * How a step relates to transactions:
 * - `'inherit'`: runs wherever the migration runs (inside its transaction when it has one);
 * - `'none'`: must run outside any transaction block (e.g. `CREATE INDEX CONCURRENTLY`);
 * - `'own'`: runs in a transaction of its own, committed before the next step (e.g. `VALIDATE CONSTRAINT`).
 */
export type StepTransaction = 'inherit' | 'none' | 'own';

/** One statement of an operation's plan. */
export interface PlanStep {
  /** The statement, sent to PostgreSQL byte for byte as written (never through knex's binding rewriting). */
  readonly sql: string;
  /**
   * The driver's values for `$1`, `$2`… in `sql` (a parameterised statement, e.g. a backfill
   * batch after the last key), sent apart from the text: the plan shows `$1`, never an
   * interpolated copy.
   */
  readonly values?: readonly unknown[];
  readonly transaction: StepTransaction;
  /** False for steps that only hold weak locks for a long time (index builds, VALIDATE): no statement timeout. @default true */
  readonly statementTimeout?: boolean;
  /** Why the step is there, shown by `migrate:plan`. */
  readonly description?: string;
  /**
   * SQL run before the step is retried after a lock timeout, e.g. dropping the INVALID index
   * that a `CREATE INDEX CONCURRENTLY` which timed out while waiting leaves behind.
   */
  readonly cleanupBeforeRetry?: string;
}

/** What a safe operation will do, as data: printed by `migrate:plan`, compared by tests, then executed. */
export interface OperationPlan {
  /** The operation's exported name, e.g. `'addIndexConcurrently'`. */
  readonly operation: string;
  readonly stage: Stage;
  /** Empty when the catalog shows the work is already done (the operation is idempotent). */
  readonly steps: readonly PlanStep[];
  /** How to undo it, as the operation call to paste into `down`. */
  readonly reverse?: string;
  /** Set when the plan is the safe form of a migration's own statement (`safeByDefault`): that statement. */
  readonly safeForm?: SafeFormDirective;
}

/** Receives what a migration would run, instead of running it (see `analyzeMigration`). */
export interface CaptureRecorder {
  /** Records an operation's plan; the operation must not execute anything itself. */
  recordPlan(plan: OperationPlan): void | Promise<void>;
}

const captureStorage = processSingleton('capture-recorder', () => new AsyncLocalStorage<CaptureRecorder>());

/** Runs `fn` with `recorder` receiving every operation plan built inside it. @internal */
export function withCaptureRecorder<T>(recorder: CaptureRecorder, fn: () => Promise<T>): Promise<T> {
  return captureStorage.run(recorder, fn);
}

/** The recorder of the analysis in progress, if any. @internal */
export function activeCaptureRecorder(): CaptureRecorder | undefined {
  return captureStorage.getStore();
}

/** Executes one step and resolves to the driver's result; replaced by the runner to add timeouts and retries. @internal */
export type StepExecutor = (knex: Knex, step: PlanStep, plan: OperationPlan) => Promise<unknown>;

const executor = processSingleton<{ current: StepExecutor | null }>('step-executor', () => ({ current: null }));
const defaultStepExecutor: StepExecutor = async (knex, step) => {
  if (step.transaction === 'own') {
    return knex.transaction(async (trx) => sendVerbatim(trx, step.sql, step.values));
  }
  return sendVerbatim(knex, step.sql, step.values);
};

/** Installs the function that executes plan steps (the runner does, with timeouts and retries). @internal */
export function setStepExecutor(executor_: StepExecutor): void {
  executor.current = executor_;
}

/**
 * Records the plan when a migration is being analysed, executes it otherwise.
 * Every safe operation ends with this call.
 */
export async function executePlan(knex: Knex, plan: OperationPlan): Promise<void> {
  const recorder = activeCaptureRecorder();
  if (recorder) {
    await recorder.recordPlan(plan);
    return;
  }
  shadowObserverOf(knex)?.observePlan(plan);
  for (const step of plan.steps) {
    await executeStep(knex, step, plan);
  }
}

const stepStorage = processSingleton('plan-step', () => new AsyncLocalStorage<{ readonly plan: OperationPlan; readonly step: PlanStep }>());

/** The plan step whose statements are being sent, if any (the shadow tracer attributes them to their operation). @internal */
export function currentPlanStep(): { readonly plan: OperationPlan; readonly step: PlanStep } | undefined {
  return stepStorage.getStore();
}

/**
 * Executes one step of a plan outside analysis and returns the driver's result (used by
 * operations that loop, such as `backfill`, whose next step depends on the last one's rows).
 * @internal
 */
export async function executeStep(knex: Knex, step: PlanStep, plan: OperationPlan): Promise<unknown> {
  return stepStorage.run({ plan, step }, () => (executor.current ?? defaultStepExecutor)(knex, step, plan));
}
