import { SIZE_BOUND_FINDING_CODES, STATEMENT_FINDING_CODES, STATEMENT_FINDING_DESCRIPTIONS } from '../analysis/findings.js';
import type { CheckFinding } from '../analysis/migration-types.js';
import type { Check } from './types.js';
import { tablesCreatedBefore } from './unsafe/statements.js';
import { forServerVersion } from './server-version.js';
import { SAFE_FORM_FINDING } from '../safe-by-default/candidate.js';
import type { SafeFormDirective } from '../safe-by-default/directive.js';
import { safeFormNote } from '../safe-by-default/notes.js';

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
      // safeByDefault: what was found about a statement that runs in its safe form, where its safe form runs.
      const pending = new Map((m.safeForms ?? []).map((d) => [d.ordinal, d]));
      const safeFormFindings = (directive: SafeFormDirective) => {
        pending.delete(directive.ordinal);
        for (const f of directive.findings) {
          const finding: CheckFinding = { ...forServerVersion(f, target?.serverVersion ?? null), migration: m.name, statement: directive.sql };
          findings.push(f.code === SAFE_FORM_FINDING[directive.kind] ? { ...finding, safeForm: { note: safeFormNote(directive.kind) } } : finding);
        }
      };
      m.statements.forEach((s, index) => {
        const directive = s.safeForm && pending.get(s.safeForm.ordinal);
        if (directive) safeFormFindings(directive);
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
      // A safe form with nothing left to run (an earlier, interrupted run finished its work).
      for (const directive of [...pending.values()]) safeFormFindings(directive);
    }
    return findings;
  },
};
