import type { Knex } from 'knex';
import { captureSessionOf } from '../analysis/capture/capture.js';
import {
  modelColumnInfo,
  modelConstraintInfo,
  modelIndexInfo,
  modelPrimaryKey,
  modelReferencingForeignKeys,
  modelRelationKind,
  modelTableSchema,
  modelViewDefinition,
  modelViewReadsFrom,
} from '../analysis/capture/operation-catalog.js';
import { assertIdentifier } from '../identifiers.js';

/** Options shared by the operations: where the table lives. */
export interface SchemaOption {
  /** The table's schema. @default the connection's `current_schema()` */
  readonly schema?: string;
}

async function rows<T>(knex: Knex, sql: string, bindings: readonly unknown[] = []): Promise<T[]> {
  const result = await knex.raw<{ rows: T[] }>(sql, bindings as Knex.RawBinding[]);
  return result.rows;
}

/** The explicit schema, or the connection's `current_schema()`. */
export async function resolveSchema(knex: Knex, schema?: string): Promise<string> {
  if (schema !== undefined) {
    assertIdentifier(schema, 'schema');
    return schema;
  }
  const [row] = await rows<{ schema: string | null }>(knex, 'SELECT current_schema() AS schema');
  if (!row?.schema) throw new Error('current_schema() is NULL: the search_path names no existing schema; pass { schema }.');
  return row.schema;
}

/**
 * The schema of a table as a statement names it: the schema it gives, else the first schema of
 * the search path that has a relation of that name (as PostgreSQL resolves it), else the
 * connection's `current_schema()` (where PostgreSQL will report the table missing).
 */
export async function tableSchema(knex: Knex, schema: string | null, table: string): Promise<string> {
  if (schema !== null) return resolveSchema(knex, schema);
  assertIdentifier(table, 'table');
  const session = captureSessionOf(knex);
  const found = session
    ? await modelTableSchema(session, table)
    : ((await rows<{ schema: string }>(
        knex,
        'SELECT n.nspname AS schema FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = pg_catalog.to_regclass(pg_catalog.quote_ident(?))',
        [table],
      ))[0]?.schema ?? null);
  return found ?? resolveSchema(knex);
}

/** `pg_class.relkind` of a relation (`'r'` table, `'p'` partitioned table, `'v'` view, `'i'` index…), or `null` when absent. */
export async function relationKind(knex: Knex, schema: string, name: string): Promise<string | null> {
  const session = captureSessionOf(knex);
  if (session) return modelRelationKind(session, schema, name);
  const [row] = await rows<{ relkind: string }>(
    knex,
    'SELECT c.relkind FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ? AND c.relname = ?',
    [schema, name],
  );
  return row?.relkind ?? null;
}

/** True for an ordinary or partitioned table. */
export function isTableKind(kind: string | null): boolean {
  return kind === 'r' || kind === 'p';
}

/** What the catalog says about a column. */
export interface ColumnInfo {
  readonly type: string;
  readonly notNull: boolean;
  readonly default: string | null;
}

/** A column of a table or view, or `null` when absent. */
export async function columnInfo(knex: Knex, schema: string, table: string, column: string): Promise<ColumnInfo | null> {
  const session = captureSessionOf(knex);
  if (session) return modelColumnInfo(session, schema, table, column);
  const [row] = await rows<{ type: string; notnull: boolean; default: string | null }>(
    knex,
    `SELECT pg_catalog.format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS notnull,
       pg_catalog.pg_get_expr(d.adbin, d.adrelid) AS default
     FROM pg_catalog.pg_attribute a
     JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
     JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
     WHERE n.nspname = ? AND c.relname = ? AND a.attname = ? AND a.attnum > 0 AND NOT a.attisdropped`,
    [schema, table, column],
  );
  return row ? { type: row.type, notNull: row.notnull, default: row.default } : null;
}

/** What the catalog says about an index. */
export interface IndexInfo {
  readonly table: string;
  readonly valid: boolean;
  readonly unique: boolean;
  /** The constraint it backs (`'u'`, `'p'`, `'x'`), if any. */
  readonly constraint: string | null;
  readonly definition: string;
}

/** An index by name in `schema`, or `null` when absent. */
export async function indexInfo(knex: Knex, schema: string, name: string): Promise<IndexInfo | null> {
  const session = captureSessionOf(knex);
  if (session) return modelIndexInfo(session, schema, name);
  const [row] = await rows<{ table: string; valid: boolean; unique: boolean; contype: string | null; definition: string }>(
    knex,
    `SELECT t.relname AS table, x.indisvalid AS valid, x.indisunique AS unique, con.contype,
       pg_catalog.pg_get_indexdef(i.oid) AS definition
     FROM pg_catalog.pg_class i
     JOIN pg_catalog.pg_namespace n ON n.oid = i.relnamespace
     JOIN pg_catalog.pg_index x ON x.indexrelid = i.oid
     JOIN pg_catalog.pg_class t ON t.oid = x.indrelid
     LEFT JOIN pg_catalog.pg_constraint con ON con.conindid = i.oid AND con.contype IN ('p', 'u', 'x')
     WHERE n.nspname = ? AND i.relname = ?`,
    [schema, name],
  );
  return row
    ? { table: row.table, valid: row.valid, unique: row.unique, constraint: row.contype, definition: row.definition }
    : null;
}

/** What the catalog says about a table constraint. */
export interface ConstraintInfo {
  /** `pg_constraint.contype`: `'c'` check, `'f'` foreign key, `'u'` unique, `'p'` primary key, `'n'` not null (PostgreSQL 18). */
  readonly type: string;
  readonly validated: boolean;
  readonly definition: string;
  /** The table a foreign key references, `null` for other constraints. */
  readonly references: { readonly schema: string; readonly table: string } | null;
}

/** A constraint by name on a table, or `null` when absent. */
export async function constraintInfo(knex: Knex, schema: string, table: string, name: string): Promise<ConstraintInfo | null> {
  const session = captureSessionOf(knex);
  if (session) return modelConstraintInfo(session, schema, table, name);
  const [row] = await rows<{ contype: string; convalidated: boolean; definition: string; ref_schema: string | null; ref_table: string | null }>(
    knex,
    `SELECT con.contype, con.convalidated, pg_catalog.pg_get_constraintdef(con.oid) AS definition,
       rn.nspname AS ref_schema, r.relname AS ref_table
     FROM pg_catalog.pg_constraint con
     JOIN pg_catalog.pg_class c ON c.oid = con.conrelid
     JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     LEFT JOIN pg_catalog.pg_class r ON r.oid = con.confrelid
     LEFT JOIN pg_catalog.pg_namespace rn ON rn.oid = r.relnamespace
     WHERE n.nspname = ? AND c.relname = ? AND con.conname = ?`,
    [schema, table, name],
  );
  return row
    ? {
        type: row.contype,
        validated: row.convalidated,
        definition: row.definition,
        references: row.ref_schema !== null && row.ref_table !== null ? { schema: row.ref_schema, table: row.ref_table } : null,
      }
    : null;
}

/** A view's definition (`pg_get_viewdef`), or `null` when there is no view of that name. */
export async function viewDefinition(knex: Knex, schema: string, view: string): Promise<string | null> {
  const session = captureSessionOf(knex);
  if (session) return modelViewDefinition(session, schema, view);
  const [row] = await rows<{ definition: string }>(
    knex,
    `SELECT pg_catalog.pg_get_viewdef(c.oid) AS definition
     FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = ? AND c.relname = ? AND c.relkind = 'v'`,
    [schema, view],
  );
  return row?.definition ?? null;
}

/** The server's `server_version_num`, e.g. 150004. */
export async function serverVersionNum(knex: Knex): Promise<number> {
  const [row] = await rows<{ v: string }>(knex, "SELECT current_setting('server_version_num') AS v");
  return Number(row?.v ?? 0);
}

/** The primary key columns of a table, in key order. */
export async function primaryKey(knex: Knex, schema: string, table: string): Promise<string[]> {
  const session = captureSessionOf(knex);
  if (session) return modelPrimaryKey(session, schema, table);
  const found = await rows<{ attname: string }>(
    knex,
    `SELECT a.attname
     FROM pg_catalog.pg_index x
     JOIN pg_catalog.pg_class c ON c.oid = x.indrelid
     JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, ord)
     JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
     WHERE n.nspname = ? AND c.relname = ? AND x.indisprimary
     ORDER BY k.ord`,
    [schema, table],
  );
  return found.map((r) => r.attname);
}

/** Foreign keys of other tables that reference `schema.table`, as `schema.table.constraint`. */
export async function referencingForeignKeys(knex: Knex, schema: string, table: string): Promise<string[]> {
  const session = captureSessionOf(knex);
  if (session) return modelReferencingForeignKeys(session, schema, table);
  const found = await rows<{ name: string }>(
    knex,
    `SELECT format('%I.%I (constraint %I)', sn.nspname, s.relname, con.conname) AS name
     FROM pg_catalog.pg_constraint con
     JOIN pg_catalog.pg_class t ON t.oid = con.confrelid
     JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace
     JOIN pg_catalog.pg_class s ON s.oid = con.conrelid
     JOIN pg_catalog.pg_namespace sn ON sn.oid = s.relnamespace
     WHERE con.contype = 'f' AND n.nspname = ? AND t.relname = ? AND con.conrelid <> con.confrelid
     ORDER BY 1`,
    [schema, table],
  );
  return found.map((r) => r.name);
}

/** Does a view's definition read from `schema.table`? (To tell a rename's view from an unrelated one.) */
export async function viewReadsFrom(knex: Knex, schema: string, view: string, table: string): Promise<boolean> {
  const session = captureSessionOf(knex);
  if (session) return modelViewReadsFrom(session, schema, view, table);
  const [row] = await rows<{ reads: boolean }>(
    knex,
    `SELECT EXISTS (
       SELECT 1 FROM pg_catalog.pg_depend d
       JOIN pg_catalog.pg_rewrite r ON r.oid = d.objid
       JOIN pg_catalog.pg_class v ON v.oid = r.ev_class
       JOIN pg_catalog.pg_namespace vn ON vn.oid = v.relnamespace
       JOIN pg_catalog.pg_class t ON t.oid = d.refobjid
       JOIN pg_catalog.pg_namespace tn ON tn.oid = t.relnamespace
       WHERE d.classid = 'pg_catalog.pg_rewrite'::regclass AND vn.nspname = ? AND v.relname = ?
         AND tn.nspname = ? AND t.relname = ? AND v.oid <> t.oid
     ) AS reads`,
    [schema, view, schema, table],
  );
  return row?.reads ?? false;
}
