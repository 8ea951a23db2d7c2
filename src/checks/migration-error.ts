import type { Check } from './types.js';

/** A migration file that fails to load, or whose function throws while it is analysed. */
export const migrationError: Check = {
  id: 'migration-error',
  description: 'every migration file loads and can be analysed',
  unsafe: false,
  run({ migrations }) {
    return migrations
      .filter((m) => m.error)
      .map((m) => ({
        code: this.id,
        severity: 'error' as const,
        migration: m.name,
        message: `${m.name}${m.file ? ` (${m.file})` : ''} could not be analysed: ${m.error!.message}`,
        hint:
          'Fix the error in the file. During analysis, writes are recorded and return no rows, while reads ' +
          '(SELECT, knex.schema.hasColumn…) run for real in a read-only transaction; code that needs rows returned by ' +
          'an INSERT … RETURNING cannot be analysed: move it into a separate data migration with an explicit config.stage.',
      }));
  },
};
