import test from 'ava';
import pg from 'pg';
import { loadTargetFacts } from '../../../src/analysis/table-stats.js';
import { runChecks, CHECKS } from '../../../src/checks/index.js';
import { parseSettings } from '../../../src/config.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.js';
import { report } from '../../unit/checks/support.js';

let db: TestDatabase;

test.before(async () => {
  db = await createTestDatabase('zd_stats');
  await db.knex.raw(`
    CREATE SCHEMA app;
    CREATE TABLE app."Orders" (id int PRIMARY KEY, note text);
    INSERT INTO app."Orders" SELECT g, md5(g::text) FROM generate_series(1, 30000) g;
    CREATE TABLE analysed (id int PRIMARY KEY);
    INSERT INTO analysed SELECT generate_series(1, 40);
    ANALYZE analysed;
    CREATE INDEX analysed_idx ON analysed (id);
    CREATE TABLE empty (id int);
    CREATE TABLE events (at int NOT NULL) PARTITION BY RANGE (at);
    CREATE TABLE events_1 PARTITION OF events FOR VALUES FROM (0) TO (1000);
    CREATE TABLE events_2 PARTITION OF events FOR VALUES FROM (1000) TO (5000);
    INSERT INTO events SELECT generate_series(0, 2999);
    ANALYZE events_1;
    ANALYZE events_2;
  `);
});

test.after.always(async () => {
  await db?.drop();
});

test.serial('rows and sizes from the target: statistics, never analysed, empty, partitions, an index, a missing table', async (t) => {
  const facts = await loadTargetFacts(db.knex, ['app.Orders', 'analysed', 'empty', 'events', 'analysed_idx', 'missing', 'app.missing']);
  t.is(facts.error, null);
  const version = (await db.knex.raw<{ rows: { v: string }[] }>('SHOW server_version_num')).rows[0];
  t.is(facts.serverVersion, Number(Object.values(version)[0]));

  const orders = facts.tables.get('app.Orders')!;
  t.is(orders.table, 'app."Orders"');
  t.is(orders.rowsSource, 'size'); // never analysed (autovacuum may not have run yet)…
  t.true(orders.rows! > 30_000 * 0.8 && orders.rows! < 30_000 * 1.25, String(orders.rows)); // …so estimated from its pages
  const { rows: sizes } = await db.knex.raw<{ rows: { heap: string; total: string }[] }>(
    `SELECT pg_relation_size('app."Orders"') AS heap, pg_total_relation_size('app."Orders"') AS total`,
  );
  t.is(orders.heapBytes, Number(sizes[0].heap));
  t.is(orders.totalBytes, Number(sizes[0].total));
  t.is(orders.indexes, 1);

  t.like(facts.tables.get('analysed'), { rows: 40, rowsSource: 'statistics', indexes: 2 });
  t.like(facts.tables.get('analysed_idx'), { table: 'analysed', rows: 40, throughIndex: true });
  t.like(facts.tables.get('analysed'), { throughIndex: false });
  t.like(facts.tables.get('empty'), { rows: 0, rowsSource: 'empty', totalBytes: 0 });
  t.like(facts.tables.get('events'), { kind: 'p', rows: 3000, rowsSource: 'statistics' });
  t.is(facts.tables.get('missing'), null);
  t.is(facts.tables.get('app.missing'), null);
});

test.serial('a table locked ACCESS EXCLUSIVE by someone else: the sizes come from pg_class instead, without waiting long', async (t) => {
  const holder = new pg.Client({ connectionString: db.url });
  await holder.connect();
  try {
    await holder.query('BEGIN');
    await holder.query('LOCK TABLE analysed IN ACCESS EXCLUSIVE MODE');
    const started = Date.now();
    const facts = await loadTargetFacts(db.knex, ['analysed']);
    t.true(Date.now() - started < 20_000);
    t.is(facts.error, null);
    t.like(facts.tables.get('analysed'), { rows: 40, heapBytes: 8192 });
  } finally {
    await holder.query('ROLLBACK');
    await holder.end();
  }
});

test.serial('reading the facts writes nothing and leaves no lock behind', async (t) => {
  const before = await db.knex.raw<{ rows: { n: string }[] }>("SELECT sum(n_tup_ins + n_tup_upd + n_tup_del)::text AS n FROM pg_stat_user_tables");
  await loadTargetFacts(db.knex, ['app.Orders', 'analysed', 'events']);
  const locks = await db.knex.raw<{ rows: { n: number }[] }>(
    `SELECT count(*)::int AS n FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
     WHERE l.pid <> pg_backend_pid() AND c.relname IN ('Orders', 'analysed', 'events', 'events_1', 'events_2')`,
  );
  t.is(locks.rows[0].n, 0);
  const after = await db.knex.raw<{ rows: { n: string }[] }>("SELECT sum(n_tup_ins + n_tup_upd + n_tup_del)::text AS n FROM pg_stat_user_tables");
  t.is(after.rows[0].n, before.rows[0].n);
});

test.serial('checks.smallTable against the real sizes: an index on the 40-row table is a note, on the 30,000-row one an error', async (t) => {
  const m = await report('002_index.js', ['CREATE INDEX analysed_x ON analysed (id)', 'CREATE INDEX orders_note ON app."Orders" (note)']);
  const facts = await loadTargetFacts(db.knex, ['analysed', 'app.Orders']);
  const result = runChecks([m], parseSettings({}), CHECKS, facts);
  t.deepEqual(result.findings.map((f) => [f.code, f.severity]), [
    ['create-index-blocking', 'info'],
    ['create-index-blocking', 'error'],
  ]);
  t.regex(result.findings[0].smallTable!.note, /^analysed has ~40 rows, \d+ kB in the target database: below checks\.smallTable \(10,000 rows\), the lock is held for milliseconds\.$/);
});
