import { AsyncLocalStorage } from 'node:async_hooks';
import { processSingleton } from '../process-singleton.js';
import type { Knex } from 'knex';
import { LockTimeoutError } from '../errors.js';
import type { RunnerContext } from './context.js';
import { originalMessage, retryOnLockTimeout } from './retry.js';
import {
  applyTimeoutsQuery,
  restoreTimeoutsQuery,
  timeoutValues,
  TRANSACTION_CONTROL,
  type DriverQuery,
} from './timeout-sql.js';

/** How the statements started inside it run; set by the step executor around a plan step. */
export interface StatementScope {
  /** False for index builds and VALIDATE: `statement_timeout` 0. */
  readonly statementTimeout: boolean;
  /** Retry a lock timeout of a statement outside a transaction (false when an outer loop retries). */
  readonly retry: boolean;
  /** SQL to run on the same connection before a retry. */
  readonly cleanupBeforeRetry?: string;
  /** Told the backend pid of a statement inside a transaction, so that an outer retry loop can watch its blockers. */
  readonly onBackend?: (client: Knex.Client, pid: number) => void;
}

const scopeStorage = processSingleton('statement-scope', () => new AsyncLocalStorage<StatementScope>());

/** Runs `fn` with the statements it starts following `scope`. */
export function withStatementScope<T>(scope: StatementScope, fn: () => Promise<T>): Promise<T> {
  return scopeStorage.run(scope, fn);
}

interface QueryObject {
  sql: string;
  bindings?: unknown[];
  options?: object;
  response?: { rows: Record<string, unknown>[] };
  [key: string]: unknown;
}

type BaseQuery = (connection: unknown, obj: QueryObject) => Promise<QueryObject>;

interface DriverClient {
  _query(connection: unknown, obj: QueryObject): Promise<QueryObject>;
  transacting?: boolean;
}

async function send(base: BaseQuery, connection: unknown, query: DriverQuery): Promise<Record<string, unknown>> {
  const result = await base(connection, { sql: query.sql, bindings: [...query.bindings], options: {} });
  return result.response?.rows[0] ?? {};
}

async function runWithTimeouts(
  client: Knex.Client & DriverClient,
  base: BaseQuery,
  connection: unknown,
  obj: QueryObject,
  context: RunnerContext,
): Promise<QueryObject> {
  if (typeof obj.sql !== 'string' || TRANSACTION_CONTROL.test(obj.sql)) return base(connection, obj);
  const scope = scopeStorage.getStore();
  const values = timeoutValues(context.settings.timeouts, scope?.statementTimeout ?? true);

  if (client.transacting) {
    // SET LOCAL per statement: a knex transaction opened inside the migration is the only
    // place this runs, and the values die with the transaction whatever pooler sits between.
    const row = await send(base, connection, applyTimeoutsQuery(values, true));
    scope?.onBackend?.(client, Number(row.pid));
    return base(connection, obj);
  }

  // Outside a transaction each statement gets the values on the very connection it runs on
  // (this method receives it), and the connection goes back to the pool as it came.
  const previous = await send(base, connection, applyTimeoutsQuery(values, false));
  const pid = Number(previous.pid);
  try {
    const once = async (): Promise<QueryObject> => base(connection, obj);
    if (scope?.retry === false) return await once();
    return await retryOnLockTimeout(
      async (attempt) => {
        attempt.watch(client, pid);
        if (attempt.number > 1 && scope?.cleanupBeforeRetry) {
          await base(connection, { sql: scope.cleanupBeforeRetry, bindings: [], options: {} });
        }
        return once();
      },
      { context, scope: 'statement', statement: () => obj.sql },
    );
  } finally {
    await send(
      base,
      connection,
      restoreTimeoutsQuery(previous as { lock_timeout: string; statement_timeout: string }),
    ).catch(() => undefined); // a terminated connection has nothing left to restore
  }
}

const wrapped = processSingleton('timeouts-wrapped', () => new WeakMap<object, RunnerContext>());

/** True when `knex` is a transaction object (the migrator's or one the migration opened). */
export function isTransaction(knex: Knex): knex is Knex.Transaction {
  return (knex as unknown as { isTransaction?: unknown }).isTransaction === true;
}

/** True when `knex` came from {@link withTimeouts}. */
export function hasTimeouts(knex: Knex): boolean {
  return wrapped.has(knex);
}

/**
 * A knex instance sharing `knex`'s pool whose every statement runs with the migration's
 * `lock_timeout` and `statement_timeout`. Why a client subclass: knex's builders outside a
 * transaction take any pooled connection per query, so per-statement settings are only right
 * when applied in `_query`, which is handed the connection actually used. Transactions opened
 * from it build their client from the same prototype, so they inherit the behaviour.
 */
export function withTimeouts(knex: Knex, context: RunnerContext): Knex {
  if (wrapped.has(knex)) return knex;
  const Base = knex.client.constructor as new (...args: never[]) => Knex.Client & DriverClient;
  class TimeoutClient extends Base {
    override query(connection: unknown, obj: unknown): Promise<unknown> {
      // knex prefixes every query error's message with the SQL; ours already quotes it.
      return (super.query(connection, obj) as Promise<unknown>).catch((error: unknown) => {
        if (error instanceof LockTimeoutError) error.message = originalMessage(error);
        throw error;
      });
    }

    override _query(connection: unknown, obj: QueryObject): Promise<QueryObject> {
      const base: BaseQuery = (conn, query) => super._query(conn, query);
      return runWithTimeouts(this, base, connection, obj, context);
    }
  }
  const clone = knex.withUserParams((knex as { userParams?: Record<string, unknown> }).userParams ?? {});
  Object.setPrototypeOf(clone.client, TimeoutClient.prototype);
  wrapped.set(clone, context);
  return clone;
}
