import type { ZeroDowntimeOptions } from './config.js';
import type { Stage } from './stages.js';

/** The `config` a migration file may export: knex's own `transaction` plus knex-zero-downtime's keys. */
export interface MigrationConfig {
  /** When the migration may run; inferred from its SQL when absent. */
  stage?: Stage;
  /** knex's flag; when absent, knex-zd runs the migration outside a transaction only if a statement needs it. */
  transaction?: boolean;
  /**
   * Check ids this migration opts out of, each with the reason a human judged it safe here
   * (greppable: `allowUnsafe`), e.g. `{ 'create-index-blocking': 'lookup table of 40 rows, checked 2025-03-01' }`.
   */
  allowUnsafe?: Record<string, string>;
  /** `false`: this migration runs as written even when the knexfile sets `zeroDowntime.safeByDefault`. */
  safeByDefault?: boolean;
}

declare module 'knex' {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Knex {
    interface Config {
      /** knex-zero-downtime's settings (stages, timeouts, quorum, checks, hotUpgrade). */
      zeroDowntime?: ZeroDowntimeOptions;
    }
    interface Migration {
      /** Per-migration settings: stage, transaction, allowUnsafe. */
      config?: MigrationConfig;
    }
  }
}
