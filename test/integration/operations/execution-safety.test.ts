import test from 'ava';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.js';
import {
  addCheckConstraint,
  addColumnWithDefault,
  addForeignKey,
  addIndexConcurrently,
  addNullableColumn,
  addUniqueConstraint,
  backfill,
  dropTable,
  revertSaferRenameTablePart1,
  saferRenameColumnPart1,
  saferRenameColumnPart2,
  saferRenameTablePart2,
  setNotNull,
} from '../../../src/operations/index.js';
import { ConfigError, MigrationError } from '../../../src/errors.js';
import { capturePlans, sqlOf } from './support.js';

/** Runs SQL through the driver alone (simple query protocol: the text as written). */
async function sql<T = Record<string, unknown>>(db: TestDatabase, text: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    const result = (await client.query(text)) as unknown as pg.QueryResult | pg.QueryResult[];
    const last = Array.isArray(result) ? result[result.length - 1] : result;
    return last.rows as T[];
  } finally {
    await client.end();
  }
}

async function withDb(fn: (db: TestDatabase) => Promise<void>): Promise<void> {
  const db = await createTestDatabase('zdsafe');
  try {
    await fn(db);
  } finally {
    await db.drop();
  }
}

test('dropTable(knex, "keep\\\\?me") drops that table and keeps "keep?me" with its rows', async (t) => {
  await withDb(async (db) => {
    await sql(db, `CREATE TABLE "keep?me" (id int); INSERT INTO "keep?me" VALUES (1), (2), (3); CREATE TABLE "keep\\?me" (id int)`);
    const [planned] = await capturePlans(() => dropTable(db.knex, 'keep\\?me'));
    t.deepEqual(sqlOf(planned), ['DROP TABLE "public"."keep\\?me"']);
    const ran = await dropTable(db.knex, 'keep\\?me');
    t.deepEqual(sqlOf(ran), sqlOf(planned));
    t.deepEqual(await sql(db, `SELECT count(*)::int AS n FROM "keep?me"`), [{ n: 3 }]);
    t.deepEqual(await sql(db, `SELECT to_regclass('"keep\\?me"') AS r`), [{ r: null }]);
  });
});

test('backfill stores "^/search\\\\?q=" and "https://example.com/?utm=1" exactly; the JSONB ? operator works in where', async (t) => {
  await withDb(async (db) => {
    await sql(db, `CREATE TABLE links (id serial PRIMARY KEY, pattern text, url text, data jsonb);
      INSERT INTO links (data) VALUES ('{"k": 1}'), ('{"other": 1}'), ('{"k": 2}')`);
    await backfill(db.knex, 'links', { pattern: '^/search\\?q=', url: 'https://example.com/?utm=1' }, { where: `data ? 'k'`, batchSize: 1 });
    t.deepEqual(await sql(db, 'SELECT id, pattern, url FROM links ORDER BY id'), [
      { id: 1, pattern: '^/search\\?q=', url: 'https://example.com/?utm=1' },
      { id: 2, pattern: null, url: null },
      { id: 3, pattern: '^/search\\?q=', url: 'https://example.com/?utm=1' },
    ]);
    // The same through knex.raw values and a default: a ? in a literal is a character, never a binding.
    await addColumnWithDefault(db.knex, 'links', 'ref', 'text', 'https://example.com/?utm=1&x=\\?');
    await backfill(db.knex, 'links', { pattern: db.knex.raw(`'a?b' || '\\?'`) }, { where: db.knex.raw(`data \\? 'other'`) });
    // In knex.raw, \\? is knex's escape for ? (knex's meaning of a raw is kept); in a JavaScript value it is two characters.
    t.deepEqual(await sql(db, 'SELECT pattern, ref FROM links WHERE id = 2'), [{ pattern: 'a?b?', ref: 'https://example.com/?utm=1&x=\\?' }]);
    await addIndexConcurrently(db.knex, 'links', ['id'], { where: `data ? 'k'`, name: 'links_k' });
    t.deepEqual(await sql(db, `SELECT pg_get_indexdef('links_k'::regclass) AS d`), [{ d: "CREATE INDEX links_k ON public.links USING btree (id) WHERE (data ? 'k'::text)" }]);
  });
});

test('SQL parameters that are not exactly one type or one expression are refused before the database is touched', async (t) => {
  await withDb(async (db) => {
    await sql(db, 'CREATE TABLE t (id serial PRIMARY KEY, x int)');
    const k = db.knex;
    const refused = async (run: () => Promise<unknown>, message: string) => {
      const error = await t.throwsAsync(run(), { instanceOf: ConfigError });
      t.is(error.message, message);
    };
    await refused(() => addNullableColumn(k, 't', 'c', 'text --'), 'The type "text --" contains a comment ("--"): a SQL parameter must be exactly one type name, without comments.');
    await refused(() => addColumnWithDefault(k, 't', 'c', 'text --', 'x'), 'The type "text --" contains a comment ("--"): a SQL parameter must be exactly one type name, without comments.');
    await refused(() => addNullableColumn(k, 't', 'c', 'int;'), 'The type "int;" contains a semicolon: a SQL parameter must be exactly one type name, not several statements.');
    await refused(() => addNullableColumn(k, 't', 'c', 'int, d int'), 'The type "int, d int" must be exactly one SQL type name, not several, and without other clauses.');
    await refused(() => addNullableColumn(k, 't', 'c', 'int DEFAULT 1'), 'The type "int DEFAULT 1" is not valid SQL: syntax error at or near "1".');
    await refused(
      () => backfill(k, 't', { x: 1 }, { where: '"x" IS NULL) OR ("x" IS NULL' }),
      'The where "\\"x\\" IS NULL) OR (\\"x\\" IS NULL" is not valid SQL: syntax error at or near ")".',
    );
    await refused(() => backfill(k, 't', { x: 1 }, { where: 'x IS NULL /* and more */' }), 'The where "x IS NULL /* and more */" contains a comment ("/* and more */"): a SQL parameter must be exactly one expression, without comments.');
    await refused(() => backfill(k, 't', { x: 1 }, { where: 'x = $1' }), 'The where "x = $1" contains a parameter ($n): write the value itself, as a literal; $n belongs to the statement around it.');
    await refused(
      () => backfill(k, 't', { x: k.raw('(WITH d AS (DELETE FROM t RETURNING 1) SELECT 1)') }),
      'The backfill value of "x" "(WITH d AS (DELETE FROM t RETURNING 1) SELECT 1)" contains a statement that writes (INSERT, UPDATE, DELETE or MERGE); an expression may only read.',
    );
    await refused(() => addCheckConstraint(k, 't', 'c', 'true) NOT VALID; DROP TABLE t; --'), 'The check expression "true) NOT VALID; DROP TABLE t; --" contains a semicolon: a SQL parameter must be exactly one expression, not several statements.');
    await refused(() => addCheckConstraint(k, 't', 'c', 'x > 0 AS y'), 'The check expression "x > 0 AS y" must be exactly one SQL expression, not several, and without other clauses.');
    await refused(() => addIndexConcurrently(k, 't', [k.raw('x) WHERE (true')]), 'The index expression "x) WHERE (true" is not valid SQL: syntax error at or near ")".');
    await refused(() => addColumnWithDefault(k, 't', 'c', 'int', k.raw('1 FROM t')), 'The default "1 FROM t" must be exactly one SQL expression, not several, and without other clauses.');
    t.deepEqual(await sql(db, `SELECT count(*)::int AS n FROM pg_attribute WHERE attrelid = 't'::regclass AND attnum > 0`), [{ n: 2 }]);
  });
});

test('an expression runs as the parser renders it, in parentheses, so it cannot change the statement around it', async (t) => {
  await withDb(async (db) => {
    await sql(db, 'CREATE TABLE t (id serial PRIMARY KEY, x int, y int); INSERT INTO t (x, y) SELECT g, NULL FROM generate_series(1, 10) g');
    const [fill] = await capturePlans(() => backfill(db.knex, 't', { y: 0 }, { where: 'x = 1 OR x = 2' }));
    t.regex(sqlOf(fill)[0], / AND \(x = 1 OR x = 2\) AND ROW\(/);
    await backfill(db.knex, 't', { y: 0 }, { where: 'x = 1 OR x = 2' });
    t.deepEqual(await sql(db, 'SELECT count(*)::int AS n FROM t WHERE y = 0'), [{ n: 2 }]);
    const [column] = await capturePlans(() => addNullableColumn(db.knex, 't', 'v', 'character varying(255)'));
    t.deepEqual(sqlOf(column), ['ALTER TABLE "public"."t" ADD COLUMN "v" varchar(255)']);
    const [check] = await capturePlans(() => addCheckConstraint(db.knex, 't', 't_x', '("X_ignored" IS NULL) OR x>0'));
    t.is(sqlOf(check)[0], 'ALTER TABLE "public"."t" ADD CONSTRAINT "t_x" CHECK ("X_ignored" IS NULL OR x > 0) NOT VALID');
  });
});

test('setNotNull never validates or drops a user constraint that has its generated name', async (t) => {
  await withDb(async (db) => {
    await sql(db, 'CREATE TABLE acct (id serial PRIMARY KEY, balance int, CONSTRAINT acct_balance_not_null CHECK (balance >= 0)); INSERT INTO acct (balance) VALUES (1), (2)');
    const error = await t.throwsAsync(setNotNull(db.knex, 'acct', 'balance'), { instanceOf: MigrationError });
    t.is(
      error.message,
      'setNotNull: a constraint "acct_balance_not_null" already exists on "public"."acct" and is not the one setNotNull creates:\n' +
        '  found:    CHECK ((balance >= 0))\n' +
        '  expected: CHECK ("balance" IS NOT NULL)\n' +
        `knex-zd never drops or reuses an object it did not create. Pass another name for the temporary CHECK: setNotNull(knex, "acct", "balance", { name: '…' }).`,
    );
    await t.throwsAsync(sql(db, 'INSERT INTO acct (balance) VALUES (-1)'), { message: /violates check constraint "acct_balance_not_null"/ });
    // With another name it goes through, and the user's CHECK is still there afterwards.
    await setNotNull(db.knex, 'acct', 'balance', { name: 'acct_balance_nn' });
    t.deepEqual(await sql(db, `SELECT conname FROM pg_constraint WHERE conrelid = 'acct'::regclass AND contype = 'c' ORDER BY 1`), [{ conname: 'acct_balance_not_null' }]);
    t.deepEqual(await sql(db, `SELECT attnotnull FROM pg_attribute WHERE attrelid = 'acct'::regclass AND attname = 'balance'`), [{ attnotnull: true }]);
    await t.throwsAsync(sql(db, 'INSERT INTO acct (balance) VALUES (-1)'), { message: /violates check constraint "acct_balance_not_null"/ });
  });
});

test('a user index with the generated name but another definition is never dropped nor taken as done, valid or INVALID', async (t) => {
  await withDb(async (db) => {
    await sql(db, `CREATE TABLE t (id serial PRIMARY KEY, x int, y int); INSERT INTO t (x, y) VALUES (1, 1), (1, 2);
      CREATE INDEX t_x_index ON t (x) WHERE x > 0`);
    const valid = await t.throwsAsync(addIndexConcurrently(db.knex, 't', ['x']), { instanceOf: MigrationError });
    t.is(
      valid.message,
      'addIndexConcurrently: an index "t_x_index" already exists on "public"."t" and is not the one addIndexConcurrently creates:\n' +
        '  found:    CREATE INDEX t_x_index ON public.t USING btree (x) WHERE (x > 0)\n' +
        '  expected: CREATE INDEX "t_x_index" ON "public"."t" ("x")\n' +
        `knex-zd never drops or reuses an object it did not create. Choose another name with { name: '…' }, or drop or rename that index yourself if it is no longer wanted.`,
    );
    // An INVALID user index (a failed unique build) of the generated name of another index.
    await t.throwsAsync(sql(db, 'CREATE UNIQUE INDEX CONCURRENTLY t_y_unique ON t (x)'));
    t.deepEqual(await sql(db, `SELECT indisvalid FROM pg_index WHERE indexrelid = 't_y_unique'::regclass`), [{ indisvalid: false }]);
    const invalid = await t.throwsAsync(addIndexConcurrently(db.knex, 't', ['y'], { unique: true }), { instanceOf: MigrationError });
    t.regex(invalid.message, /^addIndexConcurrently: an INVALID index "t_y_unique" already exists on "public"\."t" and is not the one addIndexConcurrently creates:\n {2}found: {4}CREATE UNIQUE INDEX t_y_unique ON public\.t USING btree \(x\)\n/);
    const unique = await t.throwsAsync(addUniqueConstraint(db.knex, 't', ['y'], { name: 't_y_unique' }), { instanceOf: MigrationError });
    t.regex(unique.message, /an INVALID index "t_y_unique" already exists/);
    t.deepEqual(await sql(db, `SELECT indexrelid::regclass::text AS i FROM pg_index WHERE indrelid = 't'::regclass ORDER BY 1`), [
      { i: 't_pkey' },
      { i: 't_x_index' },
      { i: 't_y_unique' },
    ]);
    // The same definition is the operation's own: done when valid, rebuilt when INVALID.
    await sql(db, 'CREATE INDEX t_id_x_index ON t (id, x)');
    t.is((await addIndexConcurrently(db.knex, 't', ['id', 'x'])).steps.length, 0);
    await sql(db, 'CREATE INDEX t_partial ON t (x) WHERE y IN (1, 2) AND x BETWEEN 0 AND 5');
    t.is((await addIndexConcurrently(db.knex, 't', ['x'], { name: 't_partial', where: 'y IN (1, 2) AND x BETWEEN 0 AND 5' })).steps.length, 0);
  });
});

test('constraints and rename views of the generated names are checked against their definitions', async (t) => {
  await withDb(async (db) => {
    await sql(db, `CREATE TABLE c (id serial PRIMARY KEY, email text, code text);
      CREATE TABLE o (id serial PRIMARY KEY, c_id int, total int, CONSTRAINT o_c_id_foreign FOREIGN KEY (c_id) REFERENCES c (id) ON DELETE CASCADE,
        CONSTRAINT o_total CHECK (total > 0));
      ALTER TABLE c ADD CONSTRAINT c_email_unique UNIQUE (code)`);
    await t.throwsAsync(addUniqueConstraint(db.knex, 'c', ['email']), {
      message: /^addUniqueConstraint: a constraint "c_email_unique" already exists on "public"\."c" and is not the one addUniqueConstraint creates:\n {2}found: {4}UNIQUE \(code\)\n {2}expected: UNIQUE \("email"\)\n/,
    });
    await t.throwsAsync(addForeignKey(db.knex, 'o', ['c_id'], 'c', ['id']), { message: /^addForeignKey: a constraint "o_c_id_foreign" already exists .*\n {2}found: {4}FOREIGN KEY \(c_id\) REFERENCES c\(id\) ON DELETE CASCADE\n/ });
    t.is((await addForeignKey(db.knex, 'o', ['c_id'], 'c', ['id'], { onDelete: 'CASCADE' })).steps.length, 0);
    await t.throwsAsync(addCheckConstraint(db.knex, 'o', 'o_total', 'total >= 0'), { message: /^addCheckConstraint: a constraint "o_total" already exists .*\n {2}found: {4}CHECK \(\(total > 0\)\)\n {2}expected: CHECK \(total >= 0\)\n/ });
    t.is((await addCheckConstraint(db.knex, 'o', 'o_total', '"total" > 0')).steps.length, 0);

    // A view named like a rename's compatibility view, over the right table, that is not one.
    await sql(db, 'CREATE TABLE purchases (id int); CREATE VIEW orders AS SELECT id, 1 AS one FROM purchases');
    const part2 = await t.throwsAsync(saferRenameTablePart2(db.knex, 'orders', 'purchases'), { instanceOf: MigrationError });
    t.is(
      part2.message,
      'saferRenameTablePart2: the view "public"."orders" is not the view of saferRenameTablePart1 (SELECT * FROM "public"."purchases"):\n' +
        '  found: SELECT purchases.id, 1 AS one FROM purchases;\n' +
        'knex-zd never drops or reuses an object it did not create; drop or rename that view yourself if it is no longer wanted.',
    );
    await t.throwsAsync(revertSaferRenameTablePart1(db.knex, 'orders', 'purchases'), { instanceOf: MigrationError, message: /is not the view of saferRenameTablePart1/ });
    await sql(db, 'CREATE TABLE users_zd_renaming (id int, full_name text); CREATE VIEW users AS SELECT id, full_name, full_name AS name, 2 AS two FROM users_zd_renaming');
    await t.throwsAsync(saferRenameColumnPart2(db.knex, 'users', 'name', 'full_name'), {
      instanceOf: MigrationError,
      message: /expected the view of saferRenameColumnPart1 over "public"\."users_zd_renaming"; found a view \(SELECT users_zd_renaming\.id, .* 2 AS two FROM users_zd_renaming;\)/,
    });
    // A user table that has the name a column rename would move the table to.
    await sql(db, 'CREATE TABLE accounts (id int, name text); CREATE TABLE accounts_zd_renaming (id int)');
    await t.throwsAsync(saferRenameColumnPart1(db.knex, 'accounts', 'name', 'full_name'), {
      instanceOf: MigrationError,
      message: /^saferRenameColumnPart1: cannot rename "public"\."accounts"\."name" to "full_name": .* found a table and a table "public"\."accounts_zd_renaming"\./,
    });
    t.deepEqual(await sql(db, `SELECT attname FROM pg_attribute WHERE attrelid = 'accounts'::regclass AND attnum > 0 ORDER BY attnum`), [{ attname: 'id' }, { attname: 'name' }]);
    t.deepEqual(await sql(db, `SELECT relname FROM pg_class WHERE relname IN ('orders', 'users', 'users_zd_renaming', 'purchases') ORDER BY 1`), [
      { relname: 'orders' },
      { relname: 'purchases' },
      { relname: 'users' },
      { relname: 'users_zd_renaming' },
    ]);
  });
});
