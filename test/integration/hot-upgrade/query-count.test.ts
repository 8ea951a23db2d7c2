/**
 * Counts every query that node-postgres sends: with no registered type, withHotUpgrade sends exactly
 * what plain knex sends and returns the same values; with types, one lookup per new connection and
 * one per connection past maxStaleness, nothing more.
 */
import test from 'ava';
import knexFactory, { type Knex } from 'knex';
import pg from 'pg';
import sinon from 'sinon';
import { withHotUpgrade } from '../../../src/hot-upgrade/with-hot-upgrade.js';
import { RESOLVE_TYPES_SQL } from '../../../src/hot-upgrade/server-types.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.js';

let database: TestDatabase;

test.before(async () => {
  database = await createTestDatabase('zd_hot_count');
  await database.knex.raw('CREATE EXTENSION hstore');
  await database.knex.raw('CREATE EXTENSION citext');
  await database.knex.raw("CREATE TABLE items AS SELECT 'a=>1'::hstore AS attrs, 'Mixed'::citext AS email, ARRAY['x']::citext[] AS emails");
});

test.after.always(async () => {
  await database?.drop();
});

/** Runs a fixed workload (sequential, concurrent, and in a transaction) and returns what it read and how many queries pg sent. */
async function workload(config: Knex.Config): Promise<{ queries: string[]; created: number; rows: unknown[] }> {
  let created = 0;
  const userAfterCreate = config.pool?.afterCreate as ((c: unknown, done: (e: unknown, c: unknown) => void) => void) | undefined;
  const counted: Knex.Config = {
    ...config,
    pool: {
      ...config.pool,
      afterCreate(connection: unknown, done: (error: unknown, connection: unknown) => void) {
        created++;
        if (userAfterCreate) userAfterCreate(connection, done);
        else done(null, connection);
      },
    },
  };
  Object.defineProperty(counted, 'hotUpgrade', { value: (config as { hotUpgrade?: unknown }).hotUpgrade, enumerable: false });
  const spy = sinon.spy(pg.Client.prototype, 'query');
  const db = knexFactory(counted);
  try {
    const rows: unknown[] = [];
    for (let i = 0; i < 10; i++) rows.push((await db.raw('SELECT attrs, email, emails FROM items')).rows[0]);
    await Promise.all(Array.from({ length: 6 }, () => db.raw('SELECT 1')));
    await db.transaction(async (trx) => {
      rows.push((await trx.raw('SELECT attrs FROM items')).rows[0]);
    });
    const queries = spy.getCalls().map((call) => {
      const first = call.args[0] as string | { text: string };
      return typeof first === 'string' ? first : first.text;
    });
    return { queries, created, rows };
  } finally {
    spy.restore();
    await db.destroy();
  }
}

const base = (): Knex.Config => ({ client: 'pg', connection: database.url, pool: { min: 0, max: 3 } });

test.serial('with no registered type: the same queries and the same values as plain knex', async (t) => {
  const plain = await workload(base());
  const wrapped = await workload(withHotUpgrade(base()));
  t.deepEqual(wrapped.queries, plain.queries);
  t.deepEqual(wrapped.rows, plain.rows);
  t.is(typeof (plain.rows[0] as { attrs: unknown }).attrs, 'string', 'plain knex returns hstore as text');
  t.false(wrapped.queries.includes(RESOLVE_TYPES_SQL));
});

test.serial('with types: exactly one lookup per new connection while maxStaleness has not passed', async (t) => {
  const plain = await workload(base());
  const wrapped = await workload(withHotUpgrade(base(), { types: ['hstore', 'citext'], maxStaleness: '1h' }));
  const lookups = wrapped.queries.filter((q) => q === RESOLVE_TYPES_SQL).length;
  t.true(wrapped.created >= 1);
  t.is(lookups, wrapped.created);
  t.deepEqual(
    wrapped.queries.filter((q) => q !== RESOLVE_TYPES_SQL),
    plain.queries,
  );
  t.deepEqual((wrapped.rows[0] as { attrs: unknown }).attrs, { a: '1' });
  t.deepEqual((wrapped.rows[0] as { emails: unknown }).emails, ['x']);
});

test.serial('with maxStaleness 0: one lookup before each use of a pooled connection', async (t) => {
  const config = withHotUpgrade(base(), { types: ['hstore'], maxStaleness: 0 });
  const wrapped = await workload(config);
  const lookups = wrapped.queries.filter((q) => q === RESOLVE_TYPES_SQL).length;
  // 10 sequential reads + 6 concurrent + 1 transaction = 17 acquisitions, each validated, plus one per new connection.
  t.is(lookups, 17 + wrapped.created);
  t.is(config.hotUpgrade.lookupCount, lookups);
});

test.serial('a type registered after connections exist is looked up before their next query', async (t) => {
  const config = withHotUpgrade(base(), { maxStaleness: '1h' });
  const db = knexFactory(config);
  try {
    t.is(typeof (await db.raw('SELECT attrs FROM items')).rows[0].attrs, 'string');
    t.is(config.hotUpgrade.lookupCount, 0);
    config.hotUpgrade.registerType('hstore', (text) => `parsed:${text}`, { array: false });
    t.is((await db.raw('SELECT attrs FROM items')).rows[0].attrs, 'parsed:"a"=>"1"');
    t.is(config.hotUpgrade.lookupCount, 1);
    t.is((await db.raw('SELECT attrs FROM items')).rows[0].attrs, 'parsed:"a"=>"1"');
    t.is(config.hotUpgrade.lookupCount, 1);
    // The global parsers are untouched: a plain client still gets the text.
    const plain = new pg.Client({ connectionString: database.url });
    await plain.connect();
    t.is((await plain.query('SELECT attrs FROM items')).rows[0].attrs, '"a"=>"1"');
    await plain.end();
  } finally {
    await db.destroy();
  }
});
