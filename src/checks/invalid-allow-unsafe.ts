import type { CheckFinding } from '../analysis/migration-types.js';
import { jsString } from '../analysis/findings.js';
import type { Check } from './types.js';

const REASON_PLACEHOLDER = '<why it is safe here: table size, traffic, who checked and when>';

/**
 * `config.allowUnsafe` must map each check id to the reason a human judged it safe: an opt-out
 * without a reason (the former array form, an empty string) or for an id no check reports is an
 * error, with the corrected `config` written out. `knownIds` lists the ids a migration may opt
 * out of (the unsafe-operation findings of the check registry).
 */
export function invalidAllowUnsafeCheck(knownIds: () => readonly string[]): Check {
  return {
    id: 'invalid-allow-unsafe',
    description: "config.allowUnsafe maps each unsafe-operation check id to the reason it is safe here: { 'check-id': 'reason' }",
    unsafe: false,
    run({ migrations }) {
      const findings: CheckFinding[] = [];
      for (const m of migrations) {
        const value = m.declaredAllowUnsafe;
        if (value === undefined) continue;
        const known = knownIds();
        const problems: string[] = [];
        let entries: [string, unknown][];
        if (Array.isArray(value)) {
          problems.push(
            `config.allowUnsafe is an array (${JSON.stringify(value)}): each opt-out now needs the reason a human judged it safe, so the array form opts out of nothing`,
          );
          entries = value.filter((id): id is string => typeof id === 'string').map((id) => [id, undefined]);
        } else if (typeof value !== 'object' || value === null) {
          problems.push(`config.allowUnsafe must be an object of check id → reason; got ${value === null ? 'null' : typeof value}`);
          entries = [];
        } else {
          entries = Object.entries(value as Record<string, unknown>);
          for (const [id, reason] of entries) {
            if (typeof reason !== 'string' || reason.trim() === '') {
              problems.push(`the opt-out of ${JSON.stringify(id)} has no reason (${reason === undefined ? 'undefined' : JSON.stringify(reason)}), so it opts out of nothing`);
            }
          }
        }
        const unknown = entries.map(([id]) => id).filter((id) => !known.includes(id));
        if (unknown.length > 0) {
          problems.push(
            `${unknown.map((id) => JSON.stringify(id)).join(', ')} ${unknown.length === 1 ? 'is not the id' : 'are not ids'} of an unsafe-operation check; ` +
              `the ids are: ${known.join(', ')}`,
          );
        }
        if (problems.length === 0) continue;
        const corrected = entries
          .filter(([id]) => known.includes(id))
          .map(([id, reason]) => `${jsString(id)}: ${jsString(typeof reason === 'string' && reason.trim() !== '' ? reason : REASON_PLACEHOLDER)}`);
        findings.push({
          code: 'invalid-allow-unsafe',
          severity: 'error',
          migration: m.name,
          message: `${m.name}: ${problems.join('; ')}.`,
          hint:
            corrected.length > 0
              ? `export const config = { allowUnsafe: { ${corrected.join(', ')} } };`
              : `export const config = { allowUnsafe: { 'create-index-blocking': ${jsString(REASON_PLACEHOLDER)} } };`,
        });
      }
      return findings;
    },
  };
}
