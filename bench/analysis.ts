/**
 * Micro-benchmark of statement classification: statements per second, one statement per
 * call (as migration capture does) and many statements in one input.
 * Run: node --import tsx bench/analysis.ts [statements] (or as the `analysis` section of npm run bench)
 */
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { analyzeSqlSync, loadParser } from '../src/analysis/classify/index.js';

const SAMPLE: readonly string[] = [
  'create table "orders" ("id" serial primary key, "customer_id" integer not null, "email" varchar(255), "created_at" timestamptz not null default CURRENT_TIMESTAMP)',
  'alter table "orders" add constraint "orders_customer_id_foreign" foreign key ("customer_id") references "customers" ("id") on delete CASCADE',
  'create index "orders_customer_id_index" on "orders" ("customer_id")',
  'alter table "users" add column "email" varchar(255) null',
  'alter table "users" alter column "x" type integer using ("x"::integer)',
  'alter table "users" alter column "y" set not null',
  'alter table "users" rename "a" to "b"',
  'drop index "users_email_index"',
  'CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS i ON app.t (lower(a)) WHERE deleted_at IS NULL',
  "ALTER TABLE t ADD COLUMN c uuid NOT NULL DEFAULT gen_random_uuid(), ADD CONSTRAINT ck CHECK (c IS NOT NULL) NOT VALID",
  'UPDATE "orders" SET "amount" = "total" WHERE "id" BETWEEN 1 AND 10000 AND "amount" IS NULL',
  "SET LOCAL lock_timeout = '2s'",
];

/** Classifies `statements` statements one per call and in one input; rows for the bench report. */
export async function benchAnalysis({ statements: total = 5_000 }: { statements?: number } = {}): Promise<Array<Record<string, string | number>>> {
  const statements = Array.from({ length: total }, (_, index) => SAMPLE[index % SAMPLE.length]);

  let started = performance.now();
  await loadParser();
  const loadMs = performance.now() - started;

  // Warm up the JIT so the numbers describe steady state.
  for (const sql of SAMPLE) analyzeSqlSync(sql);

  started = performance.now();
  let count = 0;
  for (const sql of statements) count += analyzeSqlSync(sql).length;
  const oneByOneMs = performance.now() - started;

  const batch = statements.join(';\n');
  started = performance.now();
  const batchCount = analyzeSqlSync(batch).length;
  const batchMs = performance.now() - started;

  const rate = (n: number, ms: number): number => Math.round((n / ms) * 1000);
  return [
    { measurement: 'parser load', statements: 0, ms: Math.round(loadMs), 'statements/s': '' },
    { measurement: 'one statement per call', statements: count, ms: Math.round(oneByOneMs), 'statements/s': rate(count, oneByOneMs) },
    { measurement: 'one input', statements: batchCount, ms: Math.round(batchMs), 'statements/s': rate(batchCount, batchMs) },
  ];
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const row of await benchAnalysis({ statements: Number(process.argv[2] ?? 5000) })) console.log(row);
}
