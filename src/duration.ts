import { ConfigError } from './errors.js';

/** A duration: milliseconds as a number, or a string such as `'500ms'`, `'2s'`, `'15min'`, `'1h'`. */
export type Duration = number | string;

/**
 * The longest duration accepted: INT_MAX milliseconds (about 24.8 days), PostgreSQL's maximum
 * for `lock_timeout` and `statement_timeout`, and Node's for a timer.
 */
export const MAX_DURATION_MS = 2_147_483_647;

const UNITS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  sec: 1000,
  m: 60_000,
  min: 60_000,
  h: 3_600_000,
};

/** The pattern of a duration string: a decimal number and an optional unit (milliseconds by default). */
export const DURATION_PATTERN = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|sec|m|min|h)?\s*$/;

/**
 * Parses a duration into whole milliseconds. A value above 0 but below 1 ms counts as 1 ms
 * (PostgreSQL would round it to 0, which turns a timeout off); other fractions round to the
 * nearest millisecond; a value above {@link MAX_DURATION_MS} is refused.
 * @param option - the option's name, used in the error message.
 * @param unit - the unit of a string without one (a number is always milliseconds).
 */
export function parseDuration(value: unknown, option: string, unit: 'ms' | 's' = 'ms'): number {
  let ms: number | undefined;
  if (typeof value === 'number') {
    if (Number.isFinite(value) && value >= 0) ms = value;
  } else if (typeof value === 'string') {
    const match = DURATION_PATTERN.exec(value);
    if (match) ms = Number(match[1]) * UNITS[match[2] ?? unit];
  }
  if (ms === undefined || !Number.isFinite(ms)) {
    throw new ConfigError(
      `${option} must be a duration such as 500 (milliseconds), '500ms', '2s', '15min' or '1h'; got ${JSON.stringify(value)}.`,
      { details: { option, value } },
    );
  }
  return boundedMilliseconds(ms, option, value);
}

/** Rounds `ms` as {@link parseDuration} does and refuses a value out of range, naming `option`. */
export function boundedMilliseconds(ms: number, option: string, value: unknown): number {
  const rounded = ms > 0 && ms < 1 ? 1 : Math.round(ms);
  if (rounded > MAX_DURATION_MS) {
    throw new ConfigError(
      `${option} must be at most ${MAX_DURATION_MS}ms (about 24.8 days, the longest timeout PostgreSQL and Node.js timers accept); got ${JSON.stringify(value)}.`,
      { details: { option, value } },
    );
  }
  return rounded;
}

/** Formats milliseconds the way PostgreSQL's `lock_timeout` and `statement_timeout` accept them. */
export function toPostgresInterval(ms: number): string {
  return `${ms}ms`;
}
