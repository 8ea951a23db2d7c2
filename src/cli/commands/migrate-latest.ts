import type { Command } from '../command.js';
import { EXIT } from '../command.js';
import { withProject } from '../context.js';
import { KNEX_MIGRATE_FLAGS, PROJECT_FLAGS, QUORUM_FLAGS, TIMEOUT_FLAGS, timeoutOverrides } from '../flags.js';
import { LOCK_FLAGS, LOCK_FLAGS_HELP, lockRunOptions } from '../lock-flags.js';
import { palette } from '../output.js';
import { applyWithQuorum } from '../quorum.js';
import { CheckFailedError, ConfigError } from '../../errors.js';
import { verifyJson, verifyText } from '../../verify/format.js';
import { errorDocument, jsonDocument } from '../json-document.js';
import { verifyQueries } from '../../verify/verify.js';
import { sourceFlag, sourceQueries } from './verify.js';

/** `knex-zd migrate:latest [--pre-deploy] [--quorum N]`: apply pending migrations of the stage. */
export const migrateLatestCommand: Command = {
  name: 'migrate:latest',
  summary: 'Apply pending migrations: --pre-deploy before the roll-out, without it after.',
  help: `Usage: knex-zd migrate:latest [--pre-deploy [--verify-queries SOURCE]] [--quorum N [--quorum-timeout SECONDS]] [--no-wait] [--json]

  --pre-deploy               apply only pending pre-deploy migrations (before the roll-out);
                             without it, apply everything pending in file order (after it)
  --lock-timeout DURATION    lock_timeout per statement, e.g. 2s (default from the knexfile, 5s)
  --statement-timeout DUR    statement_timeout per statement (default 15min; 'off' to disable)
  --retries N                retries after a lock timeout (default 5)
  --quorum N                 N deployers run this command; the plan is applied once, by the last to arrive
  --quorum-timeout SECONDS   how long to wait for the others (default 1800)
  --quorum-backend NAME      postgres (default), redis or memcached
  --quorum-url URL           the Redis or Memcached URL
  --verify-queries SOURCE    with --pre-deploy: first verify that the running code's queries (a .sql
                             or .jsonl file, or pg_stat_statements) survive the pre-deploy migrations,
                             in a shadow database (as knex-zd verify --old-queries); refuse if not
${LOCK_FLAGS_HELP}
  --json                     machine-readable result
Runs the checks first and refuses to start on an error, before touching the database.`,
  flags: { ...PROJECT_FLAGS, ...KNEX_MIGRATE_FLAGS, ...TIMEOUT_FLAGS, ...QUORUM_FLAGS, ...LOCK_FLAGS, 'pre-deploy': { type: 'boolean' }, 'verify-queries': { type: 'string' }, json: { type: 'boolean' } },
  async run({ values }, output) {
    const lock = lockRunOptions(values, output);
    const verify = await sourceFlag(values, 'verify-queries');
    if (verify && values['pre-deploy'] !== true) {
      throw new ConfigError(
        '--verify-queries goes with --pre-deploy: it proves that the code running now survives the pre-deploy migrations. ' +
          'Before the post-deploy step, check the new release with knex-zd verify --new-queries SOURCE.',
      );
    }
    return withProject(values as never, timeoutOverrides(values), async (project) => {
      const preDeploy = values['pre-deploy'] === true;
      const c = palette(output.color);
      const plan = await project.migrator.planLatest({ preDeploy });
      if (plan.analysis.notice) output.err(plan.analysis.notice);
      if (verify) {
        const result = await verifyQueries(project.knex, project.migrator, { old: await sourceQueries(verify, project.knex), plan });
        const report = verifyText(result, c);
        const refusal = 'Refusing to migrate: the verification of --verify-queries failed. Nothing was applied.';
        if (!result.ok && values.json) {
          output.out(errorDocument(new CheckFailedError(refusal, { details: { verify: verifyJson(result) } }), EXIT.failure));
          return EXIT.failure;
        }
        for (const line of report) output.err(line);
        if (!result.ok) {
          output.err(c.red(c.bold(refusal)));
          return EXIT.failure;
        }
      }
      // The plan just shown is applied (made again under the lock only if another run applied something meanwhile).
      const apply = () => project.migrator.latest({ preDeploy, lock, plan });
      const outcome = await applyWithQuorum(project, plan, values, apply, output);
      if (!outcome.result) {
        if (values.json) output.out(jsonDocument(true, { appliedBy: outcome.appliedBy, summary: outcome.summary }));
        else output.out(c.green(`Applied by another deployer (${outcome.appliedBy}): ${outcome.summary ?? 'done'}.`));
        return EXIT.ok;
      }
      const [batch, log] = outcome.result;
      if (values.json) {
        output.out(jsonDocument(true, { batch, migrations: log, skipped: plan.skipped.map((m) => m.name) }));
        return EXIT.ok;
      }
      const stage = preDeploy ? 'pre-deploy ' : '';
      if (log.length === 0) output.out(c.green(`Already up to date: no pending ${stage}migrations.`));
      else {
        output.out(c.green(`Batch ${batch} applied ${log.length} ${stage}migration${log.length === 1 ? '' : 's'}:`));
        for (const name of log) output.out(`  ${name}`);
      }
      if (plan.skipped.length > 0) {
        output.out(c.dim(`${plan.skipped.length} post-deploy migration${plan.skipped.length === 1 ? '' : 's'} left for after the roll-out (knex-zd migrate:latest).`));
      }
      return EXIT.ok;
    });
  },
};
