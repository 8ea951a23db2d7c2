import test from 'ava';
import type { Knex } from 'knex';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.js';
import { parseSettings } from '../../../src/config.js';
import { LockTimeoutError } from '../../../src/errors.js';
import { wrapMigration } from '../../../src/runner/wrap-migration.js';
import { addIndexConcurrently } from '../../../src/operations/index.js';
import { startWriter } from '../operations/support.js';

const LOCK_MS = 200;
const MARGIN_MS = 1_500;

async function withDb(fn: (db: TestDatabase) => Promise<void>): Promise<void> {
  const db = await createTestDatabase('zdrun');
  try {
    await db.knex.raw('CREATE TABLE a (id serial PRIMARY KEY, n int, note text); CREATE TABLE b (id serial PRIMARY KEY, n int, note text)');
    await db.knex.raw('INSERT INTO a (n) SELECT g FROM generate_series(1, 1000) g; INSERT INTO b (n) SELECT g FROM generate_series(1, 1000) g');
    await fn(db);
  } finally {
    await db.drop();
  }
}

/** A session that holds a lock on `table` in an open transaction, like a forgotten `BEGIN` in psql. */
async function holdLock(url: string, table: string, mode = 'ACCESS SHARE'): Promise<{ pid: number; release(): Promise<void> }> {
  const client = new pg.Client({ connectionString: url, application_name: 'long transaction' });
  client.on('error', () => undefined);
  await client.connect();
  const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  await client.query(`BEGIN; LOCK TABLE "${table}" IN ${mode} MODE`);
  return {
    pid: rows[0].pid,
    async release() {
      await client.query('ROLLBACK').catch(() => undefined);
      await client.end().catch(() => undefined);
    },
  };
}

function settings(retries: number) {
  return parseSettings({ timeouts: { lock: LOCK_MS, statement: '1min', retries, backoff: 50, maxBackoff: 200 } });
}

test('outside a transaction: a blocked statement times out, is retried alone, and succeeds once the blocker ends; the writer never waits much longer than lock_timeout', async (t) => {
  await withDb(async (db) => {
    const blocker = await holdLock(db.url, 'a');
    const writer = await startWriter(db.url, 'a');
    t.teardown(() => writer.stop().catch(() => undefined));
    const statements: string[] = [];
    const migration = wrapMigration(
      {
        async up(knex: Knex) {
          await knex.raw('ALTER TABLE b ADD COLUMN first_done int');
          statements.push('b');
          await knex.raw('ALTER TABLE a ADD COLUMN x int');
          statements.push('a');
        },
      },
      { name: '20250101_add_x', direction: 'up', transaction: false, settings: settings(50) },
    );
    const running = Promise.resolve(migration.up(db.knex));
    setTimeout(() => void blocker.release(), 1_000);
    await running;
    const { longestStallMs, writes } = await writer.stop();
    t.log(`writer: ${writes} writes, longest stall ${longestStallMs.toFixed(0)}ms`);
    t.deepEqual(statements, ['b', 'a']);
    t.true(await db.knex.schema.hasColumn('a', 'x'));
    t.true(longestStallMs < LOCK_MS + MARGIN_MS, `longest stall ${longestStallMs}ms`);
    // Connections went back to the pool with the server's values.
    const settingsAfter = await db.knex.raw<{ rows: { lock_timeout: string; statement_timeout: string }[] }>(
      "SELECT current_setting('lock_timeout') AS lock_timeout, current_setting('statement_timeout') AS statement_timeout",
    );
    t.deepEqual(settingsAfter.rows[0], { lock_timeout: '0', statement_timeout: '0' });
  });
});

test('inside a transaction: SET LOCAL, and the whole migration is retried from a savepoint that releases its earlier locks', async (t) => {
  await withDb(async (db) => {
    const blocker = await holdLock(db.url, 'b');
    // The writer works on table a, which the migration locks first: during backoff the lock must be gone.
    const writer = await startWriter(db.url, 'a');
    t.teardown(() => writer.stop().catch(() => undefined));
    let attempts = 0;
    const seen: string[] = [];
    const migration = wrapMigration(
      {
        async up(knex: Knex) {
          attempts++;
          const row = await knex.raw<{ rows: { l: string }[] }>("SELECT current_setting('lock_timeout') AS l");
          seen.push(row.rows[0].l);
          await knex.raw('ALTER TABLE a ADD COLUMN y int');
          await knex.raw('ALTER TABLE b ADD COLUMN y int');
        },
      },
      { name: '20250102_add_y', direction: 'up', transaction: true, settings: settings(50) },
    );
    setTimeout(() => void blocker.release(), 1_000);
    await db.knex.transaction(async (trx) => {
      await migration.up(trx);
    });
    const { longestStallMs } = await writer.stop();
    t.true(attempts > 1, `retried (${attempts} attempts)`);
    t.true(seen.every((l) => l === `${LOCK_MS}ms`));
    t.true(await db.knex.schema.hasColumn('a', 'y'));
    t.true(await db.knex.schema.hasColumn('b', 'y'));
    t.true(longestStallMs < LOCK_MS + MARGIN_MS, `writer on the first table stalled ${longestStallMs}ms`);
  });
});

test('when retries run out, the error names the migration, the statement and the blocking session', async (t) => {
  await withDb(async (db) => {
    const blocker = await holdLock(db.url, 'a');
    try {
      const migration = wrapMigration(
        { async up(knex: Knex) { await knex.raw('ALTER TABLE a ADD COLUMN z int'); } },
        { name: '20250103_add_z', direction: 'up', transaction: false, settings: settings(1) },
      );
      const error = await t.throwsAsync(Promise.resolve(migration.up(db.knex)), { instanceOf: LockTimeoutError });
      t.is(error.sqlState, '55P03');
      t.regex(error.message, /^Migration "20250103_add_z" \(up\) gave up waiting for a lock: the statement\n {2}ALTER TABLE a ADD COLUMN z int\n/);
      t.regex(error.message, new RegExp(`pid ${blocker.pid} \\(idle in transaction for [\\d.]+s, user \\w+, long transaction, holding AccessShareLock\\): BEGIN; LOCK TABLE "a" IN ACCESS SHARE MODE`));
      t.regex(error.message, new RegExp(`SELECT pg_terminate_backend\\(${blocker.pid}\\);`));
      t.is((error.details.blockers as { pid: number }[])[0].pid, blocker.pid);
      t.is(error.details.attempts, 2);
    } finally {
      await blocker.release();
    }
  });
});

test('a statement timeout is not retried; index builds run without one', async (t) => {
  await withDb(async (db) => {
    const fast = parseSettings({ timeouts: { lock: LOCK_MS, statement: '100ms', retries: 3, backoff: 10, maxBackoff: 10 } });
    let calls = 0;
    const slow = wrapMigration(
      {
        async up(knex: Knex) {
          calls++;
          await knex.raw('SELECT pg_sleep(0.5)');
        },
      },
      { name: '20250104_slow', direction: 'up', transaction: false, settings: fast },
    );
    const error = await t.throwsAsync(Promise.resolve(slow.up(db.knex)));
    t.regex(error.message, /statement timeout/);
    t.is(calls, 1);
    // An index build that takes longer than the 100ms statement timeout (a function that lies about being immutable).
    await db.knex.raw("CREATE FUNCTION slow(v int) RETURNS int IMMUTABLE LANGUAGE plpgsql AS 'BEGIN PERFORM pg_sleep(0.0005); RETURN v; END'");
    const index = wrapMigration(
      { async up(knex: Knex) { await addIndexConcurrently(knex, 'a', [knex.raw('slow(n)')], { name: 'a_n_index' }); } },
      { name: '20250105_index', direction: 'up', transaction: false, settings: fast },
    );
    await index.up(db.knex);
    const valid = await db.knex.raw<{ rows: { indisvalid: boolean }[] }>("SELECT indisvalid FROM pg_index WHERE indexrelid = 'a_n_index'::regclass");
    t.true(valid.rows[0].indisvalid);
  });
});
