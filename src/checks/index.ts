import type { Settings, Severity } from '../config.js';
import type { CheckFinding, MigrationReport } from '../analysis/migration-types.js';
import { NO_TARGET_FACTS, type TargetFacts } from '../analysis/table-stats.js';
import { ambiguousStage } from './ambiguous-stage.js';
import { concurrentlyInTransaction } from './concurrently-in-transaction.js';
import { invalidAllowUnsafeCheck } from './invalid-allow-unsafe.js';
import { invalidStage } from './invalid-stage.js';
import { migrationError } from './migration-error.js';
import { missingDown } from './missing-down.js';
import { smallTableNote, tableCreators } from './small-table.js';
import { isUnsafeFindingId, statementFindings } from './statement-findings.js';
import { hintForModule, moduleKindOf } from './hint-syntax.js';
import type { Check } from './types.js';
import { unsafeChecks } from './unsafe/index.js';

/** Every check, in the order their findings are printed. */
export const CHECKS: readonly Check[] = Object.freeze([
  migrationError,
  invalidStage,
  invalidAllowUnsafeCheck(() => allowableIds()),
  ambiguousStage,
  missingDown,
  concurrentlyInTransaction,
  statementFindings,
  ...unsafeChecks,
]);

/** A finding id with what it finds, for `--format sarif` rules and the README. */
export interface CheckRule {
  readonly id: string;
  readonly description: string;
  /** True for unsafe-operation findings: `checks.unsafe` sets them, `config.allowUnsafe` opts out of them. */
  readonly unsafe: boolean;
}

/** Every finding id the checks report, with its description. */
export function checkRules(checks: readonly Check[] = CHECKS): CheckRule[] {
  const rules = new Map<string, CheckRule>();
  for (const check of checks) {
    for (const id of check.codes ?? [check.id]) {
      if (rules.has(id)) continue;
      rules.set(id, { id, description: check.descriptions?.[id] ?? check.description, unsafe: check.unsafe && isUnsafeFindingId(id) });
    }
  }
  return [...rules.values()];
}

/** The ids a migration may opt out of with `config.allowUnsafe`: every unsafe-operation finding of the registry. */
export function allowableIds(checks: readonly Check[] = CHECKS): string[] {
  return checkRules(checks)
    .filter((rule) => rule.unsafe)
    .map((rule) => rule.id);
}

/** Findings after the knexfile's severities and the migrations' opt-outs are applied. */
export interface CheckResult {
  readonly findings: readonly CheckFinding[];
  readonly errors: number;
  readonly warnings: number;
  /** Migrations exempt from the checks under `zeroDowntime.startAfter` (not checked, no findings). */
  readonly exempt: readonly string[];
}

function severityFor(id: string, unsafe: boolean, settings: Settings): Severity | undefined {
  return settings.checks[id] ?? (unsafe ? settings.checks.unsafe : undefined);
}

/**
 * Runs every check over the analysed migrations. A finding's severity comes from
 * `zeroDowntime.checks[id]`, else `zeroDowntime.checks.unsafe` for unsafe-operation
 * findings, else the check's default. An unsafe-operation finding that a migration opts out
 * of (`config.allowUnsafe: { id: reason }`) is kept as a note (`severity: 'info'`) with the
 * reason; one whose tables are all below `checks.smallTable` rows in the target database
 * (`target`, read once per plan) becomes a note that says so. Only `'off'` drops a finding, and
 * `exempt`: the migrations of the baseline (`zeroDowntime.startAfter`), which are not checked.
 */
export function runChecks(
  migrations: readonly MigrationReport[],
  settings: Settings,
  checks: readonly Check[] = CHECKS,
  target: TargetFacts = NO_TARGET_FACTS,
  exempt: ReadonlySet<string> = new Set(),
): CheckResult {
  const byName = new Map(migrations.map((m) => [m.name, m]));
  const sizes = { settings, target, creators: tableCreators(migrations), order: new Map(migrations.map((m, i) => [m.name, i])) };
  const findings: CheckFinding[] = [];
  for (const check of checks) {
    for (const finding of check.run({ migrations, settings, target })) {
      const unsafe = check.unsafe && isUnsafeFindingId(finding.code);
      if (finding.migration !== null && exempt.has(finding.migration)) continue;
      const migration = finding.migration === null ? undefined : byName.get(finding.migration);
      const configured = severityFor(finding.code, unsafe, settings);
      if (configured === 'off') continue;
      // The safe alternative is written in the migration file's own syntax (require or import).
      const hint = finding.hint === undefined || !migration ? finding.hint : hintForModule(finding.hint, moduleKindOf(migration.file));
      const adjusted: CheckFinding = { ...finding, ...(configured ? { severity: configured } : {}), ...(hint === undefined ? {} : { hint }) };
      // safeByDefault runs the statement in its safe form: the refusal becomes a note that says so.
      if (finding.safeForm) {
        findings.push({ ...adjusted, severity: 'info' });
        continue;
      }
      const reason = unsafe && migration && Object.hasOwn(migration.allowUnsafe, finding.code) ? migration.allowUnsafe[finding.code] : undefined;
      if (reason !== undefined) {
        findings.push({ ...adjusted, severity: 'info', allowed: { reason } });
        continue;
      }
      const note = unsafe && adjusted.severity !== 'info' ? smallTableNote(adjusted, sizes) : null;
      findings.push(note === null ? adjusted : { ...adjusted, severity: 'info', smallTable: { note } });
    }
  }
  return {
    findings,
    errors: findings.filter((f) => f.severity === 'error').length,
    warnings: findings.filter((f) => f.severity === 'warning').length,
    exempt: migrations.filter((m) => exempt.has(m.name)).map((m) => m.name),
  };
}
