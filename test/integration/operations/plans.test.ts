import test from 'ava';
import type { Knex } from 'knex';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.js';
import {
  addCheckConstraint,
  addColumnWithDefault,
  addForeignKey,
  addIndexConcurrently,
  addNullableColumn,
  addUniqueConstraint,
  backfill,
  dropColumn,
  dropIndexConcurrently,
  dropNotNull,
  dropTable,
  prepareDropColumn,
  saferRenameColumnPart1,
  saferRenameTablePart1,
  setNotNull,
} from '../../../src/operations/index.js';
import { ConfigError, IdentifierError, UnsafeOperationError } from '../../../src/errors.js';
import { capturePlans, sqlOf } from './support.js';

async function withDb(fn: (db: TestDatabase) => Promise<void>): Promise<void> {
  const db = await createTestDatabase('zdops');
  try {
    await db.knex.raw(`CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id bigint, total int, note text NOT NULL DEFAULT '')`);
    await db.knex.raw('CREATE TABLE customers (id bigserial PRIMARY KEY, email text)');
    await fn(db);
  } finally {
    await db.drop();
  }
}

async function plan(fn: () => Promise<unknown>) {
  const plans = await capturePlans(fn);
  return plans.map((p) => ({ operation: p.operation, stage: p.stage, sql: sqlOf(p), transactions: p.steps.map((s) => s.transaction) }));
}

test('every operation plans its exact SQL, schema-qualified and quoted, without executing it', async (t) => {
  await withDb(async ({ knex }) => {
    const k: Knex = knex;
    t.deepEqual(await plan(() => addNullableColumn(k, 'orders', 'coupon', 'varchar(32)')), [
      { operation: 'addNullableColumn', stage: 'pre-deploy', sql: ['ALTER TABLE "public"."orders" ADD COLUMN "coupon" varchar(32)'], transactions: ['inherit'] },
    ]);
    t.deepEqual((await plan(() => addColumnWithDefault(k, 'orders', 'status', 'text', "it's new", { notNull: true })))[0].sql, [
      `ALTER TABLE "public"."orders" ADD COLUMN "status" text DEFAULT E'it''s new' NOT NULL`,
    ]);
    t.deepEqual((await plan(() => addColumnWithDefault(k, 'orders', 'created_at', 'timestamptz', k.raw('now()'))))[0].sql, [
      'ALTER TABLE "public"."orders" ADD COLUMN "created_at" timestamptz DEFAULT (now())',
    ]);
    t.deepEqual(await plan(() => addIndexConcurrently(k, 'orders', ['customer_id', 'total'], { where: 'total > 0' })), [
      {
        operation: 'addIndexConcurrently',
        stage: 'pre-deploy',
        sql: ['CREATE INDEX CONCURRENTLY "orders_customer_id_total_index" ON "public"."orders" ("customer_id", "total") WHERE (total > 0)'],
        transactions: ['none'],
      },
    ]);
    t.deepEqual((await plan(() => addIndexConcurrently(k, 'customers', 'email', { unique: true, using: 'btree', name: 'customers_email' })))[0].sql, [
      'CREATE UNIQUE INDEX CONCURRENTLY "customers_email" ON "public"."customers" USING "btree" ("email")',
    ]);
    t.deepEqual(await plan(() => addUniqueConstraint(k, 'customers', ['email'])), [
      {
        operation: 'addUniqueConstraint',
        stage: 'post-deploy',
        sql: [
          'CREATE UNIQUE INDEX CONCURRENTLY "customers_email_unique" ON "public"."customers" ("email")',
          'ALTER TABLE "public"."customers" ADD CONSTRAINT "customers_email_unique" UNIQUE USING INDEX "customers_email_unique"',
        ],
        transactions: ['none', 'inherit'],
      },
    ]);
    t.deepEqual(await plan(() => addCheckConstraint(k, 'orders', 'orders_total_positive', 'total >= 0')), [
      {
        operation: 'addCheckConstraint',
        stage: 'post-deploy',
        sql: [
          'ALTER TABLE "public"."orders" ADD CONSTRAINT "orders_total_positive" CHECK (total >= 0) NOT VALID',
          'ALTER TABLE "public"."orders" VALIDATE CONSTRAINT "orders_total_positive"',
        ],
        transactions: ['inherit', 'own'],
      },
    ]);
    t.deepEqual((await plan(() => addForeignKey(k, 'orders', ['customer_id'], 'customers', ['id'], { onDelete: 'cascade' })))[0].sql, [
      'ALTER TABLE "public"."orders" ADD CONSTRAINT "orders_customer_id_foreign" FOREIGN KEY ("customer_id") REFERENCES "public"."customers" ("id") ON DELETE CASCADE NOT VALID',
      'ALTER TABLE "public"."orders" VALIDATE CONSTRAINT "orders_customer_id_foreign"',
    ]);
    t.deepEqual(await plan(() => setNotNull(k, 'orders', 'total', { native: false })), [
      {
        operation: 'setNotNull',
        stage: 'post-deploy',
        sql: [
          'ALTER TABLE "public"."orders" ADD CONSTRAINT "orders_total_not_null" CHECK ("total" IS NOT NULL) NOT VALID',
          'ALTER TABLE "public"."orders" VALIDATE CONSTRAINT "orders_total_not_null"',
          'ALTER TABLE "public"."orders" ALTER COLUMN "total" SET NOT NULL',
          'ALTER TABLE "public"."orders" DROP CONSTRAINT "orders_total_not_null"',
        ],
        transactions: ['inherit', 'own', 'inherit', 'inherit'],
      },
    ]);
    t.deepEqual((await plan(() => setNotNull(k, 'orders', 'total', { native: true })))[0].sql, [
      'ALTER TABLE "public"."orders" ADD CONSTRAINT "orders_total_not_null" NOT NULL "total" NOT VALID',
      'ALTER TABLE "public"."orders" VALIDATE CONSTRAINT "orders_total_not_null"',
    ]);
    t.deepEqual(await plan(() => dropNotNull(k, 'orders', 'note')), [
      { operation: 'dropNotNull', stage: 'pre-deploy', sql: ['ALTER TABLE "public"."orders" ALTER COLUMN "note" DROP NOT NULL'], transactions: ['inherit'] },
    ]);
    t.deepEqual(await plan(() => prepareDropColumn(k, 'orders', 'note')), [{ operation: 'prepareDropColumn', stage: 'pre-deploy', sql: [], transactions: [] }]);
    t.deepEqual(await plan(() => dropColumn(k, 'orders', 'note')), [
      { operation: 'dropColumn', stage: 'post-deploy', sql: ['ALTER TABLE "public"."orders" DROP COLUMN "note"'], transactions: ['inherit'] },
    ]);
    t.deepEqual((await plan(() => dropTable(k, 'orders')))[0].sql, ['DROP TABLE "public"."orders"']);
    t.deepEqual(await plan(() => saferRenameTablePart1(k, 'orders', 'purchases')), [
      {
        operation: 'saferRenameTablePart1',
        stage: 'pre-deploy',
        sql: ['ALTER TABLE "public"."orders" RENAME TO "purchases";\nCREATE VIEW "public"."orders" AS SELECT * FROM "public"."purchases"'],
        transactions: ['inherit'],
      },
    ]);
    t.deepEqual(await plan(() => saferRenameColumnPart1(k, 'orders', 'total', 'amount')), [
      {
        operation: 'saferRenameColumnPart1',
        stage: 'pre-deploy',
        sql: [
          'ALTER TABLE "public"."orders" RENAME COLUMN "total" TO "amount";\nALTER TABLE "public"."orders" RENAME TO "orders_zd_renaming";\nCREATE VIEW "public"."orders" AS SELECT *, "amount" AS "total" FROM "public"."orders_zd_renaming"',
        ],
        transactions: ['inherit'],
      },
    ]);
    const [fill] = await capturePlans(() => backfill(k, 'orders', { total: 0, note: k.raw('?', ['x']) }, { where: 'total IS NULL', batchSize: 500 }));
    t.deepEqual(sqlOf(fill), [
      'WITH batch AS (SELECT "id" AS zd_key FROM "public"."orders" ORDER BY "id" LIMIT 500),\nupdated AS (UPDATE "public"."orders" AS zd_row SET "total" = 0, "note" = (\'x\') WHERE zd_row."id" = ANY (ARRAY(SELECT zd_key FROM batch)) AND (total IS NULL) AND ROW(zd_row."total", zd_row."note") IS DISTINCT FROM ROW(0, (\'x\')) RETURNING 1)\nSELECT (SELECT max(zd_key) FROM batch) AS last_key, (SELECT count(*) FROM batch) AS scanned, (SELECT count(*) FROM updated) AS updated',
      'WITH batch AS (SELECT "id" AS zd_key FROM "public"."orders" WHERE "id" > $1 ORDER BY "id" LIMIT 500),\nupdated AS (UPDATE "public"."orders" AS zd_row SET "total" = 0, "note" = (\'x\') WHERE zd_row."id" = ANY (ARRAY(SELECT zd_key FROM batch)) AND (total IS NULL) AND ROW(zd_row."total", zd_row."note") IS DISTINCT FROM ROW(0, (\'x\')) RETURNING 1)\nSELECT (SELECT max(zd_key) FROM batch) AS last_key, (SELECT count(*) FROM batch) AS scanned, (SELECT count(*) FROM updated) AS updated',
    ]);
    // Nothing ran: the catalog is unchanged.
    t.false(await k.schema.hasColumn('orders', 'coupon'));
    t.true(await k.schema.hasColumn('orders', 'note'));
  });
});

test('an explicit schema and the current_schema() are both honoured', async (t) => {
  await withDb(async ({ knex }) => {
    await knex.raw('CREATE SCHEMA "Sales"; CREATE TABLE "Sales"."Orders" (id serial PRIMARY KEY, v int)');
    t.deepEqual((await plan(() => addIndexConcurrently(knex, 'Orders', ['v'], { schema: 'Sales' })))[0].sql, [
      'CREATE INDEX CONCURRENTLY "Orders_v_index" ON "Sales"."Orders" ("v")',
    ]);
    await knex.transaction(async (trx) => {
      await trx.raw('SET LOCAL search_path TO "Sales"');
      t.deepEqual((await plan(() => addNullableColumn(trx, 'Orders', 'w', 'int')))[0].sql, ['ALTER TABLE "Sales"."Orders" ADD COLUMN "w" int']);
    });
  });
});

test('generated names stay within 63 bytes with a hash; user input cannot escape its place', async (t) => {
  await withDb(async ({ knex }) => {
    const long = 'a_really_long_column_name_that_goes_on_and_on';
    await knex.raw(`ALTER TABLE orders ADD COLUMN ${long} int, ADD COLUMN ${long}_2 int`);
    const [one] = await capturePlans(() => addIndexConcurrently(knex, 'orders', [long, `${long}_2`]));
    const name = /INDEX CONCURRENTLY "([^"]+)"/.exec(one.steps[0].sql)![1];
    t.is(Buffer.byteLength(name), 63);
    t.regex(name, /^orders_a_really_long_column_name_that_goes_on_and_on_a_[0-9a-f]{8}$/);
    await t.throwsAsync(addNullableColumn(knex, 'orders', 'x', 'int; DROP TABLE orders'), { instanceOf: ConfigError });
    await t.throwsAsync(addNullableColumn(knex, 'orders', 'x', 'int DEFAULT 1'), { instanceOf: ConfigError });
    await t.throwsAsync(addCheckConstraint(knex, 'orders', 'c', 'true) NOT VALID; DROP TABLE orders; --'), { instanceOf: ConfigError });
    await t.throwsAsync(addNullableColumn(knex, 'orders', 'x'.repeat(64), 'int'), { instanceOf: IdentifierError });
    const [weird] = await capturePlans(() => addNullableColumn(knex, 'orders', 'we"ird', 'text'));
    t.deepEqual(sqlOf(weird), ['ALTER TABLE "public"."orders" ADD COLUMN "we""ird" text']);
  });
});

test('a volatile default is refused with the safe sequence written out', async (t) => {
  await withDb(async ({ knex }) => {
    const error = await t.throwsAsync(addColumnWithDefault(knex, 'orders', 'token', 'uuid', knex.raw('gen_random_uuid()')), { instanceOf: UnsafeOperationError });
    t.regex(error.message, /would rewrite the whole table under an ACCESS EXCLUSIVE lock/);
    t.regex(error.message, /await addNullableColumn\(knex, "orders", "token", "uuid"\);/);
    t.regex(error.message, /await backfill\(knex, "orders"/);
    t.false(await knex.schema.hasColumn('orders', 'token'));
  });
});

test('dropIndexConcurrently and the second run of every operation are no-ops once done', async (t) => {
  await withDb(async ({ knex }) => {
    await knex.raw("INSERT INTO customers (email) VALUES ('a@x'), ('b@x')");
    await knex.raw('INSERT INTO orders (customer_id, total) VALUES (1, 5), (2, 7)');
    const runs = [
      () => addNullableColumn(knex, 'orders', 'coupon', 'text'),
      () => addColumnWithDefault(knex, 'orders', 'status', 'text', 'new'),
      () => addIndexConcurrently(knex, 'orders', ['customer_id']),
      () => addUniqueConstraint(knex, 'customers', ['email']),
      () => addCheckConstraint(knex, 'orders', 'orders_total_positive', 'total >= 0'),
      () => addForeignKey(knex, 'orders', ['customer_id'], 'customers', ['id']),
      () => setNotNull(knex, 'orders', 'total'),
      () => dropNotNull(knex, 'orders', 'note'),
    ];
    for (const run of runs) {
      const first = await run();
      const second = await run();
      t.is(second.steps.length, 0, `${first.operation} is a no-op the second time`);
    }
    // A backfill always plans its batches; run again, it scans but writes nothing.
    const updated: number[] = [];
    for (let i = 0; i < 2; i++) await backfill(knex, 'orders', { coupon: 'none' }, { onProgress: (p) => updated.push(p.updated) });
    t.deepEqual(updated, [2, 0]);
    await dropColumn(knex, 'orders', 'coupon');
    const dropped = await dropIndexConcurrently(knex, 'orders_customer_id_index');
    t.deepEqual(sqlOf(dropped), ['DROP INDEX CONCURRENTLY "public"."orders_customer_id_index"']);
    t.is((await dropIndexConcurrently(knex, 'orders_customer_id_index')).steps.length, 0);
    await knex.raw('CREATE TABLE scratch (id int)');
    t.is((await dropTable(knex, 'scratch')).steps.length, 1);
    t.is((await dropTable(knex, 'scratch')).steps.length, 0);
    await t.throwsAsync(dropTable(knex, 'customers'), { message: /referenced by foreign keys of public\.orders/ });
  });
});
