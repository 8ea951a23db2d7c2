// Release 2, pre-deploy: every purchase made before release 2 was in euros. Batched by primary
// key, each batch its own short transaction, resumable after a crash (only NULL rows are touched).
import type { Knex } from 'knex';
import { backfill } from 'knex-zero-downtime';

// Batches commit one by one, so the migration runs outside a transaction (knex-zd would do it by
// itself; plain knex needs to be told).
export const config = { stage: 'pre-deploy', transaction: false };

export async function up(knex: Knex): Promise<void> {
  await backfill(knex, 'purchases', { currency: 'EUR' }, { batchSize: 5_000, where: knex.raw('?? IS NULL', ['currency']) });
}

export async function down(): Promise<void> {
  // Nothing to undo: the column itself is dropped by the previous migration's down.
}
