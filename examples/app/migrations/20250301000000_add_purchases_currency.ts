// Release 2, pre-deploy (inferred: a nullable ADD COLUMN and a SET DEFAULT are both pre-deploy):
// purchases get a currency. The default covers the rows that release-1 code inserts during the
// roll-out; existing rows stay NULL until the backfill, so the ALTER is catalog-only.
import type { Knex } from 'knex';
import { addNullableColumn, dropColumn } from 'knex-zero-downtime';

export async function up(knex: Knex): Promise<void> {
  await addNullableColumn(knex, 'purchases', 'currency', 'char(3)');
  await knex.raw(`ALTER TABLE ?? ALTER COLUMN ?? SET DEFAULT 'EUR'`, ['purchases', 'currency']);
}

export async function down(knex: Knex): Promise<void> {
  await dropColumn(knex, 'purchases', 'currency');
}
