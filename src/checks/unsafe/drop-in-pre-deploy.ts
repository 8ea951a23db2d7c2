import type { CheckFinding } from '../../analysis/migration-types.js';
import type { Check } from '../types.js';
import { short, tableKey, tablesCreatedBefore } from './statements.js';

/**
 * DROP TABLE / DROP COLUMN in a pre-deploy migration: the code still running reads and writes
 * what is dropped, and fails until the roll-out ends.
 */
export const dropInPreDeploy: Check = {
  id: 'drop-in-pre-deploy',
  description: 'no DROP TABLE or DROP COLUMN in a pre-deploy migration',
  unsafe: true,
  run({ migrations }) {
    const findings: CheckFinding[] = [];
    for (const report of migrations) {
      if (report.stage !== 'pre-deploy' || report.error) continue;
      report.statements.forEach((statement, index) => {
        const drops = statement.analysis.objects.filter((o) => o.effect === 'drop');
        const labels = statement.analysis.actions.map((a) => a.action);
        const dropsTable = labels.some((l) => /^DROP TABLE\b/.test(l));
        const dropsColumn = labels.some((l) => /^DROP COLUMN\b/.test(l));
        if (!dropsTable && !dropsColumn) return;
        const created = tablesCreatedBefore(report, index);
        const target = drops.find((o) => !created.has(tableKey(o.schema, o.table)) && !created.has(o.table));
        if (drops.length > 0 && !target) return;
        const table = target?.table ?? '<table>';
        const call = dropsColumn
          ? `await dropColumn(knex, ${JSON.stringify(table)}, ${JSON.stringify(target?.column ?? '<column>')});`
          : `await dropTable(knex, ${JSON.stringify(table)});`;
        findings.push({
          code: this.id,
          severity: 'error',
          migration: report.name,
          statement: statement.sql,
          message: `${report.name} drops ${dropsColumn ? 'a column' : 'a table'} in a pre-deploy migration (${short(statement.sql)}): the old code keeps running during the roll-out and fails on every query that still uses it.`,
          hint:
            `Stop using it in this release, and drop it in a post-deploy migration:\n  export const config = { stage: 'post-deploy' };\n  export async function up(knex) { ${call} }` +
            (dropsColumn ? `\nIf the new code inserts without it, first, pre-deploy: await prepareDropColumn(knex, ${JSON.stringify(table)}, ${JSON.stringify(target?.column ?? '<column>')});` : ''),
        });
      });
    }
    return findings;
  },
};
