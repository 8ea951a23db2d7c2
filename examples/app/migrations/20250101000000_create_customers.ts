// Release 0 (the first deploy): customers. `legacy_phone` is the free-text phone field of the
// first version, dropped in release 3.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('customers', (t) => {
    t.increments('id');
    t.text('name').notNullable();
    t.text('email').notNullable().unique();
    t.text('legacy_phone').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('customers');
}
