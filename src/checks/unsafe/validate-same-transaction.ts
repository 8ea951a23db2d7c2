import type { CapturedStatement, CheckFinding } from '../../analysis/migration-types.js';
import type { Check } from '../types.js';
import { constraintActions, sameTransaction, short } from './statements.js';

/**
 * VALIDATE CONSTRAINT in the transaction of its own `ADD … NOT VALID`: the ADD's lock (ACCESS
 * EXCLUSIVE for a CHECK, SHARE ROW EXCLUSIVE for a foreign key) is held through the whole
 * validation scan, so NOT VALID gains nothing.
 */
export const validateSameTransaction: Check = {
  id: 'validate-same-transaction',
  description: 'VALIDATE CONSTRAINT runs in a transaction of its own, not in the one that added the constraint NOT VALID',
  unsafe: true,
  run({ migrations }) {
    const findings: CheckFinding[] = [];
    for (const report of migrations) {
      if (report.error) continue;
      const added = new Map<string, CapturedStatement>();
      for (const statement of report.statements) {
        for (const action of constraintActions(statement.sql)) {
          const key = `${action.table}\u0000${action.constraint}`;
          if (action.kind === 'add-not-valid') {
            added.set(key, statement);
            continue;
          }
          const add = added.get(key);
          if (!add || !sameTransaction(report, add, statement)) continue;
          findings.push({
            code: this.id,
            severity: 'error',
            migration: report.name,
            statement: statement.sql,
            message: `${report.name} validates ${action.constraint} in the same transaction that added it NOT VALID (${short(add.sql)}): the ADD's lock stays held while every row is checked, blocking writes (and, for a CHECK, reads) for the whole scan.`,
            hint:
              'Let the operation split it into two transactions (it runs the VALIDATE in its own):\n' +
              `  await addCheckConstraint(knex, ${JSON.stringify(action.table)}, ${JSON.stringify(action.constraint)}, '<expression>');\n` +
              `  await addForeignKey(knex, ${JSON.stringify(action.table)}, ['<column>'], '<table>', ['id'], { name: ${JSON.stringify(action.constraint)} });\n` +
              'or move the VALIDATE CONSTRAINT to a later migration with export const config = { transaction: false };',
          });
        }
      }
    }
    return findings;
  },
};
