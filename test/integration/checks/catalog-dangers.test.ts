import test from 'ava';
import type { Knex } from 'knex';
import pg from 'pg';
import { analyzeMigration } from '../../../src/analysis/analyze-migration.js';
import { parseSettings } from '../../../src/config.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.js';

/** The checks that need the catalog: analysed against the real database, and the server shows what they say. */

let db: TestDatabase;

test.before(async () => {
  db = await createTestDatabase('zd_catalog_dangers');
  await db.knex.raw(`
    CREATE TABLE accounts (id int, email text);
    INSERT INTO accounts SELECT g, 'a' || g FROM generate_series(1, 1000) g;
    CREATE UNIQUE INDEX accounts_id_key ON accounts (id);
    CREATE TABLE parent (id int PRIMARY KEY);
    INSERT INTO parent SELECT generate_series(1, 100000);
    CREATE TABLE child (id int PRIMARY KEY, parent_id int);
    INSERT INTO child SELECT g, g FROM generate_series(1, 100000) g;
    ANALYZE parent;
    ANALYZE child;
  `);
});

test.after.always(async () => {
  await db?.drop();
});

async function codes(sql: string): Promise<string[]> {
  const report = await analyzeMigration(
    db.knex,
    { name: 'm.js', module: { config: { stage: 'post-deploy' }, up: (knex: Knex) => knex.raw(sql), down: async () => {} } },
    { settings: parseSettings({ shadow: false }) },
  );
  return report.statements.flatMap((s) => s.analysis.findings.map((f) => f.code));
}

test.serial('primary-key-nullable-scan: PRIMARY KEY USING INDEX on a nullable column makes it NOT NULL by checking every row', async (t) => {
  const sql = 'ALTER TABLE accounts ADD CONSTRAINT accounts_pkey PRIMARY KEY USING INDEX accounts_id_key';
  t.deepEqual(await codes(sql), ['primary-key-nullable-scan']);
  // The server checks the rows: one NULL and the statement fails; none and the column is NOT NULL afterwards.
  await db.knex.raw('INSERT INTO accounts VALUES (NULL, NULL)');
  const failure = await db.knex.raw(sql).catch((error: { code?: string }) => error);
  t.is((failure as { code?: string }).code, '23502');
  await db.knex.raw('DELETE FROM accounts WHERE id IS NULL');
  await db.knex.raw(sql);
  const [column] = (await db.knex.raw(`SELECT attnotnull FROM pg_attribute WHERE attrelid = 'accounts'::regclass AND attname = 'id'`)).rows;
  t.true(column.attnotnull);
  // Already NOT NULL: attaching is catalog only, and nothing is reported.
  await db.knex.raw('ALTER TABLE accounts DROP CONSTRAINT accounts_pkey');
  await db.knex.raw('CREATE UNIQUE INDEX accounts_id_key ON accounts (id)');
  t.deepEqual(await codes(sql), []);
});

test.serial('foreign-key-without-index: every delete from the referenced table scans the referencing one; an index on the columns stops it', async (t) => {
  const fk = 'ALTER TABLE child ADD CONSTRAINT child_parent_fk FOREIGN KEY (parent_id) REFERENCES parent (id) NOT VALID';
  t.deepEqual(await codes(fk), ['foreign-key-without-index']);
  // An index created later in the same migration counts.
  t.deepEqual(await codes(`${fk}; CREATE INDEX child_parent_idx ON child (parent_id)`), ['create-index-blocking']);

  await db.knex.raw(fk);
  const scans = async () => (await db.knex.raw(`SELECT seq_scan::int AS seq FROM pg_stat_user_tables WHERE relname = 'child'`)).rows[0].seq as number;
  // On a connection of its own each time: the foreign key's check query is planned once per session.
  const deleteParent = async (id: number) => {
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      await client.query('DELETE FROM child WHERE id = $1', [id]);
      await client.query('DELETE FROM parent WHERE id = $1', [id]);
    } finally {
      await client.end();
    }
  };
  let before = await scans();
  await deleteParent(1);
  await waitForStats();
  t.true((await scans()) > before, 'the foreign key check scanned child');

  await db.knex.raw('CREATE INDEX child_parent_idx ON child (parent_id)');
  await db.knex.raw('ANALYZE child');
  before = await scans();
  await deleteParent(2);
  await waitForStats();
  t.is(await scans(), before, 'with the index, no scan');
});

async function waitForStats(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 200));
}
