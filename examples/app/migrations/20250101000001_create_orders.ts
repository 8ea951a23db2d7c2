// Release 0: orders, renamed to `purchases` in release 1.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('orders', (t) => {
    t.increments('id');
    t.integer('customer_id').notNullable().references('id').inTable('customers');
    t.integer('amount_cents').notNullable();
    t.text('status').notNullable().defaultTo('new');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['customer_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('orders');
}
