import { promisify } from 'node:util';
import type { Knex } from 'knex';
import { connectionSettingsOf } from '../connection-settings.js';

/** Runs one statement of the migration lock, with `$1`-style parameters, and returns its rows. */
export type LockQuery = <Row = Record<string, unknown>>(sql: string, params?: readonly unknown[]) => Promise<Row[]>;

interface DriverClient {
  config: Knex.Config;
  acquireConnection(): Promise<unknown>;
  releaseConnection(connection: unknown): Promise<unknown>;
  acquireRawConnection(): Promise<unknown>;
  setSchemaSearchPath(connection: unknown): Promise<unknown>;
  driver?: unknown;
  destroyRawConnection(connection: unknown): Promise<unknown>;
  _query(connection: unknown, obj: { sql: string; bindings: unknown[]; zdInternal: true }): Promise<{ response?: { rows?: unknown[] } }>;
}

/**
 * A connection of the lock's own, outside knex's pool: the heartbeat must go on while a migration
 * holds every pooled connection (a pool of 1, a long index build). Each statement stands alone
 * (autocommit, no `SET`, no advisory lock), so it is safe through pgbouncer in transaction pooling.
 * Statements go to the driver as they are, `$n` parameters and all: never through knex's `?`
 * binding rewriting. They carry `zdInternal` so that tracing layers can tell them from a migration's SQL.
 */
export class LockConnection {
  readonly #client: DriverClient;
  #connection: unknown = null;
  #opening: Promise<unknown> | null = null;

  constructor(knex: Knex) {
    this.#client = knex.client as DriverClient;
  }

  /** Runs one statement; a broken connection is dropped, and the next statement opens a new one. */
  readonly query: LockQuery = async <Row>(sql: string, params: readonly unknown[] = []): Promise<Row[]> => {
    const connection = await this.#open();
    try {
      const result = await this.#client._query(connection, { sql, bindings: [...params], zdInternal: true });
      return (result.response?.rows ?? []) as Row[];
    } catch (error) {
      if ((connection as { __knex__disposed?: unknown }).__knex__disposed !== undefined) await this.#drop();
      throw error;
    }
  };

  async #open(): Promise<unknown> {
    if (this.#connection !== null && (this.#connection as { __knex__disposed?: unknown }).__knex__disposed === undefined) {
      return this.#connection;
    }
    if (this.#connection !== null) await this.#drop();
    this.#opening ??= (async () => {
      try {
        // A pooled connection first: it resolves a `connection` given as a function (knex does
        // that when its pool creates a connection), which the raw connection below relies on.
        await this.#client.releaseConnection(await this.#client.acquireConnection());
        const connection = await this.#rawConnection();
        const afterCreate = (this.#client.config.pool as { afterCreate?: (c: unknown, done: (e?: unknown) => void) => void } | undefined)?.afterCreate;
        if (afterCreate) await promisify(afterCreate)(connection);
        this.#connection = connection;
        return connection;
      } finally {
        this.#opening = null;
      }
    })();
    return this.#opening;
  }

  /**
   * knex's raw connection, but with the password: knex's Migrator works on a clone of the knex
   * instance whose connection settings lost it (see `connectionSettingsOf`).
   */
  async #rawConnection(): Promise<unknown> {
    const settings = connectionSettingsOf(this.#client as unknown as Knex.Client);
    const Driver = (this.#client.driver as { Client?: new (settings: unknown) => { connect(): Promise<unknown>; end(): Promise<void> } } | undefined)?.Client;
    if (!settings || !Driver) return this.#client.acquireRawConnection();
    const connection = new Driver(settings);
    try {
      await connection.connect();
    } catch (error) {
      // Refused (during authentication, say): end it, or it keeps the process alive.
      await connection.end().catch(() => undefined);
      throw error;
    }
    await this.#client.setSchemaSearchPath(connection);
    return connection;
  }

  async #drop(): Promise<void> {
    const connection = this.#connection;
    this.#connection = null;
    if (connection !== null) await this.#client.destroyRawConnection(connection).catch(() => undefined);
  }

  /** Closes the connection (the knex instance and its pool are the caller's). */
  async close(): Promise<void> {
    await this.#drop();
  }
}
