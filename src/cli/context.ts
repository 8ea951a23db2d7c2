import type { Knex } from 'knex';
import { assertKnownCheckIds } from '../checks/check-options.js';
import { parseSettings, type Settings } from '../config.js';
import { ConfigError, ZeroDowntimeError } from '../errors.js';
import { createStagedMigrator, type StagedMigrator } from '../migrator/staged-migrator.js';
import { captureMigrationFailures } from './migration-failure.js';
import { loadKnexfile, type KnexfileFlags, type LoadedKnexfile } from './knexfile.js';

/** An opened project: knexfile, settings, a connected knex and the staged migrator. */
export interface Project {
  readonly knexfile: LoadedKnexfile;
  readonly settings: Settings;
  readonly knex: Knex;
  readonly migrator: StagedMigrator;
  close(): Promise<void>;
}

function merge(base: unknown, overrides: Record<string, unknown>): unknown {
  if (Object.keys(overrides).length === 0) return base;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown> | undefined) };
  for (const [key, value] of Object.entries(overrides)) {
    const current = out[key];
    out[key] =
      value && typeof value === 'object' && current && typeof current === 'object'
        ? { ...(current), ...(value) }
        : value;
  }
  return out;
}

/** Parses the knexfile's `zeroDowntime` option (with flag overrides), naming the knexfile in errors. */
export function settingsOf(knexfile: LoadedKnexfile, overrides: Record<string, unknown> = {}): Settings {
  try {
    const settings = parseSettings(merge(knexfile.config.zeroDowntime, overrides));
    assertKnownCheckIds(settings);
    return settings;
  } catch (error) {
    if (error instanceof ZeroDowntimeError) {
      throw new ConfigError(`${error.message} (in ${knexfile.path}${knexfile.environment ? `, environment ${knexfile.environment}` : ''})`, {
        cause: error,
        details: error.details,
      });
    }
    throw error;
  }
}

/** Loads the knexfile, validates the settings, connects and checks the connection. */
export async function openProject(flags: KnexfileFlags, overrides: Record<string, unknown> = {}): Promise<Project> {
  const knexfile = await loadKnexfile(flags);
  const settings = settingsOf(knexfile, overrides);
  const client = String(knexfile.config.client ?? '');
  if (!['pg', 'postgres', 'postgresql', 'pgnative'].includes(client) && typeof knexfile.config.client !== 'function') {
    throw new ConfigError(`knex-zero-downtime works with PostgreSQL; the knexfile ${knexfile.path} uses client ${JSON.stringify(client)}.`);
  }
  const knex = knexfile.knexFactory(knexfile.config);
  try {
    await knex.raw('select 1');
  } catch (error) {
    await knex.destroy();
    throw new ConfigError(
      `Cannot connect to PostgreSQL with the connection of ${knexfile.path}${knexfile.environment ? ` (environment ${knexfile.environment})` : ''}: ` +
        `${(error as Error).message}. Nothing was changed.`,
      { cause: error },
    );
  }
  const migrator = createStagedMigrator(knex, { settings });
  return { knexfile, settings, knex, migrator, close: () => knex.destroy() };
}

/** Opens the project, runs `fn`, and always closes the connection pool. */
export async function withProject<T>(
  flags: KnexfileFlags,
  overrides: Record<string, unknown>,
  fn: (project: Project) => Promise<T>,
): Promise<T> {
  const project = await openProject(flags, overrides);
  const failures = captureMigrationFailures(project.knex);
  try {
    return await fn(project);
  } catch (error) {
    throw failures.explain(error);
  } finally {
    await project.close();
  }
}
