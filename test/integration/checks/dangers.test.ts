import test from 'ava';
import { analyzeSqlSync, loadParser } from '../../../src/analysis/classify/index.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.js';
import { lockHeldAcrossStatements } from '../../../src/checks/unsafe/lock-held-across-statements.js';
import { parseSettings } from '../../../src/config.js';
import { report } from '../../unit/checks/support.js';
import { failureOf, hold, tryWhileHeld } from './support.js';

/**
 * Each new check says what the server does: here the server shows it. Every statement runs
 * in a transaction held open on a connection of its own; pg_locks shows its locks, and a
 * second connection with a short lock_timeout shows what they block.
 */

const FIXTURE = `
  CREATE TABLE t (id int PRIMARY KEY, a int, note text);
  INSERT INTO t SELECT g, g, 'n' FROM generate_series(1, 100) g;
  CREATE INDEX t_a_idx ON t (a);
  CREATE TABLE parent (id int PRIMARY KEY);
  CREATE TABLE child (id int PRIMARY KEY, parent_id int REFERENCES parent (id));
  INSERT INTO parent VALUES (1), (2);
  INSERT INTO child VALUES (1, 1), (2, 2);
  CREATE TABLE measurements (at int NOT NULL) PARTITION BY RANGE (at);
  CREATE TABLE m_1 PARTITION OF measurements FOR VALUES FROM (0) TO (100);
  INSERT INTO measurements VALUES (1), (2);
  CREATE MATERIALIZED VIEW mv AS SELECT id, a FROM t;
  CREATE MATERIALIZED VIEW mv_plain AS SELECT id FROM t;
  CREATE UNIQUE INDEX mv_id ON mv (id);
  CREATE DOMAIN positive_int AS int;
  CREATE TABLE amounts (id int, amount positive_int);
  INSERT INTO amounts VALUES (1, 5);
`;

let db: TestDatabase;

test.before(async () => {
  await loadParser();
  db = await createTestDatabase('zd_dangers');
  await db.knex.raw(FIXTURE);
});

test.after.always(async () => {
  await db?.drop();
});

function codes(sql: string): string[] {
  return analyzeSqlSync(sql).flatMap((a) => a.findings.map((f) => f.code));
}

test.serial('not-null-without-default: the ALTER fails on a table with rows, and the old INSERTs fail once it exists', async (t) => {
  const sql = 'ALTER TABLE t ADD COLUMN currency text NOT NULL';
  t.deepEqual(codes(sql), ['not-null-without-default']);
  const failure = await failureOf(db.url, sql);
  t.is(failure?.code, '23502');
  t.regex(failure!.message, /column "currency" of relation "t" contains null values/);
  await db.knex.raw('CREATE TABLE empty_t (id int PRIMARY KEY)');
  t.is(await failureOf(db.url, 'ALTER TABLE empty_t ADD COLUMN currency text NOT NULL'), null);
  const insert = await failureOf(db.url, 'INSERT INTO empty_t (id) VALUES (1)');
  t.is(insert?.code, '23502');
  t.regex(insert!.message, /null value in column "currency"/);
  // The safe path of the hint: with a default, old INSERTs get it.
  t.deepEqual(codes("ALTER TABLE t ADD COLUMN currency2 text NOT NULL DEFAULT 'EUR'"), []);
});

test.serial('reindex-blocking: SHARE on the table, ACCESS EXCLUSIVE on each index; writes and reads through it wait', async (t) => {
  t.deepEqual(codes('REINDEX TABLE t'), ['reindex-blocking']);
  const held = await hold(db.url, 'REINDEX TABLE t');
  try {
    const locks = await held.locks();
    t.deepEqual(locks.get('t'), ['ShareLock']);
    t.deepEqual(locks.get('t_a_idx'), ['AccessExclusiveLock']);
    t.deepEqual(locks.get('t_pkey'), ['AccessExclusiveLock']);
    t.is(await tryWhileHeld(db.url, 'INSERT INTO t VALUES (1000, 1000)'), 'blocked');
    t.is(await tryWhileHeld(db.url, 'SELECT a FROM t WHERE id = 5'), 'blocked');
  } finally {
    await held.release();
  }
  t.deepEqual(codes('REINDEX TABLE CONCURRENTLY t'), []);
  t.is(await failureOf(db.url, 'REINDEX TABLE CONCURRENTLY t'), null);
});

test.serial('detach-partition-blocking: ACCESS EXCLUSIVE on the partitioned table; its reads wait', async (t) => {
  t.deepEqual(codes('ALTER TABLE measurements DETACH PARTITION m_1'), ['detach-partition-blocking']);
  const held = await hold(db.url, 'ALTER TABLE measurements DETACH PARTITION m_1');
  try {
    t.deepEqual((await held.locks()).get('measurements'), ['AccessExclusiveLock']);
    t.is(await tryWhileHeld(db.url, 'SELECT count(*) FROM measurements'), 'blocked');
  } finally {
    await held.release();
  }
  t.deepEqual(codes('ALTER TABLE measurements DETACH PARTITION m_1 CONCURRENTLY'), []);
});

test.serial('refresh-materialized-view-blocking: reads of the view wait; CONCURRENTLY lets them run, and needs a unique index', async (t) => {
  t.deepEqual(codes('REFRESH MATERIALIZED VIEW mv'), ['refresh-materialized-view-blocking']);
  const held = await hold(db.url, 'REFRESH MATERIALIZED VIEW mv');
  try {
    t.true((await held.locks()).get('mv')?.includes('AccessExclusiveLock'));
    t.is(await tryWhileHeld(db.url, 'SELECT count(*) FROM mv'), 'blocked');
  } finally {
    await held.release();
  }
  t.deepEqual(codes('REFRESH MATERIALIZED VIEW CONCURRENTLY mv'), []);
  const concurrent = await hold(db.url, 'REFRESH MATERIALIZED VIEW CONCURRENTLY mv');
  try {
    t.false((await concurrent.locks()).get('mv')?.includes('AccessExclusiveLock'));
    t.is(await tryWhileHeld(db.url, 'SELECT count(*) FROM mv'), 'ran');
  } finally {
    await concurrent.release();
  }
  const noIndex = await failureOf(db.url, 'REFRESH MATERIALIZED VIEW CONCURRENTLY mv_plain');
  t.regex(noIndex!.message, /cannot refresh materialized view "public.mv_plain" concurrently/);
});

test.serial('lock-table: SHARE mode blocks writes (not reads) to the end of the transaction; ROW EXCLUSIVE is not reported', async (t) => {
  t.deepEqual(codes('LOCK TABLE t IN SHARE MODE'), ['lock-table']);
  const held = await hold(db.url, 'LOCK TABLE t IN SHARE MODE');
  try {
    t.deepEqual((await held.locks()).get('t'), ['ShareLock']);
    t.is(await tryWhileHeld(db.url, 'UPDATE t SET a = 0 WHERE id = 1'), 'blocked');
    t.is(await tryWhileHeld(db.url, 'SELECT count(*) FROM t'), 'ran');
  } finally {
    await held.release();
  }
  t.deepEqual(codes('LOCK TABLE t IN ROW EXCLUSIVE MODE'), []);
  const weak = await hold(db.url, 'LOCK TABLE t IN ROW EXCLUSIVE MODE');
  try {
    t.is(await tryWhileHeld(db.url, 'UPDATE t SET a = 0 WHERE id = 1'), 'ran');
  } finally {
    await weak.release();
  }
});

test.serial('whole-table-update: every row stays locked, so any write to any row waits; a bounded UPDATE locks only its rows', async (t) => {
  t.deepEqual(codes('UPDATE t SET a = a + 1'), ['whole-table-update']);
  const held = await hold(db.url, 'UPDATE t SET a = a + 1');
  try {
    t.deepEqual((await held.locks()).get('t'), ['RowExclusiveLock']); // no table lock says it: the row locks do
    t.is(await tryWhileHeld(db.url, 'UPDATE t SET a = 0 WHERE id = 77'), 'blocked');
    t.is(await tryWhileHeld(db.url, 'DELETE FROM t WHERE id = 3'), 'blocked');
    t.is(await tryWhileHeld(db.url, 'SELECT count(*) FROM t'), 'ran');
  } finally {
    await held.release();
  }
  t.deepEqual(codes('UPDATE t SET a = 0 WHERE id = 1'), []);
  const bounded = await hold(db.url, 'UPDATE t SET a = 0 WHERE id = 1');
  try {
    t.is(await tryWhileHeld(db.url, 'UPDATE t SET a = 0 WHERE id = 77'), 'ran');
  } finally {
    await bounded.release();
  }
  t.deepEqual(codes('DELETE FROM t'), ['whole-table-delete']);
});

test.serial('truncate-cascade: empties the tables that reference it, which the statement never names', async (t) => {
  t.deepEqual(codes('TRUNCATE parent CASCADE'), ['truncate-cascade']);
  const held = await hold(db.url, 'TRUNCATE parent CASCADE');
  try {
    t.deepEqual(await held.query('SELECT count(*)::int AS n FROM child'), [{ n: 0 }]);
    t.true((await held.locks()).get('child')?.includes('AccessExclusiveLock'));
    t.is(await tryWhileHeld(db.url, 'SELECT count(*) FROM child'), 'blocked');
  } finally {
    await held.release();
  }
  t.deepEqual((await db.knex.raw('SELECT count(*)::int AS n FROM child')).rows, [{ n: 2 }]);
  // Without CASCADE the server refuses instead of emptying a table the statement does not name.
  const refused = await failureOf(db.url, 'TRUNCATE parent');
  t.regex(refused!.message, /cannot truncate a table referenced in a foreign key constraint/);
});

test.serial('domain-constraint-validating: a SHARE lock on every table using the domain, so their writes wait; NOT VALID takes none', async (t) => {
  const add = 'ALTER DOMAIN positive_int ADD CONSTRAINT positive CHECK (VALUE > 0)';
  t.deepEqual(codes(add), ['domain-constraint-validating']);
  const held = await hold(db.url, add);
  try {
    t.deepEqual((await held.locks()).get('amounts'), ['ShareLock']);
    t.is(await tryWhileHeld(db.url, 'INSERT INTO amounts VALUES (2, 3)'), 'blocked');
  } finally {
    await held.release();
  }
  const notValid = `${add} NOT VALID`;
  t.deepEqual(codes(notValid), []);
  const quick = await hold(db.url, notValid);
  try {
    t.is((await quick.locks()).get('amounts'), undefined);
    t.is(await tryWhileHeld(db.url, 'INSERT INTO amounts VALUES (2, 3)'), 'ran');
  } finally {
    await quick.release();
  }
});

test.serial('lock-held-across-statements: the ACCESS EXCLUSIVE of the first statement is still held while the next one runs', async (t) => {
  const m = await report('005_add_and_fill.js', ['ALTER TABLE t ADD COLUMN c int', 'UPDATE t SET c = a']);
  t.deepEqual(lockHeldAcrossStatements.run({ migrations: [m], settings: parseSettings({}) }).map((f) => f.code), ['lock-held-across-statements']);
  const held = await hold(db.url, 'ALTER TABLE t ADD COLUMN c int; UPDATE t SET c = a');
  try {
    t.true((await held.locks()).get('t')?.includes('AccessExclusiveLock'));
    t.is(await tryWhileHeld(db.url, 'SELECT count(*) FROM t'), 'blocked');
  } finally {
    await held.release();
  }
});
