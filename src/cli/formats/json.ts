import type { MigrationReport } from '../../analysis/migration-types.js';
import type { CheckResult } from '../../checks/index.js';
import type { MigrationPlan } from '../../migrator/staged-migrator.js';
import { planJson } from '../format.js';

/** `check --format json`: each migration's stage, every finding (notes included, with `allowed` or `smallTable`), and the counts. */
export function checkJson(migrations: readonly MigrationReport[], result: CheckResult): string {
  return JSON.stringify(
    {
      ok: result.errors === 0,
      migrations: migrations.map((m) => ({ name: m.name, stage: m.stage, stageSource: m.stageSource, baseline: result.exempt.includes(m.name) })),
      findings: result.findings,
      errors: result.errors,
      warnings: result.warnings,
      notes: result.findings.filter((f) => f.severity === 'info').length,
      exempt: result.exempt,
    },
    null,
    2,
  );
}

/** `migrate:plan --format json`. */
export function planJsonText(plan: MigrationPlan): string {
  return JSON.stringify({ ok: plan.checks.errors === 0 && plan.conflicts.length === 0, ...planJson(plan) }, null, 2);
}
