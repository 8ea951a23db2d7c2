import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Knex } from 'knex';
import { ConfigError } from '../errors.js';

/**
 * Where the knexfile is, which environment to use, and what knex's CLI flags override in it:
 * the same flags as knex's CLI.
 */
export interface KnexfileFlags {
  readonly knexfile?: string | undefined;
  readonly cwd?: string | undefined;
  readonly env?: string | undefined;
  /** `--client NAME`: the knexfile's `client`; with `--connection`, no knexfile is needed. */
  readonly client?: string | undefined;
  /** `--connection URL`: the knexfile's `connection`. */
  readonly connection?: string | undefined;
  /** `--migrations-directory DIR`: `migrations.directory`. */
  readonly 'migrations-directory'?: string | undefined;
  /** `--migrations-table-name NAME`: `migrations.tableName`. */
  readonly 'migrations-table-name'?: string | undefined;
  /** `--disable-transactions`: `migrations.disableTransactions`. */
  readonly 'disable-transactions'?: boolean | undefined;
  /** `--debug`: knex's `debug` option (every query is logged). */
  readonly debug?: boolean | undefined;
  /** `--knexpath PATH`: the knex module to use instead of the project's. */
  readonly knexpath?: string | undefined;
}

/** A loaded knexfile: the environment's config and the project's own knex module. */
export interface LoadedKnexfile {
  /** The knexfile; `null` when `--client`/`--connection` stand in for one. */
  readonly path: string | null;
  readonly environment: string | null;
  /** The environment's config, with knex's CLI flags applied over it. */
  readonly config: Knex.Config;
  /** The knex CLI flags that override the knexfile, e.g. `['--connection']`. */
  readonly overrides: readonly string[];
  /** The `knex` factory of the project (resolved from the knexfile's folder). */
  readonly knexFactory: (config: Knex.Config) => Knex;
}

/** File names looked for, in order, in the working directory and its parents. */
export const KNEXFILE_NAMES = ['knexfile.js', 'knexfile.cjs', 'knexfile.mjs', 'knexfile.ts', 'knexfile.cts', 'knexfile.mts'];

const TS_EXTENSIONS = new Set(['.ts', '.cts', '.mts']);
let typescriptRegistered = false;

/** Lets Node load TypeScript knexfiles and migrations (through tsx), once per process. */
export async function registerTypeScript(): Promise<void> {
  if (typescriptRegistered) return;
  typescriptRegistered = true;
  const [esm, cjs] = await Promise.all([import('tsx/esm/api'), import('tsx/cjs/api')]);
  esm.register();
  cjs.register();
}

/** True when the migrations directory holds TypeScript files. */
export function hasTypeScriptMigrations(config: Knex.Config): boolean {
  const dirs = ([] as string[]).concat((config.migrations?.directory as string | string[] | undefined) ?? './migrations');
  return dirs.some((dir) => {
    try {
      return readdirSync(path.resolve(dir)).some((f) => TS_EXTENSIONS.has(path.extname(f)));
    } catch {
      return false;
    }
  });
}

function findUp(start: string): string | null {
  let dir = path.resolve(start);
  for (;;) {
    for (const name of KNEXFILE_NAMES) {
      const candidate = path.join(dir, name);
      if (existsSync(candidate)) return candidate;
    }
    const parent = path.dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}

/**
 * The knexfile that knex-zd would load with these flags, without loading it: `--knexfile`
 * (relative to `--cwd`), else the first of {@link KNEXFILE_NAMES} in `--cwd` or its parents.
 */
export function findKnexfile(flags: Pick<KnexfileFlags, 'knexfile' | 'cwd'>, cwd = process.cwd()): string | null {
  const base = path.resolve(cwd, flags.cwd ?? '.');
  if (flags.knexfile) {
    const file = path.resolve(base, flags.knexfile);
    return existsSync(file) ? file : null;
  }
  return findUp(base);
}

/** The knexfile's config with knex's CLI flags over it (a copy; knex merges them the same way). */
export function applyKnexFlags(config: Knex.Config, flags: KnexfileFlags): { config: Knex.Config; overrides: string[] } {
  const out: Knex.Config = { ...config };
  const migrations: Knex.MigratorConfig = { ...config.migrations };
  const overrides: string[] = [];
  if (flags.client) {
    out.client = flags.client;
    overrides.push('--client');
  }
  if (flags.connection) {
    out.connection = flags.connection;
    overrides.push('--connection');
  }
  if (flags['migrations-directory']) {
    migrations.directory = flags['migrations-directory'];
    overrides.push('--migrations-directory');
  }
  if (flags['migrations-table-name']) {
    migrations.tableName = flags['migrations-table-name'];
    overrides.push('--migrations-table-name');
  }
  if (flags['disable-transactions']) {
    migrations.disableTransactions = true;
    overrides.push('--disable-transactions');
  }
  if (flags.debug) {
    out.debug = true;
    overrides.push('--debug');
  }
  out.migrations = migrations;
  return { config: out, overrides };
}

/**
 * Finds and loads the knexfile like knex's CLI does, but strictly: a missing knexfile or an
 * unknown `--env` of a knexfile with environments is an error, never a silent fallback (a
 * knexfile without environments is used whatever `--env` says, as knex does). knex's flags
 * (`--client`, `--connection`, `--migrations-directory`…) override the knexfile; `--client` or
 * `--connection` without a knexfile make the config alone. Changes the working directory to the
 * knexfile's folder, as knex does, so relative migration folders resolve the same.
 */
export async function loadKnexfile(flags: KnexfileFlags): Promise<LoadedKnexfile> {
  if (flags.cwd) {
    const cwd = path.resolve(flags.cwd);
    if (!existsSync(cwd)) throw new ConfigError(`--cwd ${flags.cwd}: no such directory.`);
    process.chdir(cwd);
  }
  const knexpath = flags.knexpath ? path.resolve(flags.knexpath) : null;
  let file: string | null;
  if (flags.knexfile) {
    file = path.resolve(flags.knexfile);
    if (!existsSync(file)) {
      throw new ConfigError(`--knexfile ${flags.knexfile}: no such file (looked for ${file}).`, { details: { knexfile: file } });
    }
  } else {
    file = findUp(process.cwd());
    if (!file && !flags.client && !flags.connection) {
      throw new ConfigError(
        `No knexfile found in ${process.cwd()} or its parents (looked for ${KNEXFILE_NAMES.join(', ')}). ` +
          'Pass one with --knexfile path/to/knexfile.js, run from the project folder, or give the database with --client pg --connection URL.',
      );
    }
  }
  if (!file) {
    // knex's CLI without a knexfile: the config is made of the flags (PostgreSQL unless --client says otherwise).
    const { config, overrides } = applyKnexFlags({ client: 'pg' }, flags);
    if (hasTypeScriptMigrations(config)) await registerTypeScript();
    return { path: null, environment: null, config, overrides, knexFactory: await knexFactoryFor(path.join(process.cwd(), 'noop.js'), knexpath) };
  }
  if (TS_EXTENSIONS.has(path.extname(file))) await registerTypeScript();

  let exported: unknown;
  try {
    const module = (await import(pathToFileURL(file).href)) as { default?: unknown };
    exported = module.default ?? module;
    // A CommonJS knexfile imported from ESM may arrive as { default: { default: … } } through tsx.
    if (exported && typeof exported === 'object' && 'default' in exported && !('client' in exported)) {
      exported = (exported).default;
    }
    if (typeof exported === 'function') exported = await (exported as () => unknown)();
  } catch (error) {
    throw new ConfigError(`The knexfile ${file} failed to load: ${(error as Error).message}`, { cause: error, details: { knexfile: file } });
  }
  if (!exported || typeof exported !== 'object') {
    throw new ConfigError(`The knexfile ${file} must export a configuration object; it exported ${typeof exported}.`);
  }

  const all = exported as Record<string, unknown>;
  const requested = flags.env ?? process.env.NODE_ENV ?? 'development';
  let environment: string | null = null;
  let config: Knex.Config;
  if (isConfigObject(all[requested])) {
    environment = requested;
    config = all[requested] as Knex.Config;
  } else if ('client' in all || 'connection' in all) {
    // A knexfile without environments: knex's CLI uses it whatever --env or NODE_ENV say.
    config = all as Knex.Config;
  } else {
    const environments = Object.keys(all).filter((k) => isConfigObject(all[k]));
    throw new ConfigError(
      `The knexfile ${file} has no ${JSON.stringify(requested)} environment` +
        (environments.length > 0 ? ` (it has: ${environments.join(', ')}).` : '.') +
        ' Choose one with --env NAME or NODE_ENV.',
      { details: { knexfile: file, environment: requested } },
    );
  }
  const applied = applyKnexFlags(config, flags);

  process.chdir(path.dirname(file));
  const knexFactory = await knexFactoryFor(file, knexpath);
  if (hasTypeScriptMigrations(applied.config)) await registerTypeScript();
  return { path: file, environment, config: applied.config, overrides: applied.overrides, knexFactory };
}

/** The knex module: `--knexpath`, else the project's (resolved from `from`), else knex-zd's own. */
async function knexFactoryFor(from: string, knexpath: string | null): Promise<LoadedKnexfile['knexFactory']> {
  const require = createRequire(from);
  if (knexpath) {
    try {
      return require(knexpath) as LoadedKnexfile['knexFactory'];
    } catch (error) {
      throw new ConfigError(`--knexpath ${knexpath}: knex cannot be loaded from there (${(error as Error).message.split('\n')[0]}).`, { cause: error });
    }
  }
  try {
    return require(require.resolve('knex')) as LoadedKnexfile['knexFactory'];
  } catch {
    return ((await import('knex')) as unknown as { default: LoadedKnexfile['knexFactory'] }).default;
  }
}

function isConfigObject(value: unknown): boolean {
  return typeof value === 'object' && value !== null && 'client' in value;
}
