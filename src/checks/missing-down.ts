import type { Check } from './types.js';

/** A migration without a `down` function cannot be rolled back when a deploy goes wrong. */
export const missingDown: Check = {
  id: 'missing-down',
  description: 'every migration exports a down function',
  unsafe: false,
  run({ migrations }) {
    return migrations
      .filter((m) => m.direction === 'up' && !m.error && !m.hasDown)
      .map((m) => ({
        code: this.id,
        severity: 'error' as const,
        migration: m.name,
        message: `${m.name} has no down function, so a deploy that goes wrong cannot roll it back.`,
        hint:
          'export async function down(knex) {\n  // undo what up did, e.g. await knex.schema.dropTable(...)\n}\n' +
          "If it truly cannot be undone, say so: export async function down() { throw new Error('irreversible'); }",
      }));
  },
};
