import type { Command } from '../command.js';
import { EXIT } from '../command.js';
import { withProject } from '../context.js';
import { KNEX_MIGRATE_FLAGS, PROJECT_FLAGS, TIMEOUT_FLAGS, timeoutOverrides, type ParsedFlags } from '../flags.js';
import { jsonDocument } from '../json-document.js';
import { LOCK_FLAGS, LOCK_FLAGS_HELP, lockRunOptions } from '../lock-flags.js';
import type { Output } from '../output.js';
import { palette } from '../output.js';

async function step(direction: 'up' | 'down', { values, positionals }: ParsedFlags, output: Output): Promise<number> {
  const name = positionals[0];
  const lock = lockRunOptions(values, output);
  return withProject(values as never, timeoutOverrides(values), async ({ migrator }) => {
    const config = name ? { name, lock } : { lock };
    const [, log] = direction === 'up' ? await migrator.up(config) : await migrator.down(config);
    const c = palette(output.color);
    if (values.json) output.out(jsonDocument(true, { migrations: log }));
    else if (log.length === 0) output.out(c.green(direction === 'up' ? 'Already up to date.' : 'Nothing to roll back.'));
    else output.out(c.green(`${direction === 'up' ? 'Ran' : 'Reverted'}: ${log.join(', ')}`));
    return EXIT.ok;
  });
}

/** `knex-zd migrate:up [NAME]`: apply the next (or the named) pending migration. */
export const migrateUpCommand: Command = {
  name: 'migrate:up',
  summary: 'Apply the next pending migration, or the one named.',
  help: `Usage: knex-zd migrate:up [NAME] [--no-wait] [--json]\n${LOCK_FLAGS_HELP}`,
  flags: { ...PROJECT_FLAGS, ...KNEX_MIGRATE_FLAGS, ...TIMEOUT_FLAGS, ...LOCK_FLAGS, json: { type: 'boolean' } },
  run: (flags, output) => step('up', flags, output),
};

/** `knex-zd migrate:down [NAME]`: revert the last (or the named) completed migration. */
export const migrateDownCommand: Command = {
  name: 'migrate:down',
  summary: 'Revert the last completed migration, or the one named.',
  help: `Usage: knex-zd migrate:down [NAME] [--no-wait] [--json]\n\nWithout NAME, reverts the migration applied last (by the order they ran, not their file names).\n${LOCK_FLAGS_HELP}`,
  flags: { ...PROJECT_FLAGS, ...KNEX_MIGRATE_FLAGS, ...TIMEOUT_FLAGS, ...LOCK_FLAGS, json: { type: 'boolean' } },
  run: (flags, output) => step('down', flags, output),
};
