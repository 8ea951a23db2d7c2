import type { Settings } from '../config.js';
import { ConfigError } from '../errors.js';
import { didYouMean } from '../suggest.js';
import { checkRules, type CheckRule } from './index.js';

/** Keys of `zeroDowntime.checks` that are not finding ids: `unsafe` (every unsafe-operation check) and `smallTable`. */
export const CHECK_OPTION_KEYS: readonly string[] = Object.freeze(['unsafe', 'smallTable']);

/**
 * Throws a {@link ConfigError} when `zeroDowntime.checks` names an id that no check reports: a
 * misspelt id would otherwise silently leave the check at its default severity.
 */
export function assertKnownCheckIds(settings: Pick<Settings, 'checks'>, rules: readonly CheckRule[] = checkRules()): void {
  const ids = rules.map((r) => r.id);
  const known = new Set([...ids, ...CHECK_OPTION_KEYS]);
  for (const id of Object.keys(settings.checks)) {
    if (known.has(id)) continue;
    const hint = didYouMean(id, [...ids, ...CHECK_OPTION_KEYS]);
    throw new ConfigError(
      `zeroDowntime.checks[${JSON.stringify(id)}] names no check.${hint} ` +
        (hint ? 'The ids are listed in the README (Checks) and by knex-zd check --format sarif.' : `The ids are: ${ids.join(', ')}; and unsafe (every unsafe-operation check).`),
      { details: { option: `zeroDowntime.checks.${id}`, id } },
    );
  }
}
