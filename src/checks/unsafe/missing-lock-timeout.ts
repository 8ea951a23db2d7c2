import type { CheckFinding } from '../../analysis/migration-types.js';
import type { Check } from '../types.js';
import { short, tableKey, tablesCreatedBefore } from './statements.js';

const SETS_LOCK_TIMEOUT = /\bSET\s+(?:LOCAL\s+|SESSION\s+)?lock_timeout\b|set_config\s*\(\s*'lock_timeout'/i;

/**
 * Timeouts are off and a migration takes an ACCESS EXCLUSIVE lock on an existing table: if
 * the lock has to wait (behind a long query or an idle transaction), every later query on the
 * table queues behind it, which is an outage for as long as the wait lasts.
 */
export const missingLockTimeout: Check = {
  id: 'missing-lock-timeout',
  description: 'a migration that takes an ACCESS EXCLUSIVE lock on an existing table runs with a lock_timeout',
  unsafe: true,
  run({ migrations, settings }) {
    if (settings.timeouts.lock !== null) return [];
    const findings: CheckFinding[] = [];
    for (const report of migrations) {
      if (report.error) continue;
      let guarded = false;
      for (const [index, statement] of report.statements.entries()) {
        if (SETS_LOCK_TIMEOUT.test(statement.sql)) guarded = true;
        if (guarded) continue;
        const created = tablesCreatedBefore(report, index);
        const lock = statement.analysis.locks.find((l) => l.mode === 'ACCESS EXCLUSIVE' && !created.has(l.relation));
        const createsIt = statement.analysis.objects.some((o) => o.effect === 'create' && o.column === null && lock && tableKey(o.schema, o.table) === lock.relation);
        if (!lock || createsIt) continue;
        findings.push({
          code: this.id,
          severity: 'warning',
          migration: report.name,
          statement: statement.sql,
          message: `${report.name} takes an ACCESS EXCLUSIVE lock on ${lock.relation} (${short(statement.sql)}) with lock_timeout off: if it waits behind a long query or an idle transaction, every query on ${lock.relation} queues behind it for as long as it waits.`,
          hint: "Turn the timeouts back on in the knexfile (knex-zd then retries lock timeouts with backoff):\n  zeroDowntime: { timeouts: { lock: '5s', retries: 5 } }\nor pass --lock-timeout 5s.",
        });
        break; // one finding per migration is enough to act on
      }
    }
    return findings;
  },
};
