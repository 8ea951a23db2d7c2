import type { Settings, Severity } from '../config.js';
import type { CheckFinding, MigrationReport } from '../analysis/migration-types.js';
import { ambiguousStage } from './ambiguous-stage.js';
import { concurrentlyInTransaction } from './concurrently-in-transaction.js';
import { invalidStage } from './invalid-stage.js';
import { migrationError } from './migration-error.js';
import { missingDown } from './missing-down.js';
import { isUnsafeFindingId, statementFindings } from './statement-findings.js';
import type { Check } from './types.js';
import { unsafeChecks } from './unsafe/index.js';

/** Every check, in the order their findings are printed. */
export const CHECKS: readonly Check[] = Object.freeze([
  migrationError,
  invalidStage,
  ambiguousStage,
  missingDown,
  concurrentlyInTransaction,
  statementFindings,
  ...unsafeChecks,
]);

/** Findings after the knexfile's severities and the migrations' opt-outs are applied. */
export interface CheckResult {
  readonly findings: readonly CheckFinding[];
  readonly errors: number;
  readonly warnings: number;
}

function severityFor(id: string, unsafe: boolean, settings: Settings): Severity | undefined {
  return settings.checks[id] ?? (unsafe ? settings.checks.unsafe : undefined);
}

/**
 * Runs every check over the analysed migrations. A finding's severity comes from
 * `zeroDowntime.checks[id]`, else `zeroDowntime.checks.unsafe` for unsafe-operation
 * findings, else the check's default; a migration's `config.allowUnsafe` drops the
 * unsafe-operation findings it names.
 */
export function runChecks(migrations: readonly MigrationReport[], settings: Settings, checks: readonly Check[] = CHECKS): CheckResult {
  const byName = new Map(migrations.map((m) => [m.name, m]));
  const findings: CheckFinding[] = [];
  for (const check of checks) {
    for (const finding of check.run({ migrations, settings })) {
      const unsafe = check.unsafe && isUnsafeFindingId(finding.code);
      const migration = finding.migration === null ? undefined : byName.get(finding.migration);
      if (unsafe && migration?.allowUnsafe.includes(finding.code)) continue;
      const configured = severityFor(finding.code, unsafe, settings);
      if (configured === 'off') continue;
      findings.push(configured ? { ...finding, severity: configured } : finding);
    }
  }
  return {
    findings,
    errors: findings.filter((f) => f.severity === 'error').length,
    warnings: findings.filter((f) => f.severity === 'warning').length,
  };
}
