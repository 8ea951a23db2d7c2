import { createHash } from 'node:crypto';
import { ConfigError } from '../errors.js';

/** One migration of the plan that the deployers agree on. */
export interface QuorumPlanEntry {
  /** The migration's file name, as knex records it in `knex_migrations`. */
  readonly name: string;
  readonly direction: 'up' | 'down';
}

/** What identifies one deploy: deployers with a different plan, stage or database never join each other. */
export interface QuorumNamespaceInput {
  /** The stage-filtered pending migrations, in the order they will run. */
  readonly plan: readonly QuorumPlanEntry[];
  /** `'pre-deploy'` for `--pre-deploy`, `null` when every stage runs. */
  readonly stage: string | null;
  /** Identifies the target database, e.g. `'db.internal:5432/app'` (no password). */
  readonly database: string;
}

/**
 * A stable namespace for a deploy: a SHA-256 of the plan, the stage and the database, as 32 hex digits.
 * @example quorumNamespace({ plan: [{ name: '20250101_add_email.js', direction: 'up' }], stage: 'pre-deploy', database: 'db:5432/app' })
 */
export function quorumNamespace(input: QuorumNamespaceInput): string {
  if (!Array.isArray(input.plan)) throw new ConfigError('quorumNamespace: plan must be an array of { name, direction }.');
  const canonical = JSON.stringify({
    v: 1,
    database: input.database,
    stage: input.stage,
    // Order matters (it is the order of execution), so it is kept as is.
    plan: input.plan.map((entry) => [entry.name, entry.direction]),
  });
  return createHash('sha256').update(canonical).digest('hex').slice(0, 32);
}
