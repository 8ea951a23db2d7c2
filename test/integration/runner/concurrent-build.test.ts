/**
 * A CREATE INDEX CONCURRENTLY sent by a migration itself (knex.raw, knex.schema.raw) gets the
 * care addIndexConcurrently's steps get: no statement timeout; after a lock timeout, the
 * INVALID index it left (and only that one) is dropped before the retry.
 */
import test from 'ava';
import type { Knex } from 'knex';
import { LockTimeoutError, MigrationError } from '../../../src/errors.js';
import type { TestDatabase } from '../../helpers/db.js';
import { holdLock, indexesOf, knexOn, runOutside, withTables } from './support.js';

const RETRYING = { timeouts: { lock: '200ms', retries: 50, backoff: 50, maxBackoff: 100 } };

/** A user's own INVALID index: a unique build over duplicates fails and leaves it. */
async function userInvalidIndex(db: TestDatabase): Promise<void> {
  await db.knex.raw('UPDATE a SET n = 1 WHERE id <= 2');
  await db.knex.raw('CREATE UNIQUE INDEX CONCURRENTLY user_broken ON a (n)').catch(() => undefined);
}

/**
 * Runs `build` while a writer's open transaction (its ROW EXCLUSIVE lock lets the build take its
 * own lock and create the index, then makes it wait) blocks it; the writer ends once `index`
 * has been seen INVALID, i.e. once the build has timed out after creating it.
 */
async function buildBehindWriter(db: TestDatabase, knex: Knex, index: string, build: (k: Knex) => Promise<unknown>): Promise<boolean> {
  const writer = await holdLock(db.url, 'INSERT INTO a (n) VALUES (0)');
  const outcome = runOutside(knex, 'm', RETRYING, build).then(
    () => null,
    (error: unknown) => (error instanceof Error ? error : new Error(String(error))),
  );
  let seen = false;
  for (const deadline = Date.now() + 15_000; !seen && Date.now() < deadline; ) {
    const { rows } = await db.knex.raw<{ rows: { valid: boolean }[] }>(
      'SELECT i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = ?',
      [index],
    );
    seen = rows[0]?.valid === false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await writer.release();
  const error = await outcome;
  if (error) throw error;
  return seen;
}

for (const form of ['CREATE INDEX CONCURRENTLY a_n_index ON a (n)', 'CREATE INDEX CONCURRENTLY IF NOT EXISTS a_n_index ON a (n)']) {
  test(`${form}: a writer's open transaction makes it time out after its catalog entry; the retry drops only its own INVALID leftover and succeeds`, async (t) => {
    await withTables('zdcic', async (db) => {
      await userInvalidIndex(db);
      t.deepEqual(await indexesOf(db.knex, 'a'), { a_pkey: true, user_broken: false });
      const knex = knexOn(db.url);
      try {
        const invalid = await buildBehindWriter(db, knex, 'a_n_index', (k) => k.schema.raw(form));
        t.true(invalid, 'the build timed out after creating its index at least once');
        t.deepEqual(await indexesOf(db.knex, 'a'), { a_n_index: true, a_pkey: true, user_broken: false });
      } finally {
        await knex.destroy();
      }
    });
  });
}

test('an unnamed concurrent build: the leftover PostgreSQL named is found among the new INVALID indexes, a user\'s is untouched', async (t) => {
  await withTables('zdcic', async (db) => {
    await userInvalidIndex(db);
    const knex = knexOn(db.url);
    try {
      const invalid = await buildBehindWriter(db, knex, 'a_note_idx', (k) => k.raw('CREATE INDEX CONCURRENTLY ON a (note)'));
      t.true(invalid, 'the build timed out after creating its index at least once');
      t.deepEqual(await indexesOf(db.knex, 'a'), { a_note_idx: true, a_pkey: true, user_broken: false });
    } finally {
      await knex.destroy();
    }
  });
});

test('IF NOT EXISTS over an INVALID index of the same name is refused before anything is sent, and the index is left alone', async (t) => {
  await withTables('zdcic', async (db) => {
    await userInvalidIndex(db);
    const knex = knexOn(db.url);
    try {
      const error = await t.throwsAsync(
        runOutside(knex, 'm', {}, (k) => k.raw('CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS user_broken ON a (n)')),
        { instanceOf: MigrationError },
      );
      t.is(
        error.message,
        [
          'Refusing to run',
          '  CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS user_broken ON a (n)',
          'because the index "public"."user_broken" already exists and is INVALID (left by a CREATE INDEX CONCURRENTLY that failed or was interrupted): IF NOT EXISTS would skip it and report success, but no query can use an INVALID index. knex-zd did not create it in this run, so it does not drop it. Drop it, then run the migration again:',
          '  DROP INDEX CONCURRENTLY "public"."user_broken";',
          'or build the index with addIndexConcurrently(knex, "a", columns, { name: "user_broken" }), which drops such a leftover itself.',
        ].join('\n'),
      );
      t.deepEqual(await indexesOf(db.knex, 'a'), { a_pkey: true, user_broken: false });
    } finally {
      await knex.destroy();
    }
  });
});

test('a raw concurrent build runs without the statement timeout', async (t) => {
  await withTables('zdcic', async (db) => {
    // An index build slower than the 100ms statement timeout (a function that lies about being immutable).
    await db.knex.raw("CREATE FUNCTION slow(v int) RETURNS int IMMUTABLE LANGUAGE plpgsql AS 'BEGIN PERFORM pg_sleep(0.0005); RETURN v; END'");
    const knex = knexOn(db.url);
    const fast = { timeouts: { lock: '1s', statement: '100ms' } };
    try {
      await t.throwsAsync(runOutside(knex, 'm', fast, (k) => k.raw('SELECT count(slow(n)) FROM a')), { message: /statement timeout/ });
      await runOutside(knex, 'm', fast, (k) => k.raw('CREATE INDEX CONCURRENTLY a_slow_index ON a (slow(n))'));
      t.true((await indexesOf(db.knex, 'a')).a_slow_index);
    } finally {
      await knex.destroy();
    }
  });
});

test('when retries run out while the blocker stays, the error says which INVALID index the build left and how to drop it', async (t) => {
  await withTables('zdcic', async (db) => {
    const knex = knexOn(db.url);
    const writer = await holdLock(db.url, 'INSERT INTO a (n) VALUES (0)');
    try {
      const error = await t.throwsAsync(
        runOutside(knex, '20250101_index', { timeouts: { lock: '200ms', retries: 1, backoff: 50, maxBackoff: 50 } }, (k) =>
          k.raw('CREATE INDEX CONCURRENTLY a_n_index ON a (n)'),
        ),
        { instanceOf: LockTimeoutError },
      );
      t.regex(error.message, /^Migration "20250101_index" \(up\) gave up waiting for a lock: the statement\n {2}CREATE INDEX CONCURRENTLY a_n_index ON a \(n\)\ntimed out after lock_timeout 200ms, 2 times over [\d.]+s \(the statement alone was retried\)\./);
      t.regex(error.message, new RegExp(`\\n {2}pid ${writer.pid} \\(idle in transaction`));
      t.regex(
        error.message,
        /\nIt left the INVALID index "public"."a_n_index", which could not be dropped while the blocker was there\. Drop it before running the migration again:\n {2}DROP INDEX CONCURRENTLY "public"."a_n_index";\n/,
      );
    } finally {
      await writer.release();
      await knex.destroy();
    }
    t.deepEqual(await indexesOf(db.knex, 'a'), { a_n_index: false, a_pkey: true });
  });
});
