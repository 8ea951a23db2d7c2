import { SIZE_BOUND_FINDING_CODES, STATEMENT_FINDING_CODES, STATEMENT_FINDING_DESCRIPTIONS } from '../analysis/findings.js';
import type { CheckFinding } from '../analysis/migration-types.js';
import type { Check } from './types.js';
import { tablesCreatedBefore } from './unsafe/statements.js';
import { forServerVersion } from './server-version.js';

/** Ids of statement findings that are not about unsafe locking (so `checks.unsafe` leaves them alone). */
const NOT_UNSAFE = new Set(['unclassified-statement', 'parse-error']);

/** True when a statement finding id is an unsafe-operation finding. */
export function isUnsafeFindingId(id: string): boolean {
  return !NOT_UNSAFE.has(id);
}

/** Lifts the findings analysis attached to each statement to the migration that runs it. */
export const statementFindings: Check = {
  id: 'statement',
  codes: STATEMENT_FINDING_CODES,
  descriptions: STATEMENT_FINDING_DESCRIPTIONS,
  description: 'findings of the SQL classification (unsafe locks, rewrites, unknown statements)',
  unsafe: true,
  run({ migrations, target }) {
    const findings: CheckFinding[] = [];
    for (const m of migrations) {
      m.statements.forEach((s, index) => {
        // A safe operation's steps are already the safe form of what the findings warn about.
        if (s.operation) return;
        for (const f of s.analysis.findings) {
          const finding: CheckFinding = { ...forServerVersion(f, target?.serverVersion ?? null), migration: m.name, statement: s.sql };
          if (!SIZE_BOUND_FINDING_CODES.has(f.code)) {
            findings.push(finding);
            continue;
          }
          // The tables whose size decides how long the lock lasts: every existing table the statement locks.
          const created = tablesCreatedBefore(m, index);
          const tables = s.analysis.locks.map((l) => l.relation).filter((r) => !created.has(r));
          findings.push(tables.length > 0 ? { ...finding, tables } : finding);
        }
      });
    }
    return findings;
  },
};
