/**
 * A capture session: what one analysis run in capture mode (no shadow database) shares across
 * the migrations it analyses, in plan order. The target database is only read, one provably
 * side-effect-free statement at a time, inside a `READ ONLY` transaction that is rolled back;
 * what earlier pending migrations would change is carried by the schema model instead.
 */
import type { Knex } from 'knex';
import { openSchemaModel, type CatalogQuery } from '../catalog/load-catalog.js';
import type { SchemaModel } from '../catalog/schema-model.js';
import { KNOWN_PURE, type QualifiedFunction } from './read-policy.js';

/** `pg_proc` says every overload of a name is not VOLATILE, and none shadows the built-in on the search path. */
const PURE_FUNCTION_SQL = `SELECT count(*) > 0 AND bool_and(p.provolatile <> 'v' AND n.nspname = 'pg_catalog') AS pure
FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
WHERE p.proname = $1 AND (n.nspname = 'pg_catalog' OR n.nspname = ANY (pg_catalog.current_schemas(false)))`;

/** What a capture run shares: the target (read-only) and the schema model of the plan. */
export class CaptureSession {
  private readonly pure = new Map<string, boolean>();

  private constructor(
    /** The application's knex on the target database: reads only. */
    readonly target: Knex,
    /** Runs one read on the target in a `READ ONLY` transaction that is rolled back. */
    readonly read: CatalogQuery,
    /** The target's catalog as the statements captured so far leave it. */
    readonly model: SchemaModel,
  ) {}

  /** Opens a session on `target`: reads its search path and version (one query). */
  static async open(target: Knex): Promise<CaptureSession> {
    const read = readOnlyQuery(target);
    return new CaptureSession(target, read, await openSchemaModel(read));
  }

  /** True when every function is a built-in that `pg_proc` (or the known list) says has no side effects. */
  async functionsArePure(functions: readonly QualifiedFunction[]): Promise<boolean> {
    for (const fn of functions) {
      if (KNOWN_PURE.has(fn.name)) continue;
      let pure = this.pure.get(fn.name);
      if (pure === undefined) {
        const [row] = await this.read(PURE_FUNCTION_SQL, [fn.name]);
        pure = row?.pure === true;
        this.pure.set(fn.name, pure);
      }
      if (!pure) return false;
    }
    return true;
  }
}

/**
 * A catalog query function on `knex` that runs each statement in its own `READ ONLY`
 * transaction on one pooled connection, rolled back, so that nothing it does can stay: no
 * write, no lock, no session setting (`BEGIN … ROLLBACK` is safe through transaction pooling).
 */
export function readOnlyQuery(knex: Knex): CatalogQuery {
  return async (sql, values) => {
    const client = knex.client as Knex.Client & {
      acquireConnection(): Promise<PgConnection>;
      releaseConnection(connection: PgConnection): Promise<void>;
    };
    const connection = await client.acquireConnection();
    try {
      await connection.query('BEGIN READ ONLY');
      try {
        const result = await connection.query({ text: sql, values: [...values] });
        return result.rows;
      } finally {
        await connection.query('ROLLBACK');
      }
    } finally {
      await client.releaseConnection(connection);
    }
  };
}

/** The node-postgres client, as far as capture uses it. */
export interface PgConnection {
  query(sql: string | { text: string; values?: unknown[] }): Promise<{ rows: Array<Record<string, unknown>>; rowCount?: number | null; command?: string; fields?: unknown[] }>;
}
