// Release 2, post-deploy: once every writer sets a currency, make it NOT NULL without a long
// ACCESS EXCLUSIVE scan (CHECK … NOT VALID, VALIDATE, SET NOT NULL, drop the CHECK).
import type { Knex } from 'knex';
import { dropNotNull, setNotNull } from 'knex-zero-downtime';

export const config = { stage: 'post-deploy' };

export async function up(knex: Knex): Promise<void> {
  await setNotNull(knex, 'purchases', 'currency');
}

export async function down(knex: Knex): Promise<void> {
  await dropNotNull(knex, 'purchases', 'currency');
}
