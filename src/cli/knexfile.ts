import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Knex } from 'knex';
import { ConfigError } from '../errors.js';

/** Where the knexfile is and which environment to use: the same flags as knex's CLI. */
export interface KnexfileFlags {
  readonly knexfile?: string | undefined;
  readonly cwd?: string | undefined;
  readonly env?: string | undefined;
}

/** A loaded knexfile: the environment's config and the project's own knex module. */
export interface LoadedKnexfile {
  readonly path: string;
  readonly environment: string | null;
  readonly config: Knex.Config;
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
 * Finds and loads the knexfile like knex's CLI does, but strictly: a missing knexfile or
 * an unknown `--env` is an error, never a silent fallback. Changes the working directory
 * to the knexfile's folder, as knex does, so relative migration folders resolve the same.
 */
export async function loadKnexfile(flags: KnexfileFlags): Promise<LoadedKnexfile> {
  if (flags.cwd) {
    const cwd = path.resolve(flags.cwd);
    if (!existsSync(cwd)) throw new ConfigError(`--cwd ${flags.cwd}: no such directory.`);
    process.chdir(cwd);
  }
  let file: string | null;
  if (flags.knexfile) {
    file = path.resolve(flags.knexfile);
    if (!existsSync(file)) {
      throw new ConfigError(`--knexfile ${flags.knexfile}: no such file (looked for ${file}).`, { details: { knexfile: file } });
    }
  } else {
    file = findUp(process.cwd());
    if (!file) {
      throw new ConfigError(
        `No knexfile found in ${process.cwd()} or its parents (looked for ${KNEXFILE_NAMES.join(', ')}). ` +
          'Pass one with --knexfile path/to/knexfile.js, or run from the project folder.',
      );
    }
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
  } else if (flags.env !== undefined || !('client' in all)) {
    const environments = Object.keys(all).filter((k) => isConfigObject(all[k]));
    throw new ConfigError(
      `The knexfile ${file} has no ${JSON.stringify(requested)} environment` +
        (environments.length > 0 ? ` (it has: ${environments.join(', ')}).` : '.') +
        ' Choose one with --env NAME or NODE_ENV.',
      { details: { knexfile: file, environment: requested } },
    );
  } else {
    config = all as Knex.Config;
  }

  process.chdir(path.dirname(file));
  const require = createRequire(file);
  let knexFactory: LoadedKnexfile['knexFactory'];
  try {
    knexFactory = require(require.resolve('knex')) as LoadedKnexfile['knexFactory'];
  } catch {
    knexFactory = ((await import('knex')) as unknown as { default: LoadedKnexfile['knexFactory'] }).default;
  }
  if (hasTypeScriptMigrations(config)) await registerTypeScript();
  return { path: file, environment, config, knexFactory };
}

function isConfigObject(value: unknown): boolean {
  return typeof value === 'object' && value !== null && 'client' in value;
}
