import type { Command } from '../command.js';
import { EXIT } from '../command.js';
import { withProject } from '../context.js';
import { KNEX_MIGRATE_FLAGS, PROJECT_FLAGS, TIMEOUT_FLAGS, timeoutOverrides } from '../flags.js';
import { jsonDocument } from '../json-document.js';
import { LOCK_FLAGS, LOCK_FLAGS_HELP, lockRunOptions } from '../lock-flags.js';
import { palette } from '../output.js';

/** `knex-zd migrate:rollback [--all] [--pre-deploy]`: revert the last batch (or all). */
export const migrateRollbackCommand: Command = {
  name: 'migrate:rollback',
  summary: 'Revert the last batch (--all: every batch); --pre-deploy reverts only what is safe before rolling code back.',
  help: `Usage: knex-zd migrate:rollback [--all] [--pre-deploy] [--no-wait] [--json]

Reverting a migration inverts its stage: undoing post-deploy work (re-adding a dropped
column) is safe while the new code still runs, undoing pre-deploy work is not.
  --pre-deploy   revert only the migrations whose revert is pre-deploy work (run this
                 before rolling the code back; run migrate:rollback again after). Reverts
                 run in the reverse of the order they were applied; a pre-deploy revert
                 that depends on one left for later waits too. What is left is listed.
  --all          every batch, not only the last
  --lock-timeout, --statement-timeout, --retries   as for migrate:latest
${LOCK_FLAGS_HELP}`,
  flags: { ...PROJECT_FLAGS, ...KNEX_MIGRATE_FLAGS, ...TIMEOUT_FLAGS, ...LOCK_FLAGS, all: { type: 'boolean' }, 'pre-deploy': { type: 'boolean' }, json: { type: 'boolean' } },
  async run({ values }, output) {
    const lock = lockRunOptions(values, output);
    return withProject(values as never, timeoutOverrides(values), async ({ migrator }) => {
      const preDeploy = values['pre-deploy'] === true;
      const all = values.all === true;
      // The plan just made is the one run (made again under the lock only if another run changed what is completed).
      const plan = await migrator.planRollback({ preDeploy, all });
      if (plan.analysis.notice) output.err(plan.analysis.notice);
      const [batch, log] = await migrator.rollback({ preDeploy, lock, plan }, all);
      const left = plan.skipped.map((m) => {
        const waiting = plan.waiting.find((w) => w.migration === m.name);
        return { name: m.name, stage: m.stage, waitsFor: waiting?.waitsFor ?? null, reason: waiting?.reason ?? null };
      });
      if (values.json) {
        output.out(jsonDocument(true, { batch, migrations: log, left }));
        return EXIT.ok;
      }
      const c = palette(output.color);
      if (log.length > 0) {
        output.out(c.green(`Rolled back ${log.length} migration${log.length === 1 ? '' : 's'}:`));
        for (const name of log) output.out(`  ${name}`);
      } else if (left.length === 0) {
        output.out(c.green('Already at the base migration: nothing to roll back.'));
      }
      if (left.length > 0) {
        const scope = all ? 'of the completed migrations' : 'of the last batch';
        const what = left.length === 1 ? `1 migration ${scope} reverts` : `${left.length} migrations ${scope} revert`;
        output.out(c.yellow(`${log.length === 0 ? 'Nothing to revert before the code rollback: ' : ''}${what} in post-deploy (after the code rollback):`));
        for (const m of left) output.out(`  ${m.name}${m.waitsFor ? c.dim(`  waits for ${m.waitsFor}: ${m.reason}`) : ''}`);
        output.out(`Roll the code back, then run knex-zd migrate:rollback${all ? ' --all' : ''}.`);
      }
      return EXIT.ok;
    });
  },
};
