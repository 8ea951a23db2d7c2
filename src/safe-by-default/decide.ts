/**
 * Which statements run in their safe form: those that a check refuses (an error-level finding,
 * after the knexfile's severities, `config.allowUnsafe`, `checks.smallTable` and the tables the
 * same run creates have had their say) and that have a safe form answering that very finding.
 */
import type { CheckFinding, MigrationReport } from '../analysis/migration-types.js';
import { parseStatements } from '../analysis/parser.js';
import { candidateKind, SAFE_FORM_FINDING } from './candidate.js';
import type { SafeFormDirective } from './directive.js';

/** Why a migration cannot run any statement in its safe form, or `null` when it can. */
export function safeFormsRefusedBy(report: MigrationReport): string | null {
  if (report.safeByDefault === false) return 'it opts out (config.safeByDefault: false)';
  // Its author asked for one transaction: a concurrent build and a VALIDATE of its own cannot run inside it.
  if (report.transactionDeclared && report.transaction) return 'it declares config.transaction: true';
  return null;
}

/**
 * The statements of each migration that run in their safe form, from a first analysis
 * (`reports`, with the ordinals of their statements) and its checks' `findings`. The parser must
 * be loaded.
 */
export function decideSafeForms(reports: readonly MigrationReport[], findings: readonly CheckFinding[]): Map<string, SafeFormDirective[]> {
  const out = new Map<string, SafeFormDirective[]>();
  for (const report of reports) {
    if (safeFormsRefusedBy(report) !== null) continue;
    const refused = findings.filter((f) => f.migration === report.name && f.severity === 'error');
    if (refused.length === 0) continue;
    const directives: SafeFormDirective[] = [];
    for (const statement of report.statements) {
      // A statement inside a transaction the migration opened itself stays there, as written.
      if (statement.candidate === undefined || statement.operation || statement.inExplicitTransaction) continue;
      const [parsed] = parseStatements(statement.sql);
      const kind = parsed?.ok ? candidateKind(parsed.node) : null;
      if (kind === null) continue;
      // Other refusals of the statement come from the transaction it runs in (a lock held across
      // statements, VALIDATE after NOT VALID in one transaction): outside one, they are gone.
      if (!refused.some((f) => f.statement === statement.sql && f.code === SAFE_FORM_FINDING[kind])) continue;
      directives.push({ ordinal: statement.candidate, sql: statement.sql, kind, stage: statement.analysis.stage === 'mixed' ? null : statement.analysis.stage, findings: statement.analysis.findings });
    }
    if (directives.length > 0) out.set(report.name, directives);
  }
  return out;
}
