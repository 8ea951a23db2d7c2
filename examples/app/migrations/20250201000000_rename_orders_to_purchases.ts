// Release 1, pre-deploy: rename `orders` to `purchases`. A view named `orders` takes the old
// name's place, so the release-0 code still running reads and writes through it.
import type { Knex } from 'knex';
import { revertSaferRenameTablePart1, saferRenameTablePart1 } from 'knex-zero-downtime';

export const config = { stage: 'pre-deploy' };

export async function up(knex: Knex): Promise<void> {
  await saferRenameTablePart1(knex, 'orders', 'purchases');
}

export async function down(knex: Knex): Promise<void> {
  await revertSaferRenameTablePart1(knex, 'orders', 'purchases');
}
