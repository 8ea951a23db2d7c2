import type { Knex } from 'knex';
import type { Settings } from '../config.js';

/** What the runner knows about the migration it wraps. */
export interface RunContext {
  readonly name: string;
  readonly direction: 'up' | 'down';
  /** True when knex runs the migration inside a transaction. */
  readonly transaction: boolean;
  readonly settings: Settings;
}

/**
 * Wraps a migration so that its statements run with the configured timeouts and retries.
 * (Placeholder until the runner lands: returns the migration unchanged.)
 */
export function wrapMigration(migration: Knex.Migration, _context: RunContext): Knex.Migration {
  return migration;
}
