import test from 'ava';
import { analyzeSqlSync, loadParser } from '../../../src/analysis/classify/index.js';
import type { Finding } from '../../../src/analysis/types.js';

test.before(async () => {
  await loadParser();
});

function findingsOf(sql: string, newTables?: ReadonlySet<string>): Finding[] {
  return analyzeSqlSync(sql, newTables ? { newTables } : {}).flatMap((analysis) => [...analysis.findings]);
}

function only(sql: string, code: string): Finding {
  const findings = findingsOf(sql);
  const codes = findings.map((finding) => finding.code);
  if (codes.length !== 1 || codes[0] !== code) throw new Error(`expected only ${code}, got ${JSON.stringify(codes)}`);
  return findings[0];
}

test('create-index-blocking: hint writes addIndexConcurrently with the statement names', (t) => {
  const finding = only('CREATE INDEX ON orders (customer_id)', 'create-index-blocking');
  t.is(finding.severity, 'error');
  t.is(finding.hint, "await addIndexConcurrently(knex, 'orders', ['customer_id']);");
  t.is(
    finding.message,
    'Adding an index non-concurrently blocks writes to "orders" for as long as the build takes (CREATE INDEX holds a SHARE lock on the table).',
  );
});

test('create-index-blocking: knex form keeps the index name', (t) => {
  const finding = only('create index "users_email_index" on "users" ("email")', 'create-index-blocking');
  t.is(finding.hint, "await addIndexConcurrently(knex, 'users', ['email'], { name: 'users_email_index' });");
});

test('create-index-blocking: unique, partial, schema-qualified, expression columns', (t) => {
  const finding = only(
    'CREATE UNIQUE INDEX orders_ref_idx ON app.orders (lower(reference), "placedAt" DESC) WHERE deleted_at IS NULL',
    'create-index-blocking',
  );
  t.is(
    finding.hint,
    `await addIndexConcurrently(knex, 'orders', ['lower(reference)', '"placedAt" DESC'], { name: 'orders_ref_idx', unique: true, where: 'deleted_at IS NULL', schema: 'app' });`,
  );
});

test('create-index-blocking: not reported for CONCURRENTLY', (t) => {
  t.deepEqual(findingsOf('CREATE INDEX CONCURRENTLY i ON orders (customer_id)'), []);
});

test('drop-index-blocking: a warning, hint writes dropIndexConcurrently', (t) => {
  const finding = only('DROP INDEX app.orders_customer_id_index', 'drop-index-blocking');
  t.is(finding.severity, 'warning');
  t.is(finding.hint, "await dropIndexConcurrently(knex, 'orders_customer_id_index', { schema: 'app' });");
  t.deepEqual(findingsOf('DROP INDEX CONCURRENTLY orders_customer_id_index'), []);
});

test('foreign-key-validating: hint writes addForeignKey with names and ON DELETE', (t) => {
  const finding = only(
    'alter table "orders" add constraint "orders_customer_id_foreign" foreign key ("customer_id") references "customers" ("id") on delete CASCADE',
    'foreign-key-validating',
  );
  t.is(finding.severity, 'error');
  t.is(
    finding.hint,
    "await addForeignKey(knex, 'orders', ['customer_id'], 'customers', ['id'], { name: 'orders_customer_id_foreign', onDelete: 'CASCADE' });",
  );
  t.regex(finding.message, /SHARE ROW EXCLUSIVE/);
});

test('foreign-key-validating: a referenced table in another schema stays qualified', (t) => {
  const finding = only('ALTER TABLE app.orders ADD FOREIGN KEY (customer_id) REFERENCES crm.customers (id)', 'foreign-key-validating');
  t.is(finding.hint, "await addForeignKey(knex, 'orders', ['customer_id'], 'crm.customers', ['id'], { schema: 'app' });");
});

test('foreign-key-validating: also for REFERENCES on an added column; not for NOT VALID', (t) => {
  const finding = only('ALTER TABLE orders ADD COLUMN customer_id int REFERENCES customers (id)', 'foreign-key-validating');
  t.is(finding.hint, "await addForeignKey(knex, 'orders', ['customer_id'], 'customers', ['id']);");
  t.deepEqual(findingsOf('ALTER TABLE orders ADD CONSTRAINT fk FOREIGN KEY (customer_id) REFERENCES customers (id) NOT VALID'), []);
});

test('check-constraint-validating: hint writes addCheckConstraint with the expression', (t) => {
  const finding = only('ALTER TABLE orders ADD CONSTRAINT total_positive CHECK (total > 0 AND note <> \'(x)\')', 'check-constraint-validating');
  t.is(finding.hint, "await addCheckConstraint(knex, 'orders', 'total_positive', 'total > 0 AND note <> \\'(x)\\'');");
  t.deepEqual(findingsOf('ALTER TABLE orders ADD CONSTRAINT total_positive CHECK (total > 0) NOT VALID'), []);
});

test('check-constraint-validating: knex check() form', (t) => {
  const finding = only('alter table "app"."users" add constraint n_pos check("n" > 0)', 'check-constraint-validating');
  t.is(finding.hint, `await addCheckConstraint(knex, 'users', 'n_pos', '"n" > 0', { schema: 'app' });`);
});

test('set-not-null-scan: hint writes setNotNull', (t) => {
  const finding = only('alter table "users" alter column "email" set not null', 'set-not-null-scan');
  t.is(finding.hint, "await setNotNull(knex, 'users', 'email');");
  t.is(
    finding.message,
    'Setting NOT NULL on "users"."email" blocks reads and writes (ACCESS EXCLUSIVE) while every row is checked; a validated CHECK (… IS NOT NULL) constraint lets PostgreSQL skip that scan.',
  );
});

test('unique-constraint-blocking: UNIQUE hint writes addUniqueConstraint', (t) => {
  const finding = only('alter table "users" add constraint "users_email_unique" unique ("email")', 'unique-constraint-blocking');
  t.is(finding.hint, "await addUniqueConstraint(knex, 'users', ['email'], { name: 'users_email_unique' });");
  t.deepEqual(findingsOf('ALTER TABLE users ADD CONSTRAINT users_email_unique UNIQUE USING INDEX users_email_idx'), []);
});

test('unique-constraint-blocking: PRIMARY KEY hint builds the index concurrently, then attaches it', (t) => {
  const finding = only('ALTER TABLE users ADD PRIMARY KEY (id)', 'unique-constraint-blocking');
  t.is(
    finding.hint,
    [
      "await addIndexConcurrently(knex, 'users', ['id'], { name: 'users_pkey', unique: true });",
      `await knex.raw('ALTER TABLE "users" ADD CONSTRAINT "users_pkey" PRIMARY KEY USING INDEX "users_pkey"');`,
    ].join('\n'),
  );
});

test('column-type-rewrite: hint adds a new column and backfills it', (t) => {
  const finding = only('alter table "users" alter column "age" type bigint using ("age"::bigint)', 'column-type-rewrite');
  t.true(finding.hint!.startsWith("await addNullableColumn(knex, 'users', 'age_new', 'bigint');\n"));
  t.true(finding.hint!.includes("await backfill(knex, 'users', { age_new: knex.ref('age') }, { batchSize: 10000 });"));
  t.regex(finding.message, /"users"\."age" to bigint rewrites the whole table/);
});

test('volatile-default: hint adds the column nullable, sets the default, backfills', (t) => {
  const finding = only('ALTER TABLE app.users ADD COLUMN token uuid NOT NULL DEFAULT gen_random_uuid()', 'volatile-default');
  t.is(
    finding.hint,
    [
      "await addNullableColumn(knex, 'users', 'token', 'uuid', { schema: 'app' });",
      `await knex.raw('ALTER TABLE "app"."users" ALTER COLUMN "token" SET DEFAULT gen_random_uuid()');`,
      "await backfill(knex, 'users', { token: knex.raw('gen_random_uuid()') }, { batchSize: 10000, schema: 'app' });",
    ].join('\n'),
  );
  t.regex(finding.message, /volatile default gen_random_uuid\(\)/);
});

test('volatile-default: serial columns and nextval', (t) => {
  const serial = only('ALTER TABLE orders ADD COLUMN seq bigserial', 'volatile-default');
  t.true(serial.hint!.startsWith("await addNullableColumn(knex, 'orders', 'seq', 'bigint');"));
  const nextval = only("ALTER TABLE orders ADD COLUMN seq bigint DEFAULT nextval('orders_seq'::regclass)", 'volatile-default');
  t.true(nextval.hint!.includes("SET DEFAULT nextval(\\'orders_seq\\'::regclass)"));
});

test('volatile-default: not reported for stable defaults such as now()', (t) => {
  t.deepEqual(findingsOf('ALTER TABLE orders ADD COLUMN created_at timestamptz NOT NULL DEFAULT now()'), []);
  t.deepEqual(findingsOf('ALTER TABLE orders ADD COLUMN created_at timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP'), []);
});

test('rename-table: hint writes both parts of saferRenameTable', (t) => {
  const finding = only('alter table "orders" rename to "purchases"', 'rename-table');
  t.is(
    finding.hint,
    [
      "await saferRenameTablePart1(knex, 'orders', 'purchases'); // pre-deploy",
      "await saferRenameTablePart2(knex, 'orders', 'purchases'); // post-deploy, in a later migration",
    ].join('\n'),
  );
});

test('rename-column: hint writes both parts of saferRenameColumn', (t) => {
  const finding = only('alter table "app"."orders" rename "total" to "amount"', 'rename-column');
  t.is(
    finding.hint,
    [
      "await saferRenameColumnPart1(knex, 'orders', 'total', 'amount', { schema: 'app' }); // pre-deploy",
      "await saferRenameColumnPart2(knex, 'orders', 'total', 'amount', { schema: 'app' }); // post-deploy, in a later migration",
    ].join('\n'),
  );
});

const TABLE_REWRITES: readonly string[] = [
  'ALTER TABLE orders SET TABLESPACE fast',
  'ALTER TABLE orders SET LOGGED',
  'VACUUM FULL orders',
  'CLUSTER orders USING orders_pkey',
  'ALTER TABLE orders ADD COLUMN total_cents bigint GENERATED ALWAYS AS (total * 100) STORED',
];

for (const sql of TABLE_REWRITES) {
  test(`table-rewrite: ${sql}`, (t) => {
    const finding = only(sql, 'table-rewrite');
    t.is(finding.severity, 'error');
    t.regex(finding.message, /rewrites orders and its indexes/);
    t.truthy(finding.hint);
  });
}

test('unclassified-statement and parse-error ids', (t) => {
  t.is(only('DO $$ BEGIN END $$', 'unclassified-statement').severity, 'warning');
  t.is(only('SELEC 1', 'parse-error').severity, 'error');
});

test('tables created earlier in the input are exempt from every unsafe finding', (t) => {
  const sql = [
    'create table "orders" ("id" serial primary key, "customer_id" integer, "email" varchar(255))',
    'alter table "orders" add constraint "orders_customer_id_foreign" foreign key ("customer_id") references "customers" ("id")',
    'alter table "orders" add constraint "orders_email_unique" unique ("email")',
    'create index "orders_customer_id_index" on "orders" ("customer_id")',
    'alter table "orders" alter column "email" set not null',
    'alter table "orders" add column "token" uuid default gen_random_uuid()',
    'alter table "orders" alter column "customer_id" type bigint',
    'alter table "orders" add constraint ck check ("customer_id" > 0)',
    'alter table "orders" rename column "email" to "mail"',
    'drop index "orders_customer_id_index"',
  ].join(';\n');
  t.deepEqual(findingsOf(sql), []);
});

test('options.newTables exempts the tables it lists, qualified or not', (t) => {
  t.deepEqual(findingsOf('CREATE INDEX i ON orders (customer_id)', new Set(['orders'])), []);
  t.deepEqual(findingsOf('ALTER TABLE app.orders ALTER COLUMN a SET NOT NULL', new Set(['app.orders'])), []);
  t.deepEqual(findingsOf('ALTER TABLE orders RENAME TO purchases', new Set(['orders'])), []);
  // Other tables are still checked.
  t.deepEqual(
    findingsOf('CREATE INDEX i ON customers (email)', new Set(['orders'])).map((finding) => finding.code),
    ['create-index-blocking'],
  );
});

test('a multi-action ALTER TABLE reports each unsafe action', (t) => {
  const codes = findingsOf('ALTER TABLE orders ADD COLUMN token uuid DEFAULT gen_random_uuid(), ALTER COLUMN note SET NOT NULL').map(
    (finding) => finding.code,
  );
  t.deepEqual(codes, ['volatile-default', 'set-not-null-scan']);
});
