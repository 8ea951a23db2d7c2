/** The shop's releases: which migration files each one adds, and what it changes. */
export interface Release {
  readonly number: number;
  readonly title: string;
  /** Migration files (in examples/app/migrations) that ship with this release. */
  readonly migrations: readonly string[];
}

/** Release 0 is the first deploy (the baseline); releases 1 to 3 are the zero-downtime changes. */
export const RELEASES: readonly Release[] = [
  {
    number: 0,
    title: 'first deploy: customers and orders',
    migrations: ['20250101000000_create_customers.ts', '20250101000001_create_orders.ts'],
  },
  {
    number: 1,
    title: 'rename the table orders to purchases',
    migrations: ['20250201000000_rename_orders_to_purchases.ts', '20250201000001_drop_orders_view.ts'],
  },
  {
    number: 2,
    title: 'add purchases.currency, backfill it, make it NOT NULL',
    migrations: [
      '20250301000000_add_purchases_currency.ts',
      '20250301000001_backfill_purchases_currency.ts',
      '20250301000002_purchases_currency_not_null.ts',
    ],
  },
  {
    number: 3,
    title: 'drop the column customers.legacy_phone',
    migrations: ['20250401000000_prepare_drop_legacy_phone.ts', '20250401000001_drop_legacy_phone.ts'],
  },
];
