/**
 * What the runner sends around a migration's own statements outside a transaction: a
 * transaction of its own with SET LOCAL timeouts, never a session setting; raw strings with
 * several statements or their own transaction control keep their meaning.
 */
import test from 'ava';
import type { Knex } from 'knex';
import type { QueryObject } from '../../../src/runner/internal-query.js';
import { startWriter } from '../operations/support.js';
import { holdLock, knexOn, runOutside, withTables } from './support.js';

type Settings = { l: string; s: string };
const READ_SETTINGS = "SELECT current_setting('lock_timeout') AS l, current_setting('statement_timeout') AS s";

async function settingsOf(knex: Knex): Promise<Settings> {
  return (await knex.raw<{ rows: Settings[] }>(READ_SETTINGS)).rows[0];
}

/** Records every query object that reaches the driver, as a tracing layer below the runner would. */
function traceDriver(knex: Knex): QueryObject[] {
  const seen: QueryObject[] = [];
  const Base = knex.client.constructor as new (...args: never[]) => Knex.Client & { _query(c: unknown, o: QueryObject): Promise<QueryObject> };
  class Tracing extends Base {
    override _query(connection: unknown, obj: QueryObject): Promise<QueryObject> {
      seen.push({ ...obj });
      return super._query(connection, obj);
    }
  }
  Object.setPrototypeOf(knex.client, Tracing.prototype);
  return seen;
}

test('a statement outside a transaction runs in a transaction of its own, with SET LOCAL timeouts; the runner\'s statements are tagged zdInternal', async (t) => {
  await withTables('zdstmt', async (db) => {
    const knex = knexOn(db.url, 1);
    const seen = traceDriver(knex);
    try {
      let inside: Settings | undefined;
      await runOutside(knex, 'm', { timeouts: { lock: '2s', statement: '1min' } }, async (k) => {
        await k.raw('ALTER TABLE a ADD COLUMN x int');
        inside = (await k.raw<{ rows: Settings[] }>(READ_SETTINGS)).rows[0];
      });
      t.deepEqual(inside, { l: '2s', s: '1min' });
      t.deepEqual(await settingsOf(knex), { l: '0', s: '0' });
      t.deepEqual(
        seen.map((o) => [o.zdInternal === true, o.sql.replace(/^SELECT pg_backend_pid\(\).*$/, 'SET LOCAL')]),
        [
          [true, 'BEGIN'],
          [true, 'SET LOCAL'],
          [false, 'ALTER TABLE a ADD COLUMN x int'],
          [true, 'COMMIT'],
          [true, 'BEGIN'],
          [true, 'SET LOCAL'],
          [false, READ_SETTINGS],
          [true, 'COMMIT'],
          [false, READ_SETTINGS],
        ],
      );
      t.true(seen.filter((o) => o.sql.startsWith('SELECT pg_backend_pid()')).every((o) => /set_config\('lock_timeout', \$1, true\), set_config\('statement_timeout', \$2, true\)/.test(o.sql)));
    } finally {
      await knex.destroy();
    }
  });
});

test('a raw string of several statements runs in one transaction, retried whole: the rollback of a failed attempt releases the locks it took', async (t) => {
  await withTables('zdstmt', async (db) => {
    const knex = knexOn(db.url);
    try {
      const blocker = await holdLock(db.url, 'LOCK TABLE b IN ACCESS SHARE MODE', 1_000);
      // The writer works on table a, which each attempt locks first.
      const writer = await startWriter(db.url, 'a');
      let longestStallMs: number;
      try {
        await runOutside(knex, 'm', { timeouts: { lock: '100ms', retries: 50, backoff: 50, maxBackoff: 100 } }, (k) =>
          k.raw('ALTER TABLE a ADD COLUMN m int; ALTER TABLE b ADD COLUMN m int'),
        );
      } finally {
        ({ longestStallMs } = await writer.stop());
      }
      t.true(blocker.released, 'it waited for the blocker, retrying');
      t.log(`writer on a: longest stall ${Math.round(longestStallMs)}ms`);
      t.true(longestStallMs < 100 + 1_500, `longest stall ${longestStallMs}ms`);
      t.true(await db.knex.schema.hasColumn('a', 'm'));
      t.true(await db.knex.schema.hasColumn('b', 'm'));
    } finally {
      await knex.destroy();
    }
  });
});

test('a migration\'s own BEGIN on a connection: its statements get SET LOCAL inside that transaction, which the runner never commits', async (t) => {
  await withTables('zdstmt', async (db) => {
    const knex = knexOn(db.url, 1);
    try {
      let inside: Settings | undefined;
      await runOutside(knex, 'm', {}, async (k) => {
        await k.raw('BEGIN');
        await k.raw('ALTER TABLE a ADD COLUMN rolled_back int');
        inside = (await k.raw<{ rows: Settings[] }>(READ_SETTINGS)).rows[0];
        await k.raw('ROLLBACK');
      });
      // The longest wait of the schedule: a statement in someone else's transaction cannot be retried.
      t.deepEqual(inside, { l: '500ms', s: '15min' });
      t.false(await db.knex.schema.hasColumn('a', 'rolled_back'));
      t.deepEqual(await settingsOf(knex), { l: '0', s: '0' });
    } finally {
      await knex.destroy();
    }
  });
});

test('a transaction the migration opens with knex.transaction(): SET LOCAL per statement, and a lock timeout inside it is a LockTimeoutError', async (t) => {
  await withTables('zdstmt', async (db) => {
    const knex = knexOn(db.url);
    const blocker = await holdLock(db.url, 'LOCK TABLE b IN ACCESS SHARE MODE');
    try {
      let inside: Settings | undefined;
      const error = await t.throwsAsync(
        runOutside(knex, '20250101_trx', { timeouts: { lock: '150ms' } }, (k) =>
          k.transaction(async (trx) => {
            inside = (await trx.raw<{ rows: Settings[] }>(READ_SETTINGS)).rows[0];
            await trx.raw('ALTER TABLE b ADD COLUMN t int');
          }),
        ),
      );
      t.deepEqual(inside, { l: '150ms', s: '15min' });
      t.is(error.name, 'LockTimeoutError');
      t.regex(error.message, /^Migration "20250101_trx" \(up\) gave up waiting for a lock/);
    } finally {
      await blocker.release();
      await knex.destroy();
    }
  });
});

test('VALIDATE CONSTRAINT in the migration\'s own SQL runs without the statement timeout, as the operations\' step does; other statements keep it', async (t) => {
  await withTables('zdstmt', async (db) => {
    // A check slower than the 100ms statement timeout over 1,000 rows (a function that lies about being immutable).
    await db.knex.raw("CREATE FUNCTION slow(v int) RETURNS int IMMUTABLE LANGUAGE plpgsql AS 'BEGIN PERFORM pg_sleep(0.0005); RETURN v; END'");
    const knex = knexOn(db.url);
    const fast = { timeouts: { lock: '1s', statement: '100ms' } };
    try {
      await runOutside(knex, 'm', fast, async (k) => {
        await k.raw('ALTER TABLE a ADD CONSTRAINT a_slow_check CHECK (slow(n) > 0) NOT VALID');
        await k.raw('ALTER TABLE a VALIDATE CONSTRAINT a_slow_check');
      });
      const { rows } = await db.knex.raw<{ rows: { convalidated: boolean }[] }>("SELECT convalidated FROM pg_constraint WHERE conname = 'a_slow_check'");
      t.true(rows[0].convalidated);
      await t.throwsAsync(runOutside(knex, 'm', fast, (k) => k.raw('UPDATE a SET n = slow(n)')), { message: /statement timeout/ });
    } finally {
      await knex.destroy();
    }
  });
});
