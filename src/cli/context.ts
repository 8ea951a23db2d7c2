import { inspect } from 'node:util';
import type { Knex } from 'knex';
import { assertKnownCheckIds } from '../checks/check-options.js';
import { parseSettings, type Settings } from '../config.js';
import { ConfigError, ZeroDowntimeError } from '../errors.js';
import { createStagedMigrator, type StagedMigrator } from '../migrator/staged-migrator.js';
import { TIMEOUT_FLAGS } from './flags.js';
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

function describeKnexfile(knexfile: LoadedKnexfile): string {
  if (knexfile.path === null) return 'the --client/--connection flags (no knexfile)';
  return `${knexfile.path}${knexfile.environment ? `, environment ${knexfile.environment}` : ''}`;
}

/**
 * Parses the knexfile's `zeroDowntime` option with the flags' overrides. An error names the
 * knexfile; or the flags, e.g. `--lock-timeout 2s`, when the knexfile's option is valid without them.
 */
export function settingsOf(knexfile: LoadedKnexfile, overrides: Record<string, unknown> = {}, flags: readonly string[] = []): Settings {
  try {
    const settings = parseSettings(merge(knexfile.config.zeroDowntime, overrides));
    assertKnownCheckIds(settings);
    return settings;
  } catch (error) {
    if (!(error instanceof ZeroDowntimeError)) throw error;
    let blameFlags = false;
    if (flags.length > 0) {
      try {
        parseSettings(knexfile.config.zeroDowntime);
        blameFlags = true;
      } catch {
        // the knexfile's own option is wrong: name the knexfile
      }
    }
    const message = blameFlags
      ? `${flags.join(' ')} contradicts the zeroDowntime option of ${describeKnexfile(knexfile)}: ${error.message}`
      : `${error.message} (in ${describeKnexfile(knexfile)})`;
    throw new ConfigError(message, { cause: error, details: error.details });
  }
}

/** The flags that override `zeroDowntime`, as typed, for messages: `['--lock-timeout 2s']`. */
function overrideFlags(values: Readonly<Record<string, unknown>>): string[] {
  return Object.keys(TIMEOUT_FLAGS)
    .filter((name) => typeof values[name] === 'string')
    .map((name) => `--${name} ${String(values[name])}`);
}

/**
 * The knexfile's config with knex's "Acquire connection error" warning left out: a connection
 * that fails is reported once, in one line, by the command. Other warnings go to the knexfile's
 * `log.warn`, else to stderr (knex's default writes them to stdout, into `--json` output).
 */
export function withQuietConnectionErrors(config: Knex.Config): Knex.Config {
  const log = config.log ?? {};
  const warn = log.warn ?? ((message: unknown) => process.stderr.write(`${typeof message === 'string' ? message : inspect(message)}\n`));
  return {
    ...config,
    log: {
      ...log,
      warn(message: unknown) {
        if (typeof message === 'string' && message.startsWith('Acquire connection error')) return;
        warn(message);
      },
    },
  };
}

/** Loads the knexfile, validates the settings, connects and checks the connection. */
export async function openProject(flags: KnexfileFlags, overrides: Record<string, unknown> = {}): Promise<Project> {
  const knexfile = await loadKnexfile(flags);
  const settings = settingsOf(knexfile, overrides, overrideFlags(flags as Readonly<Record<string, unknown>>));
  const client = String(knexfile.config.client ?? '');
  if (!['pg', 'postgres', 'postgresql', 'pgnative'].includes(client) && typeof knexfile.config.client !== 'function') {
    const where = knexfile.overrides.includes('--client') ? '--client gives' : `the knexfile ${knexfile.path} uses`;
    throw new ConfigError(`knex-zero-downtime works with PostgreSQL; ${where} client ${JSON.stringify(client)}.`);
  }
  const knex = knexfile.knexFactory(withQuietConnectionErrors(knexfile.config));
  try {
    await knex.raw('select 1');
  } catch (error) {
    await knex.destroy();
    const where = knexfile.overrides.includes('--connection')
      ? '--connection'
      : knexfile.path === null
        ? "node-postgres's defaults (no knexfile and no --connection: PGHOST, PGDATABASE… from the environment)"
        : `the connection of ${knexfile.path}${knexfile.environment ? ` (environment ${knexfile.environment})` : ''}`;
    throw new ConfigError(`Cannot connect to PostgreSQL with ${where}: ${(error as Error).message}. Nothing was changed.`, { cause: error });
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
