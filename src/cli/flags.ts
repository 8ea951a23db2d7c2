import { parseArgs, type ParseArgsConfig } from 'node:util';
import { DURATION_PATTERN, parseDuration } from '../duration.js';
import { ConfigError } from '../errors.js';

/** Option definitions in node's `parseArgs` form. */
export type FlagSpec = NonNullable<ParseArgsConfig['options']>;

/** Flags every project command takes: knex's CLI's global flags (node_modules/knex/bin/cli.js). */
export const PROJECT_FLAGS: FlagSpec = {
  knexfile: { type: 'string' },
  cwd: { type: 'string' },
  env: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  client: { type: 'string' },
  connection: { type: 'string' },
  'migrations-directory': { type: 'string' },
  'migrations-table-name': { type: 'string' },
  debug: { type: 'boolean' },
  knexpath: { type: 'string' },
  // Accepted as knex's CLI accepts them everywhere; they change nothing in knex-zd's commands.
  esm: { type: 'boolean' },
  specific: { type: 'string' },
  'timestamp-filename-prefix': { type: 'boolean' },
};

/** knex's flags of the commands that apply or revert migrations (migrate:latest, :rollback, :up, :down). */
export const KNEX_MIGRATE_FLAGS: FlagSpec = {
  'disable-transactions': { type: 'boolean' },
  verbose: { type: 'boolean' },
};

/** The help of {@link PROJECT_FLAGS} and {@link KNEX_MIGRATE_FLAGS}, shown under every command's own. */
export const KNEX_FLAGS_HELP = `knex's flags, as knex's CLI takes them:
  --knexfile PATH               the knexfile (default: knexfile.js, .cjs, .mjs, .ts… in the folder or a parent)
  --cwd DIR                     the folder to run in (a relative --knexfile is relative to it)
  --env NAME                    the knexfile's environment (default: NODE_ENV, else development); an unknown
                                one is an error, but a knexfile without environments is used whatever NAME is
  --client NAME                 overrides the knexfile's client (knex-zd needs pg)
  --connection URL              overrides the knexfile's connection; --client or --connection without a
                                knexfile make the whole config (client pg unless --client says otherwise)
  --migrations-directory DIR    overrides migrations.directory
  --migrations-table-name NAME  overrides migrations.tableName
  --debug                       knex's debug option: every query is logged
  --knexpath PATH               the knex module to load (default: the project's own)
  --disable-transactions        migrate:latest, :rollback, :up, :down: migrations.disableTransactions (no
                                transaction around each migration; the checks and the plan know it)
  --verbose                     migrate:latest, :rollback, :up, :down: accepted, ignored (the migrations
                                run are always listed)
  --esm, --specific FILE, --timestamp-filename-prefix
                                accepted, ignored: ESM loads without --esm; the others are knex's seed flags`;

/** Flags that override `zeroDowntime.timeouts` for one run. */
export const TIMEOUT_FLAGS: FlagSpec = {
  'lock-timeout': { type: 'string' },
  'statement-timeout': { type: 'string' },
  retries: { type: 'string' },
};

/** Flags of `--quorum`. */
export const QUORUM_FLAGS: FlagSpec = {
  quorum: { type: 'string' },
  'quorum-timeout': { type: 'string' },
  'quorum-backend': { type: 'string' },
  'quorum-url': { type: 'string' },
};

/** Parsed flags: strings and booleans by name, plus positionals. */
export interface ParsedFlags {
  readonly values: Readonly<Record<string, string | boolean | undefined>>;
  readonly positionals: readonly string[];
}

/** Parses a command's arguments strictly: an unknown flag is an error that names it. */
export function parseFlags(command: string, args: readonly string[], spec: FlagSpec): ParsedFlags {
  try {
    const { values, positionals } = parseArgs({ args: [...args], options: spec, allowPositionals: true, strict: true });
    return { values: values as ParsedFlags['values'], positionals };
  } catch (error) {
    throw new ConfigError(`${command}: ${(error as Error).message}. Run knex-zd ${command} --help for its flags.`, { cause: error });
  }
}

/** A whole number flag, or undefined when absent. */
export function integerFlag(values: ParsedFlags['values'], name: string, min: number): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const n = typeof raw === 'string' && /^\d+$/.test(raw.trim()) ? Number(raw) : NaN;
  if (!Number.isInteger(n) || n < min) {
    throw new ConfigError(`--${name} must be a whole number of at least ${min}; got ${JSON.stringify(raw)}.`);
  }
  return n;
}

/** A string flag, or undefined when absent. */
export function stringFlag(values: ParsedFlags['values'], name: string): string | undefined {
  const raw = values[name];
  return typeof raw === 'string' ? raw : undefined;
}

/** The `zeroDowntime` overrides the timeout flags make. */
export function timeoutOverrides(values: ParsedFlags['values']): Record<string, unknown> {
  const timeouts: Record<string, unknown> = {};
  const lock = stringFlag(values, 'lock-timeout');
  const statement = stringFlag(values, 'statement-timeout');
  if (lock !== undefined) timeouts.lock = durationFlag('lock-timeout', lock);
  if (statement !== undefined) timeouts.statement = durationFlag('statement-timeout', statement);
  const retries = integerFlag(values, 'retries', 0);
  if (retries !== undefined) timeouts.retries = retries;
  return Object.keys(timeouts).length > 0 ? { timeouts } : {};
}

/**
 * A duration flag in milliseconds, or `false` for `off` / `0`. A bare number means seconds, as
 * `--quorum-timeout` does; units are allowed. Validated here, so that the error names the flag.
 */
export function durationFlag(name: string, raw: string): number | false {
  const value = raw.trim();
  if (value === 'off') return false;
  if (!DURATION_PATTERN.test(value)) {
    throw new ConfigError(`--${name} must be a duration such as 2s, 500ms, 15min or 1h (a bare number means seconds), or off; got ${JSON.stringify(raw)}.`);
  }
  const ms = parseDuration(value, `--${name}`, 's');
  return ms === 0 ? false : ms;
}
