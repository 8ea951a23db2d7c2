import type { CheckFinding, MigrationReport } from '../analysis/migration-types.js';
import { formatTableSize } from '../analysis/lock-estimate.js';
import type { TableStats, TargetFacts } from '../analysis/table-stats.js';
import type { Settings } from '../config.js';
import { tableKey } from './unsafe/statements.js';

/** Average bytes a row may take for its table to count as small: a page of 8 kB per row, so tables of mostly TOAST are not small. */
const SMALL_TABLE_BYTES_PER_ROW = 8192;

/** True when `stats` is below `checks.smallTable` rows (and their bytes), so a lock on it is held for milliseconds. */
export function isSmallTable(stats: TableStats, smallTable: number): boolean {
  return smallTable > 0 && stats.rows !== null && stats.rows < smallTable && stats.totalBytes < smallTable * SMALL_TABLE_BYTES_PER_ROW;
}

/** The migration that creates each table, first one wins (in the order `migrations` run). */
export function tableCreators(migrations: readonly MigrationReport[]): Map<string, string> {
  const creators = new Map<string, string>();
  for (const m of migrations) {
    for (const s of m.statements) {
      for (const o of s.analysis.objects) {
        if (o.effect !== 'create' || o.column !== null) continue;
        const key = tableKey(o.schema, o.table);
        if (!creators.has(key)) creators.set(key, m.name);
      }
    }
  }
  return creators;
}

/**
 * The note a size-bound finding becomes when every table it is about is small in the target
 * database, or does not exist there yet because an earlier migration of the same run creates
 * it; `null` when one table is big or unknown (then the finding keeps its severity).
 */
export function smallTableNote(
  finding: CheckFinding,
  context: { settings: Settings; target: TargetFacts; creators: ReadonlyMap<string, string>; order: ReadonlyMap<string, number> },
): string | null {
  const { settings, target, creators, order } = context;
  const tables = finding.tables ?? [];
  if (tables.length === 0 || settings.smallTable === 0 || target.error !== null) return null;
  const parts: string[] = [];
  for (const table of tables) {
    if (!target.tables.has(table)) return null;
    const stats = target.tables.get(table) ?? null;
    if (stats === null) {
      const creator = creators.get(table);
      const before = creator !== undefined && finding.migration !== null && (order.get(creator) ?? Infinity) < (order.get(finding.migration) ?? -1);
      if (!before) return null;
      parts.push(`${table} is created by ${creator}, earlier in this run, so it holds no rows yet`);
      continue;
    }
    if (!isSmallTable(stats, settings.smallTable)) return null;
    parts.push(`${table} has ${formatTableSize(stats)} in the target database`);
  }
  return `${parts.join('; ')}: below checks.smallTable (${settings.smallTable.toLocaleString('en-US')} rows), the lock is held for milliseconds.`;
}
