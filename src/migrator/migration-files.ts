import type { Settings } from '../config.js';
import { ConfigError, MigrationError } from '../errors.js';
import { didYouMean, nearbyNames } from '../suggest.js';

/** Where a migrator's files come from, for messages: its directories, or its migration source. */
export function migrationsLocation(config: { directory?: string | readonly string[] | undefined; migrationSource?: unknown }, custom: boolean): string {
  if (custom) return "the knexfile's migrationSource";
  const dirs = ([] as string[]).concat((config.directory as string | string[] | undefined) ?? './migrations');
  return dirs.join(', ');
}

/**
 * Throws a {@link ConfigError} when a key of `zeroDowntime.stages.override` names no migration:
 * keys are migration names as knex gives them (the file name, extension included), and one that
 * matches nothing would silently leave the migration's stage to inference.
 */
export function assertOverridesMatch(settings: Pick<Settings, 'stages'>, names: readonly string[], location: string): void {
  const known = new Set(names);
  for (const key of Object.keys(settings.stages.override)) {
    if (known.has(key)) continue;
    const hint = didYouMean(key, names);
    throw new ConfigError(
      `zeroDowntime.stages.override[${JSON.stringify(key)}] names no migration in ${location}.${hint} ` +
        'Keys are migration file names with their extension (e.g. "20250101_drop_legacy.js"), as knex migrate:list shows them.',
      { details: { option: `zeroDowntime.stages.override.${key}`, key, location } },
    );
  }
}

/**
 * knex's own rule (`The migration directory is corrupt…`): every completed migration must have
 * its file, unless the knexfile sets `migrations.disableMigrationsListValidation`.
 */
export function assertNoMissingFiles(missing: readonly string[], tableName: string, location: string): void {
  if (missing.length === 0) return;
  throw new MigrationError(
    `The migration directory is corrupt, the following files are missing: ${missing.join(', ')}. ` +
      `${missing.length === 1 ? 'It is' : 'They are'} recorded as completed in ${tableName}, but ${location} has no such file. ` +
      `Restore ${missing.length === 1 ? 'it' : 'them'} (from the release that added ${missing.length === 1 ? 'it' : 'them'}), or set migrations: { disableMigrationsListValidation: true } in the knexfile to go on without ${missing.length === 1 ? 'it' : 'them'}.`,
    { details: { missing, location } },
  );
}

/** The error for `migrate:up NAME` / `migrate:down NAME` when NAME is no migration at all. */
export function unknownMigrationError(name: string, names: readonly string[], location: string): ConfigError {
  const near = nearbyNames(name, names);
  const listed = near.length > 0 ? ` Did you mean ${near.map((n) => JSON.stringify(n)).join(', ')}?` : names.length === 0 ? ` ${location} has no migrations.` : '';
  return new ConfigError(`The migration ${JSON.stringify(name)} does not exist in ${location}.${listed} Names include the extension, as knex-zd migrate:status lists them.`, {
    details: { name, nearby: near, location },
  });
}
