import type { Command } from '../command.js';
import { EXIT } from '../command.js';
import { withProject } from '../context.js';
import { KNEX_MIGRATE_FLAGS, PROJECT_FLAGS, TIMEOUT_FLAGS, timeoutOverrides } from '../flags.js';
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
                 before rolling the code back; run migrate:rollback again after)
  --all          every batch, not only the last
  --lock-timeout, --statement-timeout, --retries   as for migrate:latest
${LOCK_FLAGS_HELP}`,
  flags: { ...PROJECT_FLAGS, ...KNEX_MIGRATE_FLAGS, ...TIMEOUT_FLAGS, ...LOCK_FLAGS, all: { type: 'boolean' }, 'pre-deploy': { type: 'boolean' }, json: { type: 'boolean' } },
  async run({ values }, output) {
    const lock = lockRunOptions(values, output);
    return withProject(values as never, timeoutOverrides(values), async ({ migrator }) => {
      const [batch, log] = await migrator.rollback({ preDeploy: values['pre-deploy'] === true, lock }, values.all === true);
      if (values.json) {
        output.out(JSON.stringify({ batch, migrations: log }, null, 2));
        return EXIT.ok;
      }
      const c = palette(output.color);
      if (log.length === 0) output.out(c.green('Already at the base migration: nothing to roll back.'));
      else {
        output.out(c.green(`Rolled back ${log.length} migration${log.length === 1 ? '' : 's'}:`));
        for (const name of log) output.out(`  ${name}`);
      }
      return EXIT.ok;
    });
  },
};
