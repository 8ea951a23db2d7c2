import type { CheckFinding } from '../analysis/migration-types.js';
import type { Check } from './types.js';

/** Ids of statement findings that are not about unsafe locking (so `checks.unsafe` leaves them alone). */
const NOT_UNSAFE = new Set(['unclassified-statement', 'parse-error']);

/** True when a statement finding id is an unsafe-operation finding. */
export function isUnsafeFindingId(id: string): boolean {
  return !NOT_UNSAFE.has(id);
}

/** Lifts the findings analysis attached to each statement to the migration that runs it. */
export const statementFindings: Check = {
  id: 'statement',
  description: 'findings of the SQL classification (unsafe locks, rewrites, unknown statements)',
  unsafe: true,
  run({ migrations }) {
    const findings: CheckFinding[] = [];
    for (const m of migrations) {
      for (const s of m.statements) {
        // A safe operation's steps are already the safe form of what the findings warn about.
        if (s.operation) continue;
        for (const f of s.analysis.findings) {
          findings.push({ ...f, migration: m.name, statement: s.sql });
        }
      }
    }
    return findings;
  },
};
