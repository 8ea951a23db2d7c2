/**
 * Reads the catalog facts the classifier needs for the relations a statement names, from the
 * target (capture mode) or from the shadow database at that moment (shadow mode). Every query
 * here is a single read of `pg_catalog` that takes no lock on a user table: sizes come from
 * `relpages`, never from `pg_total_relation_size` (which locks the table and would queue behind
 * a running migration).
 */
import { SchemaModel, type LoadedRelation, type RelationName } from './schema-model.js';

/** Runs one read-only catalog query and returns its rows. */
export type CatalogQuery = (sql: string, values: readonly unknown[]) => Promise<ReadonlyArray<Record<string, unknown>>>;

/** The search path and server version, read once per analysis run. */
export const SESSION_SQL =
  "SELECT pg_catalog.current_schemas(false) AS search_path, pg_catalog.current_setting('server_version_num')::int AS version";

/**
 * The relations named in `$1` (and the tables of the indexes named in `$2`), each with its
 * columns, indexes, constraints, the tables whose foreign keys reference it, and its size.
 * Names are quoted identifiers (`"s"."t"` or `"t"`), resolved like SQL resolves them.
 */
export const RELATIONS_SQL = `WITH wanted AS (
  SELECT pg_catalog.to_regclass(n) AS oid FROM unnest($1::text[]) AS n
  UNION
  SELECT x.indrelid FROM unnest($2::text[]) AS n JOIN pg_catalog.pg_index x ON x.indexrelid = pg_catalog.to_regclass(n)
)
SELECT ns.nspname AS schema, c.relname AS name, c.relkind AS kind, c.reltuples::float8 AS rows,
  CASE WHEN c.relkind IN ('v', 'm') THEN pg_catalog.pg_get_viewdef(c.oid) END AS view_definition,
  ((c.relpages::bigint + coalesce((SELECT sum(i.relpages) FROM pg_catalog.pg_index x JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = c.oid), 0)
    + coalesce((SELECT t.relpages FROM pg_catalog.pg_class t WHERE t.oid = c.reltoastrelid), 0))
    * pg_catalog.current_setting('block_size')::bigint)::float8 AS bytes,
  coalesce((SELECT json_agg(json_build_object('name', a.attname, 'type', pg_catalog.format_type(a.atttypid, a.atttypmod),
      'notNull', a.attnotnull, 'default', pg_catalog.pg_get_expr(d.adbin, d.adrelid)) ORDER BY a.attnum)
    FROM pg_catalog.pg_attribute a LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '[]') AS columns,
  coalesce((SELECT json_agg(json_build_object('schema', ins.nspname, 'name', i.relname, 'unique', x.indisunique,
      'primary', x.indisprimary, 'valid', x.indisvalid, 'partial', x.indpred IS NOT NULL,
      'definition', pg_catalog.pg_get_indexdef(i.oid),
      'columns', (SELECT json_agg(ka.attname ORDER BY k.ord) FROM unnest(x.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
        LEFT JOIN pg_catalog.pg_attribute ka ON ka.attrelid = c.oid AND ka.attnum = k.attnum AND k.attnum > 0
        WHERE k.ord <= x.indnkeyatts)))
    FROM pg_catalog.pg_index x JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid
    JOIN pg_catalog.pg_namespace ins ON ins.oid = i.relnamespace WHERE x.indrelid = c.oid), '[]') AS indexes,
  coalesce((SELECT json_agg(json_build_object('name', con.conname, 'type', con.contype, 'validated', con.convalidated,
      'definition', pg_catalog.pg_get_constraintdef(con.oid),
      'columns', (SELECT coalesce(json_agg(ca.attname ORDER BY k.ord), '[]') FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
        JOIN pg_catalog.pg_attribute ca ON ca.attrelid = c.oid AND ca.attnum = k.attnum),
      'references', (SELECT rn.nspname || '.' || r.relname FROM pg_catalog.pg_class r
        JOIN pg_catalog.pg_namespace rn ON rn.oid = r.relnamespace WHERE con.contype = 'f' AND r.oid = con.confrelid)))
    FROM pg_catalog.pg_constraint con WHERE con.conrelid = c.oid), '[]') AS constraints,
  coalesce((SELECT json_agg(DISTINCT sn.nspname || '.' || s.relname) FROM pg_catalog.pg_constraint con
    JOIN pg_catalog.pg_class s ON s.oid = con.conrelid JOIN pg_catalog.pg_namespace sn ON sn.oid = s.relnamespace
    WHERE con.confrelid = c.oid AND con.contype = 'f' AND con.conrelid <> c.oid), '[]') AS referenced_by,
  coalesce((SELECT json_agg(DISTINCT tn.nspname || '.' || t.relname) FROM pg_catalog.pg_rewrite r
    JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.objid = r.oid
    JOIN pg_catalog.pg_class t ON t.oid = d.refobjid JOIN pg_catalog.pg_namespace tn ON tn.oid = t.relnamespace
    WHERE r.ev_class = c.oid AND t.oid <> c.oid AND c.relkind IN ('v', 'm')), '[]') AS reads
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace ns ON ns.oid = c.relnamespace
WHERE c.oid IN (SELECT oid FROM wanted WHERE oid IS NOT NULL)`;

function quoted(name: RelationName): string {
  const q = (part: string) => `"${part.replace(/"/g, '""')}"`;
  return name.schema === null ? q(name.table) : `${q(name.schema)}.${q(name.table)}`;
}

/** A new model of the database behind `query` (its search path and version; no relation yet). */
export async function openSchemaModel(query: CatalogQuery): Promise<SchemaModel> {
  const [row] = await query(SESSION_SQL, []);
  const path = row?.search_path;
  const searchPath = Array.isArray(path) ? path.map(String) : typeof path === 'string' ? parseTextArray(path) : [];
  return new SchemaModel(searchPath, Number(row?.version ?? 0));
}

/** `{a,"b c"}` → `['a', 'b c']` (a driver without array parsing). */
function parseTextArray(text: string): string[] {
  const inner = text.replace(/^\{|\}$/g, '');
  if (inner === '') return [];
  return inner.split(',').map((s) => s.replace(/^"|"$/g, '').replace(/\\"/g, '"'));
}

/** Loads into `model` the facts of the relations and indexes it does not know yet (one query; none when it knows them all). */
export async function loadRelations(
  query: CatalogQuery,
  model: SchemaModel,
  relations: readonly RelationName[],
  indexes: readonly RelationName[] = [],
): Promise<void> {
  const missing = dedupe(relations.filter((r) => r.table !== '' && !model.knowsRelation(r)));
  const missingIndexes = dedupe(indexes.filter((r) => r.table !== '' && !model.knowsIndex(r)));
  if (missing.length === 0 && missingIndexes.length === 0) return;
  const rows = await query(RELATIONS_SQL, [missing.map(quoted), missingIndexes.map(quoted)]);
  model.absorb(missing, missingIndexes, rows.map(toLoaded));
}

function dedupe(names: readonly RelationName[]): RelationName[] {
  const seen = new Map<string, RelationName>();
  for (const name of names) seen.set(`${name.schema ?? ''}\u0000${name.table}`, name);
  return [...seen.values()];
}

function json<T>(value: unknown): T {
  return (typeof value === 'string' ? JSON.parse(value) : value) as T;
}

function toLoaded(row: Record<string, unknown>): LoadedRelation {
  const indexes = json<Array<Omit<LoadedRelation['indexes'][number], 'columns'> & { columns: (string | null)[] | null }>>(row.indexes);
  return {
    schema: String(row.schema),
    name: String(row.name),
    kind: String(row.kind),
    columns: json(row.columns),
    indexes: indexes.map((i) => ({ ...i, columns: i.columns ?? [] })),
    constraints: json(row.constraints),
    referencedBy: json(row.referenced_by),
    reads: json(row.reads),
    viewDefinition: typeof row.view_definition === 'string' ? row.view_definition : null,
    rows: row.rows === null || row.rows === undefined ? null : Number(row.rows),
    bytes: row.bytes === null || row.bytes === undefined ? null : Number(row.bytes),
  };
}
