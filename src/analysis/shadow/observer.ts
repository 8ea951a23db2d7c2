/**
 * What a shadow run tells the code that runs inside it, through the knex instance itself (a
 * symbol on its config, which knex copies to the clients of its transactions and of
 * `withUserParams` clones): the operations' plans, and whether the migration is being tried in
 * a transaction to learn whether it needs one.
 */
import type { Knex } from 'knex';
import type { OperationPlan } from '../../operations/plan.js';

const OBSERVER = Symbol.for('knex-zero-downtime:shadow-observer');

/** The shadow run's side of the contract. */
export interface ShadowObserver {
  /** An operation's plan, before its steps run (a plan with no step still decides a stage). */
  observePlan(plan: OperationPlan): void;
  /** True while a migration is tried inside a transaction to learn whether it can run in one. */
  readonly probing: boolean;
}

/** Thrown inside a probing transaction when a statement or a step must run outside one: the shadow run retries the migration without. */
export class NeedsNoTransactionError extends Error {
  constructor(readonly what: string) {
    super(`${what} cannot run inside a transaction block; the migration runs outside one.`);
    this.name = 'NeedsNoTransactionError';
  }
}

/** Marks a knex config as a shadow run's. */
export function setShadowObserver(config: object, observer: ShadowObserver): void {
  Object.defineProperty(config, OBSERVER, { value: observer, enumerable: true, configurable: true, writable: false });
}

/** The shadow run `knex` belongs to, if any. */
export function shadowObserverOf(knex: Knex): ShadowObserver | undefined {
  return (knex.client.config as Record<symbol, ShadowObserver | undefined> | undefined)?.[OBSERVER];
}

/** True when `error` (or its cause chain) is a {@link NeedsNoTransactionError}. */
export function isNeedsNoTransaction(error: unknown): boolean {
  for (let current = error, depth = 0; current && depth < 8; depth++) {
    if (current instanceof NeedsNoTransactionError || (current as { name?: unknown }).name === 'NeedsNoTransactionError') return true;
    current = (current as { cause?: unknown; originalError?: unknown }).cause ?? (current as { originalError?: unknown }).originalError;
  }
  return false;
}
