import { DURATION_PATTERN, parseDuration } from '../duration.js';
import { ConfigError } from '../errors.js';
import { formatMigrationLockEvent } from '../migrator/lock-events.js';
import type { MigrationLockRunOptions } from '../migrator/staged-migrator.js';
import { stringFlag, type FlagSpec, type ParsedFlags } from './flags.js';
import { palette, type Output } from './output.js';

/** Flags of the migration lock, taken by every command that applies or reverts. */
export const LOCK_FLAGS: FlagSpec = {
  'no-wait': { type: 'boolean' },
  'lock-wait': { type: 'string' },
};

/** Help lines of {@link LOCK_FLAGS}. */
export const LOCK_FLAGS_HELP = `  --no-wait                  when another run holds the migration lock, exit 1 at once naming it
                             (default: wait for it, then apply what is still pending)
  --lock-wait DURATION       how long to wait for the migration lock, e.g. 10min (default 30min;
                             a bare number is seconds)`;

/** The lock options of one command: wait or not, how long, and its progress on stderr. */
export function lockRunOptions(values: ParsedFlags['values'], output: Output): MigrationLockRunOptions {
  const noWait = values['no-wait'] === true;
  const raw = stringFlag(values, 'lock-wait');
  if (noWait && raw !== undefined) {
    throw new ConfigError('--no-wait and --lock-wait contradict each other: --no-wait never waits for the migration lock. Pass one of them.');
  }
  if (raw !== undefined && !DURATION_PATTERN.test(raw)) {
    throw new ConfigError(`--lock-wait must be a duration such as 10min, 90s or 1h (a bare number means seconds); got ${JSON.stringify(raw)}.`);
  }
  const waitTimeoutMs = raw === undefined ? undefined : parseDuration(/^\s*\d+(\.\d+)?\s*$/.test(raw) ? `${raw.trim()}s` : raw, '--lock-wait');
  const c = palette(output.color);
  return {
    wait: !noWait && waitTimeoutMs !== 0,
    ...(waitTimeoutMs ? { waitTimeoutMs } : {}),
    command: `knex-zd ${process.argv.slice(2).join(' ')}`,
    onEvent: (event) => {
      const line = formatMigrationLockEvent(event);
      if (line === null) return;
      output.err(event.type === 'lost' ? c.red(line) : event.type === 'took-over' || event.type === 'knex-lock-repaired' ? c.yellow(line) : line);
    },
  };
}
