import type { Command } from '../command.js';
import { EXIT } from '../command.js';
import { withProject } from '../context.js';
import { formatStatus } from '../format.js';
import { jsonDocument } from '../json-document.js';
import { PROJECT_FLAGS } from '../flags.js';
import { palette } from '../output.js';

/** `knex-zd migrate:status` / `migrate:list`: every migration with its state and stage. */
export const migrateStatusCommand: Command = {
  name: 'migrate:status',
  aliases: ['migrate:list'],
  summary: 'List migrations with their state (completed/pending), batch and stage.',
  help: `Usage: knex-zd migrate:status [--json]     (alias: migrate:list)

Exit code 0; use --json to read the state from a script.`,
  flags: { ...PROJECT_FLAGS, json: { type: 'boolean' } },
  async run({ values }, output) {
    return withProject(values as never, {}, async ({ migrator }) => {
      const rows = await migrator.status();
      if (values.json) output.out(jsonDocument(true, { migrations: rows }));
      else output.out(formatStatus(rows, palette(output.color)));
      return EXIT.ok;
    });
  },
};
