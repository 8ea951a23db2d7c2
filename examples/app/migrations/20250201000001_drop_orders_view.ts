// Release 1, post-deploy: once only release-1 code runs, drop the `orders` view.
import type { Knex } from 'knex';
import { revertSaferRenameTablePart2, saferRenameTablePart2 } from 'knex-zero-downtime';

export const config = { stage: 'post-deploy' };

export async function up(knex: Knex): Promise<void> {
  await saferRenameTablePart2(knex, 'orders', 'purchases');
}

export async function down(knex: Knex): Promise<void> {
  await revertSaferRenameTablePart2(knex, 'orders', 'purchases');
}
