import { ConfigError } from '../../errors.js';
import type { ParsedFlags } from '../flags.js';

/** Output formats of `knex-zd check`. */
export const CHECK_FORMATS = ['text', 'json', 'sarif', 'github'] as const;
/** Output formats of `knex-zd migrate:plan`. */
export const PLAN_FORMATS = ['text', 'json', 'markdown'] as const;

/**
 * The `--format` of a command; `--json` stays an alias of `--format json`. An unknown format, or
 * `--json` with another format, is a usage error naming the formats.
 */
export function formatOf<T extends string>(command: string, values: ParsedFlags['values'], formats: readonly T[]): T {
  const raw = values.format;
  const json = values.json === true;
  if (raw === undefined) return (json ? 'json' : 'text') as T;
  if (typeof raw !== 'string' || !formats.includes(raw as T)) {
    throw new ConfigError(`${command}: --format must be one of ${formats.join(', ')}; got ${JSON.stringify(raw)}.`);
  }
  if (json && raw !== 'json') {
    throw new ConfigError(`${command}: --json is short for --format json, so it cannot be combined with --format ${raw}; give one of them.`);
  }
  return raw as T;
}
