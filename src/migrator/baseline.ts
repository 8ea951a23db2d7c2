import path from 'node:path';
import { ConfigError } from '../errors.js';
import { nearbyNames } from '../suggest.js';

/** A migration's name without its extension (`20240101_add_users.js` → `20240101_add_users`). */
function stem(name: string): string {
  const ext = path.extname(name);
  return ext ? name.slice(0, -ext.length) : name;
}

/**
 * The migrations exempt from the checks under `zeroDowntime.startAfter`: the named migration
 * and every one before it, in the order knex lists them (`names`). The name matches exactly, or
 * without its extension when that is unambiguous. A name that matches no migration is an error:
 * a typo must not silently exempt nothing (or, after a squash, everything).
 */
export function baselineNames(names: readonly string[], startAfter: string | null, where: string): ReadonlySet<string> {
  if (startAfter === null) return new Set();
  let index = names.indexOf(startAfter);
  if (index < 0) {
    const matches = names.flatMap((name, i) => (stem(name) === stem(startAfter) ? [i] : []));
    if (matches.length === 1) index = matches[0];
  }
  if (index < 0) {
    const near = nearbyNames(startAfter, names, 5);
    const hint = near.length > 0 ? ` Migrations with a similar name: ${near.join(', ')}.` : names.length > 0 ? ` The last migration is ${names.at(-1)}.` : ' There are no migrations.';
    throw new ConfigError(
      `zeroDowntime.startAfter is ${JSON.stringify(startAfter)}, which is not a migration in ${where}.${hint} ` +
        'Set it to the name of the last migration that was applied before adopting knex-zd.',
    );
  }
  return new Set(names.slice(0, index + 1));
}
