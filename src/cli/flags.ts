import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ConfigError } from '../errors.js';

/** Option definitions in node's `parseArgs` form. */
export type FlagSpec = NonNullable<ParseArgsConfig['options']>;

/** Flags every project command takes, as knex's CLI does. */
export const PROJECT_FLAGS: FlagSpec = {
  knexfile: { type: 'string' },
  cwd: { type: 'string' },
  env: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

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
  if (lock !== undefined) timeouts.lock = lock === 'off' || lock === '0' ? false : durationFlag(lock);
  if (statement !== undefined) timeouts.statement = statement === 'off' || statement === '0' ? false : durationFlag(statement);
  const retries = integerFlag(values, 'retries', 0);
  if (retries !== undefined) timeouts.retries = retries;
  return Object.keys(timeouts).length > 0 ? { timeouts } : {};
}

/** A bare number in a duration flag means seconds, as `--quorum-timeout` does; units are allowed. */
function durationFlag(raw: string): string {
  return /^\d+(\.\d+)?$/.test(raw.trim()) ? `${raw.trim()}s` : raw;
}
