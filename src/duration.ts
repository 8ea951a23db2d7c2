import { ConfigError } from './errors.js';

/** A duration: milliseconds as a number, or a string such as `'500ms'`, `'2s'`, `'15min'`, `'1h'`. */
export type Duration = number | string;

const UNITS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  sec: 1000,
  m: 60_000,
  min: 60_000,
  h: 3_600_000,
};

/**
 * Parses a duration into milliseconds.
 * @param option - the option's name, used in the error message.
 */
export function parseDuration(value: unknown, option: string): number {
  if (typeof value === 'number') {
    if (Number.isFinite(value) && value >= 0) return Math.round(value);
  } else if (typeof value === 'string') {
    const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|sec|m|min|h)?\s*$/.exec(value);
    if (match) return Math.round(Number(match[1]) * UNITS[match[2] ?? 'ms']);
  }
  throw new ConfigError(
    `${option} must be a duration such as 500 (milliseconds), '500ms', '2s', '15min' or '1h'; got ${JSON.stringify(value)}.`,
    { details: { option, value } },
  );
}

/** Formats milliseconds the way PostgreSQL's `lock_timeout` and `statement_timeout` accept them. */
export function toPostgresInterval(ms: number): string {
  return `${ms}ms`;
}
