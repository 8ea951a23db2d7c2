/**
 * A database's schema as comparable lines (columns, constraints, indexes, views, sequences,
 * functions, triggers, extensions), read from the catalog so that it works with any server
 * version. knex's and knex-zd's own tables are left out.
 */
import pg from 'pg';

const OWN = `('knex_migrations', 'knex_migrations_lock', 'knex_zd_lock', 'knex_zd_quorum')`;

const QUERIES = [
  `SELECT format('column %s.%s.%s %s%s%s', table_schema, table_name, column_name,
     CASE WHEN data_type = 'USER-DEFINED' THEN udt_name ELSE data_type END || coalesce('(' || character_maximum_length || ')', ''),
     CASE WHEN is_nullable = 'NO' THEN ' not null' ELSE '' END, coalesce(' default ' || column_default, '')) AS line
   FROM information_schema.columns
   WHERE table_schema NOT IN ('pg_catalog', 'information_schema') AND table_name NOT IN ${OWN}`,
  `SELECT format('constraint %s.%s %s %s', n.nspname, c.relname, con.conname, pg_get_constraintdef(con.oid)) AS line
   FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND c.relname NOT IN ${OWN}`,
  `SELECT format('index %s', pg_get_indexdef(i.indexrelid)) AS line
   FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%' AND c.relname NOT IN ${OWN}`,
  `SELECT format('view %s.%s %s', schemaname, viewname, regexp_replace(definition, '\\s+', ' ', 'g')) AS line FROM pg_views
   WHERE schemaname NOT IN ('pg_catalog', 'information_schema')`,
  `SELECT format('matview %s.%s %s', schemaname, matviewname, regexp_replace(definition, '\\s+', ' ', 'g')) AS line FROM pg_matviews`,
  `SELECT format('sequence %s.%s', sequence_schema, sequence_name) AS line FROM information_schema.sequences
   WHERE sequence_name NOT LIKE 'knex\\_migrations%'`,
  `SELECT format('function %s.%s %s', n.nspname, p.proname, md5(pg_get_functiondef(p.oid))) AS line
   FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
   WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND p.prokind = 'f'
     AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')`,
  `SELECT format('trigger %s', pg_get_triggerdef(t.oid)) AS line FROM pg_trigger t WHERE NOT t.tgisinternal`,
  `SELECT format('extension %s', extname) AS line FROM pg_extension WHERE extname <> 'plpgsql'`,
];

/** The schema of the database at `url`, one sorted line per object. */
export async function schemaLines(url: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const lines: string[] = [];
    for (const sql of QUERIES) lines.push(...(await client.query<{ line: string }>(sql)).rows.map((r) => r.line));
    return lines.sort();
  } finally {
    await client.end();
  }
}

/** Lines in one schema and not the other. */
export function schemaDiff(expected: readonly string[], actual: readonly string[]): string[] {
  const want = new Set(expected);
  const have = new Set(actual);
  return [...expected.filter((l) => !have.has(l)).map((l) => `- ${l}`), ...actual.filter((l) => !want.has(l)).map((l) => `+ ${l}`)];
}
