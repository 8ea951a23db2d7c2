// Seed data for the release-0 schema: customers and their orders, generated in the database
// (one INSERT … SELECT each), so that tens of thousands of rows take a fraction of a second.
import type { Knex } from 'knex';

/** How many rows the seed writes. */
export interface ShopSize {
  readonly customers: number;
  readonly orders: number;
}

/** The size `knex seed:run` uses; the demo and the tests pass their own. */
export const DEFAULT_SIZE: ShopSize = { customers: 5_000, orders: 50_000 };

/** Fills an empty release-0 database with `size` customers and orders. */
export async function seedShop(knex: Knex, size: ShopSize = DEFAULT_SIZE): Promise<void> {
  await knex.raw(
    `INSERT INTO customers (name, email, legacy_phone)
     SELECT 'Customer ' || i, 'customer' || i || '@example.com', '+31 6 ' || lpad(i::text, 8, '0')
     FROM generate_series(1, ?::int) AS i`,
    [size.customers],
  );
  await knex.raw(
    `INSERT INTO orders (customer_id, amount_cents, status, created_at)
     SELECT 1 + (i % ?::int), 100 + (i * 7919) % 20000, (ARRAY['new', 'paid', 'shipped'])[1 + i % 3],
            now() - make_interval(mins => i)
     FROM generate_series(1, ?::int) AS i`,
    [size.customers, size.orders],
  );
  await knex.raw('ANALYZE customers, orders');
}

/** knex's seed entry point (`knex-zd seed:run`). */
export async function seed(knex: Knex): Promise<void> {
  const existing = await knex('customers').count<{ count: string }[]>({ count: '*' });
  if (Number(existing[0]?.count ?? 0) > 0) return;
  await seedShop(knex);
}
