import type { Knex } from 'knex';
import { MigrationError, ZeroDowntimeError, sqlStateOf } from '../errors.js';

const FAILED_FILE = /^migration file "(.+)" failed$/;
const FAILED_WITH = /^migration failed with error: /;

/** Names the migration that failed in a run, from what knex's Migrator tells its logger. */
export interface MigrationFailures {
  /** The error a command reports: a driver error of a migration becomes a `MigrationError` naming it. */
  explain(error: unknown): unknown;
}

/**
 * Takes knex's two warnings about a failed migration (`migration file "…" failed`, `migration
 * failed with error: …`) off its logger, so that the command reports the failure once, naming the
 * migration; every other warning goes through as before.
 */
export function captureMigrationFailures(knex: Knex): MigrationFailures {
  const logger = (knex.client as { logger?: { warn?: (message: unknown) => void } }).logger;
  let failed: string | null = null;
  if (logger && typeof logger.warn === 'function') {
    const warn = logger.warn.bind(logger);
    logger.warn = (message: unknown) => {
      if (typeof message === 'string') {
        const file = FAILED_FILE.exec(message);
        if (file) {
          failed = file[1];
          return;
        }
        if (FAILED_WITH.test(message)) return;
      }
      warn(message);
    };
  }
  return {
    explain(error) {
      if (failed === null || error instanceof ZeroDowntimeError) return error;
      const message = error instanceof Error ? error.message : String(error);
      return new MigrationError(`The migration ${failed} failed: ${message}`, {
        cause: error,
        details: { migration: failed, sqlState: sqlStateOf(error) ?? null },
      });
    },
  };
}
