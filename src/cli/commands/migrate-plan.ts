import type { Command } from '../command.js';
import { EXIT } from '../command.js';
import { withProject } from '../context.js';
import { PROJECT_FLAGS } from '../flags.js';
import { PLAN_FORMATS, formatOf } from '../formats/index.js';
import { planJsonText } from '../formats/json.js';
import { planMarkdown } from '../formats/markdown.js';
import { planText } from '../formats/text.js';
import { palette } from '../output.js';

/** `knex-zd migrate:plan [--pre-deploy] [--rollback] [--format text|json|markdown]`: what would run, analysed; touches nothing. */
export const migratePlanCommand: Command = {
  name: 'migrate:plan',
  summary: 'Show what migrate:latest (or migrate:rollback) would run: stage, SQL, locks, table sizes, findings. Touches nothing.',
  help: `Usage: knex-zd migrate:plan [--pre-deploy] [--rollback [--all]] [--format text|json|markdown] [--json]

  --pre-deploy        only the pre-deploy stage (what runs before the roll-out)
  --rollback          plan a rollback of the last batch instead (--all: every batch)
  --format text       for a terminal (the default)
  --format json       machine-readable (--json is short for it)
  --format markdown   a pull-request comment
Each statement that locks an existing table shows the table's rows and size in the target
database and, when it reads or rewrites it, a rough estimate of how long the lock is held.
Exit code 1 when a check fails or the stages are out of order, 0 otherwise.`,
  flags: {
    ...PROJECT_FLAGS,
    'pre-deploy': { type: 'boolean' },
    rollback: { type: 'boolean' },
    all: { type: 'boolean' },
    json: { type: 'boolean' },
    format: { type: 'string' },
  },
  async run({ values }, output) {
    const format = formatOf('migrate:plan', values, PLAN_FORMATS);
    return withProject(values as never, {}, async ({ migrator }) => {
      const preDeploy = values['pre-deploy'] === true;
      const plan = values.rollback
        ? await migrator.planRollback({ preDeploy, all: values.all === true })
        : await migrator.planLatest({ preDeploy });
      if (plan.analysis.notice) output.err(plan.analysis.notice);
      if (format === 'json') output.out(planJsonText(plan));
      else if (format === 'markdown') output.out(planMarkdown(plan));
      else output.out(planText(plan, palette(output.color)));
      return plan.checks.errors > 0 || plan.conflicts.length > 0 ? EXIT.failure : EXIT.ok;
    });
  },
};
