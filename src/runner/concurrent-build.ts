/**
 * The care a `CREATE INDEX CONCURRENTLY` needs, whether an operation or a migration's own SQL
 * sent it: a build that times out waiting for a lock after its catalog entry was made leaves
 * an INVALID index, which must be dropped before the retry (else the retry fails with 42P07,
 * or, with IF NOT EXISTS, "succeeds" without a usable index). Only an index that did not
 * exist before the statement is dropped: a snapshot of the table's indexes is taken first.
 */
import { MigrationError } from '../errors.js';
import { quoteQualified } from '../identifiers.js';
import type { DriverQuery } from './internal-query.js';
import type { ConcurrentBuild } from './statement-kind.js';

/** Sends one of the runner's own statements on the connection of the build. */
export type Send = (query: DriverQuery) => Promise<Record<string, unknown>[]>;

/** The table's indexes before the build, and what to do about its leftovers. */
export interface BuildGuard {
  /** Drops the INVALID indexes this statement left (concurrently), and gives their names. A lock timeout of the drop is thrown. */
  dropLeftovers(): Promise<string[]>;
  /** The INVALID indexes this statement left that are still there. */
  leftovers(): Promise<string[]>;
  /** After the build: with IF NOT EXISTS, the index must be there and valid. */
  assertValid(): Promise<void>;
}

/** The table, its indexes, and what the statement's name already denotes, in one read. */
export const SNAPSHOT_SQL = `SELECT t.oid AS table_oid, n.nspname AS schema,
  coalesce((SELECT array_agg(i.indexrelid) FROM pg_catalog.pg_index i WHERE i.indrelid = t.oid), '{}') AS indexes,
  (SELECT i.indisvalid FROM pg_catalog.pg_class c JOIN pg_catalog.pg_index i ON i.indexrelid = c.oid
    WHERE c.relname = $3 AND c.relnamespace = t.relnamespace) AS existing_valid,
  (SELECT r.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_index i ON i.indexrelid = c.oid JOIN pg_catalog.pg_class r ON r.oid = i.indrelid
    WHERE c.relname = $3 AND c.relnamespace = t.relnamespace) AS existing_table
FROM pg_catalog.pg_class t JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace
WHERE t.oid = pg_catalog.to_regclass(CASE WHEN $1::text IS NULL THEN pg_catalog.quote_ident($2) ELSE pg_catalog.quote_ident($1) || '.' || pg_catalog.quote_ident($2) END)`;

/**
 * INVALID indexes of the table that were not there before (and, for a named build, of that
 * name), that no session is building right now.
 */
export const LEFTOVERS_SQL = `SELECT n.nspname AS schema, c.relname AS name
FROM pg_catalog.pg_index i
JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE i.indrelid = $1 AND NOT i.indisvalid AND NOT (i.indexrelid = ANY ($2::oid[]))
  AND ($3::text IS NULL OR c.relname = $3)
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_stat_progress_create_index p WHERE p.index_relid = i.indexrelid)
ORDER BY c.relname`;

/** Whether the named index of the build is there and valid. */
export const VALID_SQL = `SELECT i.indisvalid FROM pg_catalog.pg_class c JOIN pg_catalog.pg_index i ON i.indexrelid = c.oid
WHERE c.relname = $2 AND c.relnamespace = (SELECT relnamespace FROM pg_catalog.pg_class WHERE oid = $1)`;

function statementLine(sql: string): string {
  return sql.replace(/\s+/g, ' ').trim();
}

/**
 * Takes the snapshot before the build and refuses, before anything is sent, an `IF NOT EXISTS`
 * build whose index already exists INVALID (PostgreSQL would skip it and report success).
 * Resolves to `null` when the table does not exist (PostgreSQL reports that itself).
 */
export async function guardConcurrentBuild(send: Send, build: ConcurrentBuild, sql: string): Promise<BuildGuard | null> {
  const [snapshot] = await send({ sql: SNAPSHOT_SQL, bindings: [build.schema, build.table, build.name] });
  if (!snapshot) return null;
  const tableOid = Number(snapshot.table_oid);
  const schema = String(snapshot.schema);
  const before = (snapshot.indexes as number[]).map(Number);
  if (build.name !== null && build.ifNotExists && snapshot.existing_valid === false) {
    const index = quoteQualified(schema, build.name);
    throw new MigrationError(
      `Refusing to run\n  ${statementLine(sql)}\nbecause the index ${index} already exists and is INVALID (left by a CREATE INDEX CONCURRENTLY that failed or was interrupted): ` +
        'IF NOT EXISTS would skip it and report success, but no query can use an INVALID index. knex-zd did not create it in this run, so it does not drop it. ' +
        `Drop it, then run the migration again:\n  DROP INDEX CONCURRENTLY ${index};\n` +
        `or build the index with addIndexConcurrently(knex, ${JSON.stringify(String(snapshot.existing_table))}, columns, { name: ${JSON.stringify(build.name)} }), which drops such a leftover itself.`,
      { details: { statement: sql, index: build.name, schema } },
    );
  }
  const leftovers = async (): Promise<string[]> => {
    const rows = await send({ sql: LEFTOVERS_SQL, bindings: [tableOid, before, build.name] });
    return rows.map((row) => quoteQualified(String(row.schema), String(row.name)));
  };
  return {
    leftovers,
    async dropLeftovers() {
      const found = await leftovers();
      // Unnamed, PostgreSQL chose the name: with two candidates, which is this statement's is unknown.
      if (build.name === null && found.length > 1) {
        throw new MigrationError(
          `After a lock timeout of\n  ${statementLine(sql)}\nthe table has several new INVALID indexes (${found.join(', ')}), and knex-zd cannot tell which one this statement left. ` +
            'Name the index in the statement (CREATE INDEX CONCURRENTLY "name" ON …), drop the leftovers with DROP INDEX CONCURRENTLY, and run the migration again.',
          { details: { statement: sql, leftovers: found } },
        );
      }
      for (const index of found) await send({ sql: `DROP INDEX CONCURRENTLY IF EXISTS ${index}`, bindings: [] });
      return found;
    },
    async assertValid() {
      if (build.name === null || !build.ifNotExists) return;
      const [row] = await send({ sql: VALID_SQL, bindings: [tableOid, build.name] });
      if (row && row.indisvalid === false) {
        const index = quoteQualified(schema, build.name);
        throw new MigrationError(
          `${statementLine(sql)}\nreported success, but ${index} is INVALID (another session left it there meanwhile): no query can use it. Drop it and run the migration again:\n  DROP INDEX CONCURRENTLY ${index};`,
          { details: { statement: sql, index: build.name, schema } },
        );
      }
    },
  };
}
