import type { Knex } from 'knex';

/** The query object that knex's client hands to `_query(connection, obj)`. */
export interface QueryObject {
  sql: string;
  bindings?: unknown[];
  options?: object;
  response?: { rows: Record<string, unknown>[] };
  /** Set on the statements the runner sends itself, so that tracing layers can tell them from the migration's. */
  zdInternal?: boolean;
  [key: string]: unknown;
}

/** The driver call underneath the runner: the base client's `_query`. */
export type BaseQuery = (connection: unknown, obj: QueryObject) => Promise<QueryObject>;

/** A statement with positional (`$n`) bindings, as the driver receives it. */
export interface DriverQuery {
  readonly sql: string;
  readonly bindings: readonly unknown[];
}

/** Sends one of the runner's own statements on `connection`, tagged `zdInternal`, and gives its rows. */
export async function sendInternal(base: BaseQuery, connection: unknown, query: DriverQuery): Promise<Record<string, unknown>[]> {
  const result = await base(connection, { sql: query.sql, bindings: [...query.bindings], options: {}, zdInternal: true });
  return result.response?.rows ?? [];
}

interface TransactionClient {
  acquireConnection(): Promise<unknown>;
  releaseConnection(connection: unknown): Promise<unknown>;
  _query(connection: unknown, obj: QueryObject): Promise<QueryObject>;
}

/**
 * Sends one of the runner's own statements on a knex transaction's connection, through its
 * client's `_query` (no binding processing, no `query` event), tagged `zdInternal`.
 */
export async function sendInternalOn(trx: Knex.Transaction, query: DriverQuery): Promise<Record<string, unknown>[]> {
  const client = trx.client as unknown as TransactionClient;
  const connection = await client.acquireConnection();
  try {
    return await sendInternal((conn, obj) => client._query(conn, obj), connection, query);
  } finally {
    await client.releaseConnection(connection);
  }
}
