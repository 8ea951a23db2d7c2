/**
 * What the target database says about the relations a plan locks: estimated rows and size
 * (from `pg_class.reltuples` and `pg_total_relation_size`), and the server's version. One
 * read-only query for all relations of a plan.
 */
import type { Knex } from 'knex';
import type { MigrationReport } from './migration-types.js';

/** Size facts of one relation of the target database. */
export interface TableStats {
  /** The table as the target database names it (`schema.table`); for an index, the table it is on. */
  readonly table: string;
  /** `pg_class.relkind` of that table: `r` table, `p` partitioned table, `m` materialized view… */
  readonly kind: string;
  /** True when the relation named is an index, and these are the facts of its table. */
  readonly throughIndex: boolean;
  /** Estimated rows (all partitions of a partitioned table), or `null` when nothing tells. */
  readonly rows: number | null;
  /**
   * Where `rows` comes from: `statistics` (`reltuples` of the last ANALYZE or VACUUM, scaled to
   * the table's size now, as the planner does), `size` (never analysed: its pages times the rows
   * a page holds at the columns' average widths), `empty` (no pages at all).
   */
  readonly rowsSource: 'statistics' | 'size' | 'empty' | null;
  /** Bytes of the table itself (`pg_relation_size`, main fork; summed over partitions). */
  readonly heapBytes: number;
  /** Bytes with its indexes and TOAST (`pg_total_relation_size`; summed over partitions). */
  readonly totalBytes: number;
  /** How many indexes it has. */
  readonly indexes: number;
}

/** What a plan knows of its target database, read once per plan. */
export interface TargetFacts {
  /** `server_version_num` (e.g. `150004`), or `null` when it could not be read. */
  readonly serverVersion: number | null;
  /** Each relation as the analysis names it (`orders`, `app.orders`): its stats, or `null` when the target has no such relation. */
  readonly tables: ReadonlyMap<string, TableStats | null>;
  /** Why the facts are missing, when reading them failed; the plan shows it. */
  readonly error: string | null;
}

/** Facts of a plan that could not look at its target. */
export const NO_TARGET_FACTS: TargetFacts = Object.freeze({ serverVersion: null, tables: new Map(), error: null });

/** Every relation the statements of `migrations` lock, as the analysis names them. */
export function lockedRelations(migrations: readonly MigrationReport[]): string[] {
  const out = new Set<string>();
  for (const m of migrations) for (const s of m.statements) for (const l of s.analysis.locks) out.add(l.relation);
  return [...out];
}

interface LeafRow {
  relation: string;
  table: string;
  kind: string;
  indexes: number;
  reltuples: number;
  relpages: number;
  heap_bytes: number | null;
  total_bytes: number | null;
  width: number;
  leaf_kind: string;
  block_size: number;
  through_index: boolean;
}

// Each relation (an index stands for its table), with every partition below it; the size of each
// leaf; and the width of its columns (typlen, or 32 bytes for a variable-length type, as the planner
// assumes for a table it has no statistics of).
const STATS_SQL = (withSizes: boolean) => `
WITH RECURSIVE input AS (
  SELECT i.relation, to_regclass(CASE WHEN i.schema = '' THEN quote_ident(i.name) ELSE quote_ident(i.schema) || '.' || quote_ident(i.name) END) AS oid
  FROM unnest(?::text[], ?::text[], ?::text[]) AS i(relation, schema, name)
), target AS (
  SELECT input.relation, COALESCE(ix.indrelid, c.oid) AS oid, ix.indrelid IS NOT NULL AS through_index
  FROM input JOIN pg_catalog.pg_class c ON c.oid = input.oid
  LEFT JOIN pg_catalog.pg_index ix ON ix.indexrelid = c.oid
), tree AS (
  SELECT relation, oid AS root, oid, through_index FROM target
  UNION ALL
  SELECT tree.relation, tree.root, inh.inhrelid, tree.through_index FROM tree JOIN pg_catalog.pg_inherits inh ON inh.inhparent = tree.oid
)
SELECT tree.relation, tree.through_index,
       tree.root::regclass::text AS table,
       root.relkind AS kind,
       (SELECT count(*) FROM pg_catalog.pg_index x WHERE x.indrelid = tree.root)::int AS indexes,
       leaf.relkind AS leaf_kind,
       current_setting('block_size')::int AS block_size,
       leaf.reltuples::float8 AS reltuples,
       leaf.relpages::int AS relpages,
       ${withSizes ? 'pg_catalog.pg_relation_size(leaf.oid)::float8' : 'leaf.relpages::float8 * current_setting(\'block_size\')::int'} AS heap_bytes,
       ${
         withSizes
           ? 'pg_catalog.pg_total_relation_size(leaf.oid)::float8'
           : "(leaf.relpages::float8 + COALESCE((SELECT sum(i.relpages) FROM pg_catalog.pg_index x JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = leaf.oid), 0)) * current_setting('block_size')::int"
       } AS total_bytes,
       COALESCE((SELECT sum(CASE WHEN t.typlen > 0 THEN t.typlen ELSE 32 END) FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
                 WHERE a.attrelid = leaf.oid AND a.attnum > 0 AND NOT a.attisdropped), 0)::int AS width
FROM tree
JOIN pg_catalog.pg_class root ON root.oid = tree.root
JOIN pg_catalog.pg_class leaf ON leaf.oid = tree.oid`;

/** SQLSTATE 55P03: lock_not_available. */
const LOCK_NOT_AVAILABLE = '55P03';

/**
 * Reads the server's version and the size facts of `relations` from the target database, in a
 * READ ONLY transaction. `pg_total_relation_size` takes an ACCESS SHARE lock on each relation:
 * when one is locked out (a running migration), the sizes come from `pg_class.relpages` instead,
 * which takes no lock. A failure is reported in `error`, never thrown: a plan without sizes is
 * still a plan.
 */
export async function loadTargetFacts(knex: Knex, relations: readonly string[]): Promise<TargetFacts> {
  try {
    return await knex.transaction(
      async (trx) => {
        await trx.raw("SET LOCAL lock_timeout = '1s'");
        await trx.raw("SET LOCAL statement_timeout = '30s'");
        const version = await trx.raw<{ rows: { version: string }[] }>("SELECT current_setting('server_version_num') AS version");
        const serverVersion = Number(version.rows[0]?.version) || null;
        if (relations.length === 0) return { serverVersion, tables: new Map(), error: null };
        const names = relations.map(splitRelation);
        const bindings: string[][] = [[...relations], names.map((n) => n.schema), names.map((n) => n.name)];
        let rows: LeafRow[];
        try {
          await trx.raw('SAVEPOINT zd_stats');
          rows = (await trx.raw<{ rows: LeafRow[] }>(STATS_SQL(true), bindings)).rows;
        } catch (error) {
          if ((error as { code?: unknown }).code !== LOCK_NOT_AVAILABLE) throw error;
          await trx.raw('ROLLBACK TO SAVEPOINT zd_stats');
          rows = (await trx.raw<{ rows: LeafRow[] }>(STATS_SQL(false), bindings)).rows;
        }
        return { serverVersion, tables: aggregate(relations, rows), error: null };
      },
      { readOnly: true },
    );
  } catch (error) {
    return { serverVersion: null, tables: new Map(), error: (error as Error).message };
  }
}

/** `app.orders` → schema `app`, name `orders`; `orders` → schema '' (the search path decides). */
function splitRelation(relation: string): { schema: string; name: string } {
  const dot = relation.indexOf('.');
  return dot < 0 ? { schema: '', name: relation } : { schema: relation.slice(0, dot), name: relation.slice(dot + 1) };
}

const HEAP_PAGE_HEADER = 24;
/** Tuple header (23 bytes, aligned to 24) and its line pointer (4 bytes). */
const TUPLE_OVERHEAD = 28;

function aggregate(relations: readonly string[], rows: readonly LeafRow[]): Map<string, TableStats | null> {
  const out = new Map<string, TableStats | null>(relations.map((r) => [r, null]));
  const byRelation = new Map<string, LeafRow[]>();
  for (const row of rows) byRelation.set(row.relation, [...(byRelation.get(row.relation) ?? []), row]);
  for (const [relation, leaves] of byRelation) {
    const first = leaves[0];
    let rowsTotal: number | null = 0;
    let source: TableStats['rowsSource'] = 'empty';
    let heapBytes = 0;
    let totalBytes = 0;
    for (const leaf of leaves) {
      heapBytes += leaf.heap_bytes ?? 0;
      totalBytes += leaf.total_bytes ?? 0;
      if (leaf.leaf_kind === 'p') continue; // a partitioned table has no storage of its own
      const estimate = leafRows(leaf);
      if (estimate.rows === null || rowsTotal === null) rowsTotal = null;
      else rowsTotal += estimate.rows;
      if (estimate.source === 'size' || (estimate.source === 'statistics' && source === 'empty')) source = estimate.source;
    }
    out.set(relation, {
      table: first.table,
      kind: first.kind,
      throughIndex: first.through_index,
      rows: rowsTotal === null ? null : Math.round(rowsTotal),
      rowsSource: rowsTotal === null ? null : source,
      heapBytes,
      totalBytes,
      indexes: first.indexes,
    });
  }
  return out;
}

/** The planner's estimate of a table's rows: its density at the last ANALYZE times its pages now. */
function leafRows(leaf: LeafRow): { rows: number | null; source: TableStats['rowsSource'] } {
  const pagesNow = leaf.heap_bytes === null ? leaf.relpages : Math.ceil(leaf.heap_bytes / leaf.block_size);
  if (pagesNow === 0) return { rows: 0, source: 'empty' };
  // reltuples is -1 (PostgreSQL 14+) or 0 with no pages (older) until the first ANALYZE/VACUUM.
  if (leaf.reltuples >= 0 && leaf.relpages > 0) return { rows: (leaf.reltuples / leaf.relpages) * pagesNow, source: 'statistics' };
  if (leaf.width <= 0) return { rows: null, source: null };
  const perPage = Math.max(1, Math.floor((leaf.block_size - HEAP_PAGE_HEADER) / (leaf.width + TUPLE_OVERHEAD)));
  return { rows: pagesNow * perPage, source: 'size' };
}
