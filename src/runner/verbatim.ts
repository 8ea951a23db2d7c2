import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { ZeroDowntimeError } from '../errors.js';

/** What node-postgres answers for one statement. */
export interface VerbatimResult {
  readonly command: string;
  readonly rowCount: number | null;
  readonly rows: Record<string, unknown>[];
}

/** The query object handed to the client's `_query`, as knex builds it for a raw statement. */
interface QueryObject {
  method: 'raw';
  sql: string;
  bindings: unknown[];
  options: object;
  __knexQueryUid: string;
  response?: VerbatimResult;
  [key: string]: unknown;
}

/** The parts of knex's client that this module uses (knex declares them internal). */
interface ClientInternals {
  acquireConnection(): Promise<{ __knexUid?: string; __knexTxId?: string }>;
  releaseConnection(connection: unknown): Promise<unknown>;
  _query(connection: unknown, obj: QueryObject): Promise<QueryObject>;
  emit(event: string, ...args: unknown[]): boolean;
}

/**
 * Sends `sql` to PostgreSQL exactly as written, through `knex`'s client (a transaction's
 * connection when `knex` is a transaction, a pooled one otherwise), with `values` as the
 * driver's values for `$1`, `$2`… of a parameterised statement.
 *
 * Why not `knex.raw(sql)`: knex rewrites the text on its way to the driver, twice, even with
 * no bindings at all: `Raw.toSQL` turns `?`/`??` into bindings and `\?` into `?`, then the pg
 * client's `positionBindings` (called by `client.query` for every statement) turns `?` into
 * `$n` and drops the backslashes before a `?`. No escaping survives both (a `\?` cannot come
 * out of `positionBindings`), and a Raw whose `toSQL` returned the text unchanged would still
 * go through `positionBindings`. So this calls `client._query(connection, obj)`, the step below
 * both rewrites, where knex hands a finished statement to the driver. That is also the method
 * the runner's timeouts client overrides, and the seam any tracing layer hooks, so timeouts,
 * retries and tracing apply unchanged. What `client.query` adds around it is kept here: the
 * `query`/`query-error` events (a transaction forwards them to its parent), knex's error
 * message prefix, and the refusal to use a transaction that has completed.
 */
export async function sendVerbatim(knex: Knex, sql: string, values: readonly unknown[] = []): Promise<VerbatimResult> {
  const transaction = knex as unknown as { isTransaction?: boolean; isCompleted?: () => boolean };
  if (transaction.isTransaction === true && transaction.isCompleted?.() === true) {
    throw new Error(`Transaction query already complete: cannot send ${sql}`);
  }
  const client = knex.client as unknown as ClientInternals;
  const connection = await client.acquireConnection();
  const obj: QueryObject = { method: 'raw', sql, bindings: [...values], options: {}, __knexQueryUid: randomUUID() };
  const ids = { __knexUid: connection.__knexUid, __knexTxId: connection.__knexTxId };
  try {
    client.emit('query', { ...ids, ...obj });
    let done: QueryObject;
    try {
      done = await client._query(connection, obj);
    } catch (error) {
      // knex's own convention (executeQuery): the statement leads the driver's message.
      // Errors of this package carry their statement already.
      if (error instanceof Error && !(error instanceof ZeroDowntimeError)) error.message = `${sql} - ${error.message}`;
      client.emit('query-error', error, { ...ids, ...obj });
      throw error;
    }
    return done.response ?? { command: '', rowCount: null, rows: [] };
  } finally {
    await client.releaseConnection(connection);
  }
}
