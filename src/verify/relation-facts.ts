/**
 * Reads what the NOT NULL check needs of a relation from the shadow database's catalog: its
 * columns (NOT NULL; filled by a default, an identity or a generation expression), its
 * `CHECK (c IS NOT NULL)` constraints and, for a view, the table it inserts into and how its
 * columns map to that table's. One read of `pg_catalog` per relation.
 */
import { parseStatements, type PgNode } from '../analysis/parser.js';
import { notNullCheckColumn, type RelationFacts } from './insert-columns.js';

/** Runs one query on the shadow database. */
export type ShadowQuery = (sql: string, values: readonly unknown[]) => Promise<ReadonlyArray<Record<string, unknown>>>;

/**
 * The facts of the relation `$1` (a quoted name, resolved on the session's search path like the
 * INSERT's own) or of the oid `$2`. `attgenerated` exists from PostgreSQL 12: `%GENERATED%` is
 * replaced by the server's own test.
 */
const RELATION_SQL = `SELECT c.oid::int8 AS oid, n.nspname AS schema, c.relname AS name, c.relkind AS kind,
  coalesce((SELECT json_agg(json_build_object('name', a.attname, 'notNull', a.attnotnull,
      'filled', a.atthasdef OR a.attidentity <> '' %GENERATED%) ORDER BY a.attnum)
    FROM pg_catalog.pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '[]') AS columns,
  coalesce((SELECT json_agg(json_build_object('name', k.conname, 'expression', pg_catalog.pg_get_expr(k.conbin, k.conrelid)))
    FROM pg_catalog.pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'c'), '[]') AS checks,
  CASE WHEN c.relkind = 'v' THEN pg_catalog.pg_get_viewdef(c.oid) END AS view_definition,
  (SELECT array_agg(DISTINCT d.refobjid::int8) FROM pg_catalog.pg_rewrite r
    JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.objid = r.oid
      AND d.refclassid = 'pg_catalog.pg_class'::regclass AND d.refobjid <> c.oid
    WHERE r.ev_class = c.oid AND r.rulename = '_RETURN') AS view_reads,
  EXISTS (SELECT 1 FROM pg_catalog.pg_trigger g WHERE g.tgrelid = c.oid AND (g.tgtype & 64) <> 0 AND (g.tgtype & 4) <> 0)
    OR EXISTS (SELECT 1 FROM pg_catalog.pg_rewrite r WHERE r.ev_class = c.oid AND r.ev_type = '3') AS instead
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.oid = coalesce(pg_catalog.to_regclass($1), $2::oid)`;

/** The relation query for a server of `versionNum`. */
export function relationSql(versionNum: number): string {
  return RELATION_SQL.replace('%GENERATED%', versionNum >= 120000 ? "OR a.attgenerated <> ''" : '');
}

function json<T>(value: unknown): T {
  return (typeof value === 'string' ? JSON.parse(value) : value) as T;
}

function quoted(schema: string | null, table: string): string {
  const q = (part: string) => `"${part.replace(/"/g, '""')}"`;
  return schema === null ? q(table) : `${q(schema)}.${q(table)}`;
}

/**
 * For a simple view (one relation in FROM, a select list of plain columns or expressions), the
 * base column each view column shows (`null` for an expression); else `null`.
 */
export function viewColumnsOf(definition: string): (string | null)[] | null {
  const [parsed] = parseStatements(definition);
  if (!parsed?.ok) return null;
  const select = parsed.node.SelectStmt as PgNode | undefined;
  if (!select || (select.op && select.op !== 'SETOP_NONE') || select.withClause || select.groupClause || select.distinctClause) return null;
  const from = (select.fromClause ?? []) as PgNode[];
  if (from.length !== 1 || !from[0].RangeVar) return null;
  return ((select.targetList ?? []) as PgNode[]).map((target) => {
    const fields = target.ResTarget?.val?.ColumnRef?.fields as PgNode[] | undefined;
    const last = fields?.at(-1)?.String?.sval;
    return typeof last === 'string' ? last : null;
  });
}

function toFacts(row: Record<string, unknown>): RelationFacts {
  const checks = json<Array<{ name: string; expression: string | null }>>(row.checks);
  const notNullChecks: Array<{ name: string; column: string }> = [];
  for (const check of checks) {
    if (!check.expression) continue;
    const [parsed] = parseStatements(`SELECT ${check.expression}`);
    if (!parsed?.ok) continue;
    const column = notNullCheckColumn(parsed.node.SelectStmt?.targetList?.[0]?.ResTarget?.val as PgNode | undefined);
    if (column) notNullChecks.push({ name: check.name, column });
  }
  const reads = Array.isArray(row.view_reads) ? row.view_reads.map(Number) : typeof row.view_reads === 'string' ? row.view_reads.replace(/[{}]/g, '').split(',').filter(Boolean).map(Number) : [];
  const viewColumns = typeof row.view_definition === 'string' && reads.length === 1 ? viewColumnsOf(row.view_definition) : null;
  return {
    oid: Number(row.oid),
    schema: String(row.schema),
    name: String(row.name),
    kind: String(row.kind),
    columns: json(row.columns),
    notNullChecks,
    viewColumns,
    viewBase: viewColumns ? reads[0] : null,
    instead: row.instead === true,
  };
}

/** Reads relation facts through `query`, each once (until {@link RelationFactsCache.clear}: the schema moved on). */
export class RelationFactsCache {
  private readonly byName = new Map<string, RelationFacts | null>();
  private readonly byOid = new Map<number, RelationFacts | null>();

  constructor(
    private readonly query: ShadowQuery,
    private readonly sql: string,
  ) {}

  /** The relation an unqualified or qualified name resolves to in the session, or null. */
  async named(schema: string | null, table: string): Promise<RelationFacts | null> {
    const key = quoted(schema, table);
    if (!this.byName.has(key)) {
      const [row] = await this.query(this.sql, [key, null]);
      this.byName.set(key, row ? toFacts(row) : null);
    }
    return this.byName.get(key) ?? null;
  }

  /** The relation with `oid`, or null. */
  async byId(oid: number): Promise<RelationFacts | null> {
    if (!this.byOid.has(oid)) {
      const [row] = await this.query(this.sql, [null, oid]);
      this.byOid.set(oid, row ? toFacts(row) : null);
    }
    return this.byOid.get(oid) ?? null;
  }

  clear(): void {
    this.byName.clear();
    this.byOid.clear();
  }
}
