import type { CheckFinding } from '../../analysis/migration-types.js';
import { versionText } from '../server-version.js';
import type { Check } from '../types.js';
import { short } from './statements.js';

/** PostgreSQL 14.0 to 14.3 (`server_version_num` 140000–140003). */
function affected(serverVersion: number | null): serverVersion is number {
  return serverVersion !== null && serverVersion >= 140_000 && serverVersion < 140_004;
}

/**
 * `CREATE INDEX CONCURRENTLY` and `REINDEX CONCURRENTLY` on PostgreSQL 14.0–14.3 can build an
 * index that misses rows changed during the build (fixed in 14.4). Uses the target server's
 * version, read once per plan.
 */
export const concurrentIndexCorruption: Check = {
  id: 'concurrent-index-corruption',
  description: 'no CREATE INDEX CONCURRENTLY / REINDEX CONCURRENTLY on PostgreSQL 14.0–14.3 (index corruption fixed in 14.4)',
  unsafe: true,
  run({ migrations, target }) {
    const version = target?.serverVersion ?? null;
    if (!affected(version)) return [];
    const findings: CheckFinding[] = [];
    for (const report of migrations) {
      for (const statement of report.statements) {
        const { kind, summary } = statement.analysis;
        if ((kind !== 'IndexStmt' && kind !== 'ReindexStmt') || !summary.endsWith('CONCURRENTLY')) continue;
        findings.push({
          code: this.id,
          severity: 'error',
          migration: report.name,
          statement: statement.sql,
          message:
            `The target server runs PostgreSQL ${versionText(version)}, where CREATE INDEX CONCURRENTLY and REINDEX CONCURRENTLY can build a corrupt index ` +
            `(rows written during the build may be missing from it, so queries through it miss them); 14.4 fixed it. ${report.name} runs ${short(statement.sql, 120)}.`,
          hint:
            '// Upgrade the server to 14.4 or later first (a minor update: new binaries, same data directory), then run this migration.\n' +
            '// Indexes built or rebuilt concurrently on 14.0–14.3 should be checked, and rebuilt when the check fails:\n' +
            "//   CREATE EXTENSION IF NOT EXISTS amcheck;  SELECT bt_index_check('<index>'::regclass, true);",
        });
      }
    }
    return findings;
  },
};
