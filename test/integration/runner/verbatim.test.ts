import test from 'ava';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.js';
import { parseSettings } from '../../../src/config.js';
import { sendVerbatim } from '../../../src/runner/verbatim.js';
import { withTimeouts } from '../../../src/runner/timeouts-client.js';

async function withDb(fn: (db: TestDatabase) => Promise<void>): Promise<void> {
  const db = await createTestDatabase('zdverb');
  try {
    await fn(db);
  } finally {
    await db.drop();
  }
}

const TEXT = String.raw`SELECT '?' AS a, E'\\?' AS b, E'\\\\?' AS c, '??' AS d, ':x' AS e, $1::text AS f, "?column?" FROM (SELECT 1) AS "?column?"("?column?")`;

test('a statement reaches the server as written, ?, \\? and \\\\? included; $n take the driver values', async (t) => {
  await withDb(async ({ knex, url }) => {
    const events: string[] = [];
    knex.on('query', (query: { sql: string }) => events.push(query.sql));
    const result = await sendVerbatim(knex, TEXT, ['$1 ?']);
    t.deepEqual(result.rows, [{ a: '?', b: '\\?', c: '\\\\?', d: '??', e: ':x', f: '$1 ?', '?column?': 1 }]);
    t.deepEqual(events, [TEXT]);
    // What the server received, as another session sees it in pg_stat_activity.
    const seen = await knex.transaction(async (trx) => {
      const pid = (await sendVerbatim(trx, 'SELECT pg_backend_pid() AS pid')).rows[0].pid;
      await sendVerbatim(trx, TEXT, ['x']);
      const observer = new pg.Client({ connectionString: url });
      await observer.connect();
      try {
        return (await observer.query('SELECT query FROM pg_stat_activity WHERE pid = $1', [pid])).rows;
      } finally {
        await observer.end();
      }
    });
    t.deepEqual(seen, [{ query: TEXT }]);
  });
});

test('inside a transaction it uses the transaction, and refuses a transaction that has completed', async (t) => {
  await withDb(async ({ knex }) => {
    await sendVerbatim(knex, 'CREATE TABLE "t?" (v text)');
    let finished: Parameters<Parameters<typeof knex.transaction>[0]>[0] | undefined;
    await t.throwsAsync(
      knex.transaction(async (trx) => {
        finished = trx;
        await sendVerbatim(trx, `INSERT INTO "t?" VALUES ('\\?')`);
        throw new Error('roll back');
      }),
      { message: 'roll back' },
    );
    t.deepEqual((await sendVerbatim(knex, 'SELECT count(*)::int AS n FROM "t?"')).rows, [{ n: 0 }]);
    await t.throwsAsync(sendVerbatim(finished!, 'SELECT 1'), { message: 'Transaction query already complete: cannot send SELECT 1' });
  });
});

test("the driver's error keeps its SQLSTATE and is prefixed with the statement, as knex does", async (t) => {
  await withDb(async ({ knex }) => {
    const errors: unknown[] = [];
    knex.on('query-error', (error: unknown) => errors.push(error));
    const error = await t.throwsAsync(sendVerbatim(knex, 'SELECT * FROM "no?such"'));
    t.is(error.message, 'SELECT * FROM "no?such" - relation "no?such" does not exist');
    t.is((error as { code?: string }).code, '42P01');
    t.is(errors.length, 1);
  });
});

test("through the runner's timeouts client, the statement runs with the migration's lock_timeout", async (t) => {
  await withDb(async ({ knex }) => {
    const settings = parseSettings({ timeouts: { lock: '1234ms', statement: '5min' } });
    const timed = withTimeouts(knex, { name: null, direction: 'up', settings });
    const result = await sendVerbatim(timed, `SELECT current_setting('lock_timeout') AS lock, current_setting('statement_timeout') AS statement, '?' AS q`);
    t.deepEqual(result.rows, [{ lock: '1234ms', statement: '5min', q: '?' }]);
    const inside = await timed.transaction(async (trx) => sendVerbatim(trx, `SELECT current_setting('lock_timeout') AS lock`));
    t.deepEqual(inside.rows, [{ lock: '1234ms' }]);
  });
});
