import type { Knex } from 'knex';
import type { MigrationModule } from '../analysis/analyze-migration.js';
import type { Settings } from '../config.js';
import { wrapMigration } from '../runner/wrap-migration.js';
import type { SafeFormDirective } from '../safe-by-default/directive.js';
import type { PreparedMigration } from './staged-migration-source.js';

/**
 * The module knex runs for a migration: the transaction decision of the analysis, and the
 * runner's timeouts and retries. The real run and the shadow run use the same one.
 */
export function prepareMigration(
  module: MigrationModule,
  name: string,
  transaction: boolean,
  settings: Settings,
  /** The statements the plan runs in their safe form (`safeByDefault`): the migration runs outside a transaction. */
  safeForms: readonly SafeFormDirective[] = [],
): PreparedMigration {
  const config = { ...module.config, transaction: transaction && safeForms.length === 0 };
  const context = { name, transaction: config.transaction, settings, safeForms };
  const up = module.up as Knex.Migration['up'];
  const down = module.down as Knex.Migration['down'];
  const wrappedUp = wrapMigration({ up, down, config }, { ...context, direction: 'up' });
  const wrappedDown = wrapMigration({ up, down, config }, { ...context, direction: 'down' });
  return { up: wrappedUp.up, down: wrappedDown.down, config };
}
