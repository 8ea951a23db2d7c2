import type { Command } from '../command.js';
import { EXIT } from '../command.js';
import { withProject } from '../context.js';
import { findingsSummary, formatFinding } from '../format.js';
import { PROJECT_FLAGS } from '../flags.js';
import { palette } from '../output.js';

/** `knex-zd check [--json]`: every check over every migration; exit 1 on an error-level finding. */
export const checkCommand: Command = {
  name: 'check',
  summary: 'Check every migration (stages, unsafe operations, missing down…); exit 1 on any error.',
  help: `Usage: knex-zd check [--json]

Runs every check over every migration file, completed or pending, and prints each finding
with its id, the migration, and the safe alternative.
  --json   machine-readable output
Exit code 1 when any finding is an error, 0 otherwise.`,
  flags: { ...PROJECT_FLAGS, json: { type: 'boolean' } },
  async run({ values }, output) {
    return withProject(values as never, {}, async ({ migrator }) => {
      const { migrations, result, analysis } = await migrator.check();
      if (analysis.notice) output.err(analysis.notice);
      if (values.json) {
        output.out(
          JSON.stringify(
            {
              migrations: migrations.map((m) => ({ name: m.name, stage: m.stage, stageSource: m.stageSource })),
              findings: result.findings,
              errors: result.errors,
              warnings: result.warnings,
            },
            null,
            2,
          ),
        );
      } else {
        const c = palette(output.color);
        for (const f of result.findings) output.out(`${formatFinding(f, c)}\n`);
        output.out(`Checked ${migrations.length} migration${migrations.length === 1 ? '' : 's'}: ${findingsSummary(result.findings, c)}`);
      }
      return result.errors > 0 ? EXIT.failure : EXIT.ok;
    });
  },
};
