/**
 * The shop's data access code, one version per release: what each release's application
 * really sends to the database. During a deploy the previous version ("old") and this one
 * ("new") run side by side against the same schema.
 */
import type { Knex } from 'knex';

/** One request the application serves. */
export type Action = (knex: Knex, pick: (max: number) => number) => Promise<unknown>;

/** A version of the application code. */
export interface ShopCode {
  readonly release: number;
  /** What changed in the code, in a few words. */
  readonly summary: string;
  /** Requests with their share of the traffic (weights). */
  readonly actions: ReadonlyArray<{ readonly name: string; readonly weight: number; readonly run: Action }>;
}

/** The ids the seed created; requests pick among them. */
export interface ShopIds {
  customers: number;
  orders: number;
}

let signups = 0;
function uniqueEmail(): string {
  signups += 1;
  return `new-${process.pid}-${Date.now().toString(36)}-${signups}@example.com`;
}

interface Knows {
  /** The name of the orders table this code uses. */
  readonly ordersTable: 'orders' | 'purchases';
  /** Whether the code reads and writes `purchases.currency`. */
  readonly currency: boolean;
  /** Whether the code still writes `customers.legacy_phone`. */
  readonly legacyPhone: boolean;
}

function shopCode(release: number, summary: string, knows: Knows, ids: ShopIds): ShopCode {
  const orders = knows.ordersTable;
  const columns = ['o.id', 'o.amount_cents', 'o.status', 'o.created_at', ...(knows.currency ? ['o.currency'] : [])];
  return {
    release,
    summary,
    actions: [
      {
        name: 'browse orders',
        weight: 50,
        run: (knex, pick) =>
          knex({ o: orders })
            .join({ c: 'customers' }, 'c.id', 'o.customer_id')
            .where('o.customer_id', pick(ids.customers))
            .orderBy('o.created_at', 'desc')
            .limit(10)
            .select([...columns, 'c.name']),
      },
      {
        name: 'checkout',
        weight: 20,
        run: (knex, pick) =>
          knex(orders)
            .insert({
              customer_id: pick(ids.customers),
              amount_cents: 100 + pick(20_000),
              ...(knows.currency ? { currency: pick(2) === 1 ? 'EUR' : 'USD' } : {}),
            })
            .returning('id'),
      },
      {
        name: 'ship order',
        weight: 15,
        run: (knex, pick) => knex(orders).where('id', pick(ids.orders)).update({ status: 'shipped' }),
      },
      {
        name: 'sign up',
        weight: 5,
        run: (knex) =>
          knex('customers')
            .insert({ name: 'New customer', email: uniqueEmail(), ...(knows.legacyPhone ? { legacy_phone: '+31 6 00000000' } : {}) })
            .returning('id'),
      },
      {
        name: 'edit profile',
        weight: 10,
        run: (knex, pick) =>
          knex('customers')
            .where('id', pick(ids.customers))
            .update({ name: `Customer ${pick(1_000_000)}`, ...(knows.legacyPhone ? { legacy_phone: '+31 6 12345678' } : {}) }),
      },
    ],
  };
}

/** The application code of each release, 0 to 3. */
export function shopReleases(ids: ShopIds): readonly ShopCode[] {
  return [
    shopCode(0, 'orders; customers with legacy_phone', { ordersTable: 'orders', currency: false, legacyPhone: true }, ids),
    shopCode(1, 'uses purchases instead of orders', { ordersTable: 'purchases', currency: false, legacyPhone: true }, ids),
    shopCode(2, 'writes and reads purchases.currency', { ordersTable: 'purchases', currency: true, legacyPhone: true }, ids),
    shopCode(3, 'no longer writes customers.legacy_phone', { ordersTable: 'purchases', currency: true, legacyPhone: false }, ids),
  ];
}
