// Release 3, post-deploy (inferred: DROP COLUMN is post-deploy): no running code knows the column.
import type { Knex } from 'knex';
import { addNullableColumn, dropColumn } from 'knex-zero-downtime';

export async function up(knex: Knex): Promise<void> {
  await dropColumn(knex, 'customers', 'legacy_phone');
}

export async function down(knex: Knex): Promise<void> {
  // The data is gone; the shape comes back (nullable, since no code fills it any more).
  await addNullableColumn(knex, 'customers', 'legacy_phone', 'text');
}
