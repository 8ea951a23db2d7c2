import type { Command } from '../command.js';
import { EXIT } from '../command.js';
import { withProject } from '../context.js';
import { formatPlan, planJson } from '../format.js';
import { PROJECT_FLAGS } from '../flags.js';
import { palette } from '../output.js';

/** `knex-zd migrate:plan [--pre-deploy] [--rollback] [--json]`: what would run, analysed; touches nothing. */
export const migratePlanCommand: Command = {
  name: 'migrate:plan',
  summary: 'Show what migrate:latest (or migrate:rollback) would run: stage, SQL, locks, findings. Touches nothing.',
  help: `Usage: knex-zd migrate:plan [--pre-deploy] [--rollback [--all]] [--json]

  --pre-deploy   only the pre-deploy stage (what runs before the roll-out)
  --rollback     plan a rollback of the last batch instead (--all: every batch)
  --json         machine-readable output
Exit code 1 when a check fails or the stages are out of order, 0 otherwise.`,
  flags: { ...PROJECT_FLAGS, 'pre-deploy': { type: 'boolean' }, rollback: { type: 'boolean' }, all: { type: 'boolean' }, json: { type: 'boolean' } },
  async run({ values }, output) {
    return withProject(values as never, {}, async ({ migrator }) => {
      const preDeploy = values['pre-deploy'] === true;
      const plan = values.rollback
        ? await migrator.planRollback({ preDeploy, all: values.all === true })
        : await migrator.planLatest({ preDeploy });
      if (plan.analysis.notice) output.err(plan.analysis.notice);
      if (values.json) output.out(JSON.stringify(planJson(plan), null, 2));
      else output.out(formatPlan(plan, palette(output.color)));
      return plan.checks.errors > 0 || plan.conflicts.length > 0 ? EXIT.failure : EXIT.ok;
    });
  },
};
