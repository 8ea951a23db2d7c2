import { AsyncLocalStorage } from 'node:async_hooks';
import type { Knex } from 'knex';
import { loadParser } from '../analysis/parser.js';
import { MigrationError, TransactionPoolingError, ZeroDowntimeError } from '../errors.js';
import { currentPlanStep } from '../operations/plan.js';
import { runSafeForm } from '../safe-by-default/safe-form.js';
import { processSingleton } from '../process-singleton.js';
import { guardConcurrentBuild, type BuildGuard } from './concurrent-build.js';
import type { RunnerContext } from './context.js';
import { sendInternal, type BaseQuery, type DriverQuery, type QueryObject } from './internal-query.js';
import { pinningOf } from './pooling.js';
import { originalMessage, rememberMessage, retryOnLockTimeout, type Attempt } from './retry.js';
import { runnerStatement, type RunnerStatement } from './statement-kind.js';
import { applyTimeoutsQuery, BEGIN, COMMIT, restoreTimeoutsQuery, ROLLBACK, timeoutValues } from './timeout-sql.js';

/** How the statements started inside it run; set by the step executor around a plan step. */
export interface StatementScope {
  /** False for index builds and VALIDATE: `statement_timeout` 0. */
  readonly statementTimeout: boolean;
  /** Retry a lock timeout of a statement outside a transaction (false when an outer loop retries). */
  readonly retry: boolean;
  /** SQL to run on the same connection before a retry (a concurrent index build has its own care). */
  readonly cleanupBeforeRetry?: string;
  /** The `lock_timeout` of the outer loop's attempt, when `retry` is false. */
  readonly lockTimeout?: number | null;
  /** Told the backend pid of a statement inside a transaction, so that an outer retry loop can watch its blockers. */
  readonly onBackend?: (client: Knex.Client, pid: number) => void;
}

const scopeStorage = processSingleton('statement-scope', () => new AsyncLocalStorage<StatementScope>());

/** Runs `fn` with the statements it starts following `scope`. */
export function withStatementScope<T>(scope: StatementScope, fn: () => Promise<T>): Promise<T> {
  return scopeStorage.run(scope, fn);
}

interface DriverClient {
  _query(connection: unknown, obj: QueryObject): Promise<QueryObject>;
  positionBindings?(sql: string): string;
  transacting?: boolean;
}

interface PgConnection {
  /** node-postgres ≥ 8.12: `'I'` idle, `'T'` in a transaction block, `'E'` in a failed one. */
  getTransactionStatus?(): string | null;
}

/** PostgreSQL before 12 refuses `ALTER TYPE … ADD VALUE` in a transaction block. */
const ENUM_VALUE_IN_TRANSACTION_SINCE = 120_000;
const serverVersions = processSingleton('server-versions', () => new WeakMap<object, number>());

async function serverVersionNum(base: BaseQuery, connection: unknown): Promise<number> {
  const known = serverVersions.get(connection as object);
  if (known !== undefined) return known;
  const [row] = await sendInternal(base, connection, { sql: "SELECT current_setting('server_version_num')::int AS version", bindings: [] });
  const version = Number(row?.version);
  serverVersions.set(connection as object, version);
  return version;
}

/** One statement's way through the runner: what it is, where it runs, with which timeouts. */
class StatementRun {
  private readonly scope = scopeStorage.getStore();

  constructor(
    private readonly client: Knex.Client & DriverClient,
    private readonly base: BaseQuery,
    private readonly connection: unknown,
    private readonly obj: QueryObject,
    private readonly context: RunnerContext,
    private readonly statement: RunnerStatement,
  ) {}

  private get timeouts() {
    return this.context.settings.timeouts;
  }

  private get statementTimeout(): boolean {
    return (this.scope?.statementTimeout ?? true) && this.statement.statementTimeout;
  }

  /** The `lock_timeout` of a statement that cannot be retried here: the outer attempt's, else the longest of the schedule. */
  private get unretriedLockTimeout(): number | null {
    return this.scope?.lockTimeout !== undefined ? this.scope.lockTimeout : this.timeouts.lock;
  }

  private send(query: DriverQuery): Promise<Record<string, unknown>[]> {
    return sendInternal(this.base, this.connection, query);
  }

  private async setTimeouts(lock: number | null, local: boolean): Promise<Record<string, unknown>> {
    const [row] = await this.send(applyTimeoutsQuery(timeoutValues(this.timeouts, lock, this.statementTimeout), local));
    return row ?? {};
  }

  private retries<T>(run: (attempt: Attempt) => Promise<T>, onGiveUp?: () => Promise<readonly string[]>): Promise<T> {
    return retryOnLockTimeout(run, { context: this.context, scope: 'statement', statement: () => this.obj.sql, ...(onGiveUp ? { onGiveUp } : {}) });
  }

  /** Inside a transaction (knex's, or one the migration opened with its own BEGIN): `SET LOCAL`, then the statement. */
  async inTransaction(): Promise<QueryObject> {
    const row = await this.setTimeouts(this.unretriedLockTimeout, true);
    this.scope?.onBackend?.(this.client, Number(row.pid));
    return this.base(this.connection, this.obj);
  }

  /**
   * Outside a transaction, a statement that can run in one runs in the runner's own, on this
   * very connection: BEGIN, SET LOCAL timeouts, the statement, COMMIT. Through a transaction
   * pooler the whole transaction stays on one server connection, and the settings end with it.
   * A lock timeout rolls back (releasing every lock taken) and the transaction is retried whole.
   */
  async wrapped(): Promise<QueryObject> {
    const once = async (lock: number | null, attempt?: Attempt): Promise<QueryObject> => {
      await this.send(BEGIN);
      try {
        const row = await this.setTimeouts(lock, true);
        attempt?.watch(this.client, Number(row.pid));
        this.scope?.onBackend?.(this.client, Number(row.pid));
        const result = await this.base(this.connection, this.obj);
        await this.send(COMMIT);
        return result;
      } catch (error) {
        await this.send(ROLLBACK).catch(() => undefined); // a broken connection has nothing left to roll back
        throw error;
      }
    };
    if (this.scope?.retry === false) return once(this.unretriedLockTimeout);
    return this.retries((attempt) => once(attempt.lockTimeout, attempt));
  }

  /**
   * A statement that cannot run in a transaction block (or carries its own transaction
   * control) can only get its timeouts as session settings, which are safe only when the
   * connection keeps one session: it is refused, before being sent, through transaction
   * pooling. Otherwise the settings are set, the statement retried on lock timeout (a
   * concurrent index build drops its own INVALID leftover first), and the settings put back.
   */
  async onSession(): Promise<QueryObject> {
    const pinning = await pinningOf(this.client, this.base, this.connection);
    if (!pinning.pinned) throw transactionPoolingError(this.statement, this.obj.sql, pinning.evidence);
    const build = this.statement.concurrentBuild;
    const guard: BuildGuard | null = build ? await guardConcurrentBuild((q) => this.send(q), build, this.obj.sql) : null;
    let previous: Record<string, unknown> | undefined;
    const once = async (lock: number | null, attempt?: Attempt): Promise<QueryObject> => {
      const row = await this.setTimeouts(lock, false);
      previous ??= row;
      attempt?.watch(this.client, Number(row.pid));
      if (attempt && attempt.number > 1) {
        if (guard) await guard.dropLeftovers();
        else if (this.scope?.cleanupBeforeRetry) await this.send({ sql: this.scope.cleanupBeforeRetry, bindings: [] });
      }
      try {
        const result = await this.base(this.connection, this.obj);
        await guard?.assertValid();
        return result;
      } catch (error) {
        // A text with its own BEGIN stops at its failing statement, inside its transaction:
        // rolling it back releases its locks (and the connection goes back to knex usable).
        // A text with its own transaction control is always rolled back: the driver's status
        // may still show the state before the error (ROLLBACK outside a transaction only warns).
        const status = (this.connection as PgConnection).getTransactionStatus?.();
        if (status === 'T' || status === 'E' || this.statement.kind === 'own-transaction') {
          await this.send(ROLLBACK).catch(() => undefined);
        }
        throw error;
      }
    };
    try {
      if (this.scope?.retry === false) return await once(this.unretriedLockTimeout);
      return await this.retries(
        (attempt) => once(attempt.lockTimeout, attempt),
        guard ? async () => leftoverNotes(guard) : undefined,
      );
    } finally {
      if (previous) {
        await this.send(restoreTimeoutsQuery(previous as { lock_timeout: string; statement_timeout: string })).catch(() => undefined); // a terminated connection has nothing left to restore
      }
    }
  }
}

/** After the last attempt of a concurrent build: one more try at dropping its leftover, and what is left to say. */
async function leftoverNotes(guard: BuildGuard): Promise<string[]> {
  const dropped = await guard.dropLeftovers().catch(() => []);
  const left = await guard.leftovers().catch(() => []);
  const notes: string[] = [];
  if (dropped.length > 0) notes.push(`The INVALID index it left (${dropped.join(', ')}) was dropped.`);
  if (left.length > 0) {
    notes.push(
      `It left the INVALID index ${left.join(', ')}, which could not be dropped while the blocker was there. Drop it before running the migration again:`,
      ...left.map((index) => `  DROP INDEX CONCURRENTLY ${index};`),
    );
  }
  return notes;
}

function oneLine(sql: string): string {
  const flat = sql.replace(/\s+/g, ' ').trim();
  return flat.length > 300 ? `${flat.slice(0, 299)}…` : flat;
}

/** The refusal of a session-level statement through transaction pooling. */
export function transactionPoolingError(statement: RunnerStatement, sql: string, evidence: string): TransactionPoolingError {
  const why =
    statement.kind === 'own-transaction'
      ? 'It carries its own transaction control, so knex-zd cannot run it inside a transaction of its own with SET LOCAL timeouts'
      : `PostgreSQL refuses ${statement.summary} inside a transaction block, so its lock_timeout and statement_timeout could only be set for the whole session`;
  const lines = [
    `Refusing to send a statement through a transaction-pooling connection (${evidence}):`,
    `  ${oneLine(sql)}`,
    `${why}; through transaction pooling (pgbouncer pool_mode = transaction, or a pooler like it) a session setting stays on a server connection that other clients then use, and the statement may run on another server connection without it. Nothing was sent.`,
    'Give migrations a direct connection to PostgreSQL, or one through a session-pooled port, e.g. with a knexfile environment of their own:',
    '  migrate: { ...production, connection: process.env.DIRECT_DATABASE_URL },',
    'then run knex-zd migrate:latest --env migrate.',
  ];
  if (statement.kind === 'own-transaction') {
    lines.push('Or let knex-zd run the transaction: remove BEGIN/COMMIT and use await knex.transaction(async (trx) => { … }).');
  }
  return new TransactionPoolingError(lines.join('\n'), { details: { statement: sql, evidence } });
}

/**
 * `safeByDefault`: when the statement is one the plan runs in its safe form, runs that instead, on
 * this very connection (the migration runs outside a transaction; the pool may have no other
 * connection to give), and answers knex as the statement would have; else `null`.
 */
async function safeFormInstead(
  client: Knex.Client & DriverClient,
  connection: unknown,
  obj: QueryObject,
  context: RunnerContext,
  bindTo: ((connection: unknown) => Knex) | undefined,
): Promise<QueryObject | null> {
  // The safe form's own steps and catalog reads are not the migration's statements.
  if (!context.safeForms || currentPlanStep()) return null;
  // knex's driver text (`?` → `$n`) against the plan's statement as the migration wrote it.
  const counted = context.safeForms.take(obj.sql, obj.bindings, (sql) => client.positionBindings?.(sql) ?? sql);
  if (!counted?.directive) return null;
  const status = (connection as PgConnection).getTransactionStatus?.() ?? 'I';
  if (client.transacting || status !== 'I' || !bindTo) {
    throw new MigrationError(`safeByDefault cannot run\n  ${counted.directive.sql}\nin its safe form inside a transaction; the plan ran it outside one. Plan again (knex-zd migrate:plan).`, {
      details: { statement: counted.directive.sql },
    });
  }
  await runSafeForm(bindTo(connection), counted.directive);
  const command = /^\s*(\w+)/.exec(obj.sql)?.[1]?.toUpperCase() ?? '';
  return { ...obj, response: { command, rowCount: null, rows: [], fields: [] } as QueryObject['response'] };
}

async function runWithTimeouts(
  client: Knex.Client & DriverClient,
  base: BaseQuery,
  connection: unknown,
  obj: QueryObject,
  context: RunnerContext,
  bindTo?: (connection: unknown) => Knex,
): Promise<QueryObject> {
  if (typeof obj.sql !== 'string' || obj.zdInternal === true) return base(connection, obj);
  await loadParser();
  const instead = await safeFormInstead(client, connection, obj, context, bindTo);
  if (instead) return instead;
  const statement = runnerStatement(obj.sql);
  if (statement.kind === 'control') return base(connection, obj);
  const run = new StatementRun(client, base, connection, obj, context, statement);
  // SET LOCAL per statement inside a transaction: knex's (the migration opened one) or one
  // opened by the migration's own BEGIN on this connection.
  if (client.transacting) return run.inTransaction();
  const status = (connection as PgConnection).getTransactionStatus?.() ?? 'I';
  if (status === 'T') return run.inTransaction();
  if (status === 'E') return base(connection, obj); // the server refuses anything but the end of the transaction
  let kind = statement.kind;
  if (kind === 'transactional' && statement.addsEnumValue && (await serverVersionNum(base, connection)) < ENUM_VALUE_IN_TRANSACTION_SINCE) {
    kind = 'non-transactional';
  }
  return kind === 'transactional' ? run.wrapped() : run.onSession();
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
  // The same instance on one connection that it keeps (a safe form's steps run on the connection of the statement they replace).
  const bindTo = (connection: unknown): Knex => {
    const bound = clone.withUserParams((clone as { userParams?: Record<string, unknown> }).userParams ?? {});
    const client = bound.client as unknown as { acquireConnection(): Promise<unknown>; releaseConnection(connection: unknown): Promise<void> };
    client.acquireConnection = () => Promise.resolve(connection);
    client.releaseConnection = () => Promise.resolve();
    wrapped.set(bound, context);
    return bound;
  };
  class TimeoutClient extends Base {
    override query(connection: unknown, obj: unknown): Promise<unknown> {
      // knex prefixes every query error's message with the SQL; ours already quotes it.
      return (super.query(connection, obj) as Promise<unknown>).catch((error: unknown) => {
        if (error instanceof ZeroDowntimeError) error.message = originalMessage(error);
        throw error;
      });
    }

    override _query(connection: unknown, obj: QueryObject): Promise<QueryObject> {
      const base: BaseQuery = (conn, query) => super._query(conn, query);
      return runWithTimeouts(this, base, connection, obj, context, bindTo).catch((error: unknown) => {
        if (error instanceof ZeroDowntimeError) rememberMessage(error);
        throw error;
      });
    }
  }
  const clone = knex.withUserParams((knex as { userParams?: Record<string, unknown> }).userParams ?? {});
  Object.setPrototypeOf(clone.client, TimeoutClient.prototype);
  wrapped.set(clone, context);
  return clone;
}
