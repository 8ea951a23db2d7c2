import type { MigrationReport } from '../../analysis/migration-types.js';
import type { CheckResult } from '../../checks/index.js';
import type { MigrationPlan } from '../../migrator/staged-migrator.js';
import { exemptLine, findingsSummary, formatFinding, formatPlan } from '../format.js';
import type { palette } from '../output.js';

type Palette = ReturnType<typeof palette>;

/** `check` for a terminal: each finding with its safe alternative, then a summary line. */
export function checkText(migrations: readonly MigrationReport[], result: CheckResult, c: Palette): string {
  const lines = result.findings.map((f) => `${formatFinding(f, c)}\n`);
  const checked = migrations.length - result.exempt.length;
  if (result.exempt.length > 0) lines.push(c.dim(exemptLine(result.exempt)));
  lines.push(`Checked ${checked} migration${checked === 1 ? '' : 's'}: ${findingsSummary(result.findings, c)}`);
  return lines.join('\n');
}

/** `migrate:plan` for a terminal. */
export function planText(plan: MigrationPlan, c: Palette): string {
  return formatPlan(plan, c);
}
