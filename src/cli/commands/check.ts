import { checkRules } from '../../checks/index.js';
import type { Command } from '../command.js';
import { EXIT } from '../command.js';
import { withProject } from '../context.js';
import { PROJECT_FLAGS } from '../flags.js';
import { checkGithub } from '../formats/github.js';
import { CHECK_FORMATS, formatOf } from '../formats/index.js';
import { checkJson } from '../formats/json.js';
import { repositoryRoot } from '../formats/locate.js';
import { checkSarif } from '../formats/sarif.js';
import { checkText } from '../formats/text.js';
import { palette } from '../output.js';

/** `knex-zd check [--pending] [--format text|json|sarif|github]`: every check over the migrations; exit 1 on an error-level finding. */
export const checkCommand: Command = {
  name: 'check',
  summary: 'Check every migration (stages, unsafe operations, missing down…); exit 1 on any error.',
  help: `Usage: knex-zd check [--pending] [--format text|json|sarif|github] [--json]

Runs every check over every migration file, completed or pending, and prints each finding
with its id, the migration, and the safe alternative. The migrations up to
zeroDowntime.startAfter (the baseline of a project that adopted knex-zd) are not checked.
  --pending         check only the pending migrations, against the database's current schema
  --format text     for a terminal (the default)
  --format json     machine-readable (--json is short for it)
  --format sarif    a SARIF 2.1.0 log, each finding located in its migration file (code scanning)
  --format github   GitHub Actions annotations on the migration files' lines
Exit code 1 when any finding is an error, 0 otherwise.`,
  flags: { ...PROJECT_FLAGS, json: { type: 'boolean' }, format: { type: 'string' }, pending: { type: 'boolean' } },
  async run({ values }, output) {
    const format = formatOf('check', values, CHECK_FORMATS);
    return withProject(values as never, {}, async ({ migrator }) => {
      const { migrations, result, analysis } = await migrator.check({ pending: values.pending === true });
      if (analysis.notice) output.err(analysis.notice);
      if (format === 'json') output.out(checkJson(migrations, result));
      else if (format === 'sarif') output.out(checkSarif({ migrations, result, rules: checkRules(), root: repositoryRoot() }));
      else if (format === 'github') output.out(checkGithub({ migrations, result, root: repositoryRoot() }));
      else output.out(checkText(migrations, result, palette(output.color)));
      return result.errors > 0 ? EXIT.failure : EXIT.ok;
    });
  },
};
