import type { CheckFinding } from '../analysis/migration-types.js';
import type { Check } from './types.js';

/** CONCURRENTLY (and other non-transactional statements) inside a transaction block fail at run time. */
export const concurrentlyInTransaction: Check = {
  id: 'concurrently-in-transaction',
  description: 'statements that cannot run in a transaction block are not inside one',
  unsafe: false,
  run({ migrations }) {
    const findings: CheckFinding[] = [];
    for (const m of migrations) {
      for (const s of m.statements) {
        const outside = !s.analysis.transactional || s.stepTransaction === 'none';
        if (!outside) continue;
        const forced = m.transactionDeclared && m.transaction;
        if (!forced && !s.inExplicitTransaction) continue;
        findings.push({
          code: this.id,
          severity: 'error',
          migration: m.name,
          statement: s.sql,
          message: `${m.name} runs "${s.analysis.summary}" inside a transaction block, where PostgreSQL refuses it (ERROR: cannot run inside a transaction block).`,
          hint: forced
            ? 'Remove `transaction: true` from the migration\'s config: knex-zd runs a migration with such a statement outside a transaction by itself.'
            : 'Do not wrap it in knex.transaction(...): run it directly on the knex passed to up/down; knex-zd runs that migration outside a transaction.',
        });
      }
    }
    return findings;
  },
};
