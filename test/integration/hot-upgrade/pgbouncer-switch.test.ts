/**
 * A long-running process reads hstore and citext values through pgbouncer while pgbouncer is moved
 * from PostgreSQL 15 to PostgreSQL 17, where the extensions were created in the opposite order
 * (so every OID differs). With withHotUpgrade every value read after the documented bound is parsed
 * right; the negative control (OIDs looked up once at start-up, the usual pattern) parses them wrong.
 */
import anyTest, { type TestFn } from 'ava';
import knexFactory, { type Knex } from 'knex';
import { isDeepStrictEqual } from 'node:util';
import pg from 'pg';
import { withHotUpgrade } from '../../../src/hot-upgrade/with-hot-upgrade.js';
import type { ServerChangeEvent } from '../../../src/hot-upgrade/type-registry.js';
import { createTestDatabase, PG_SERVER_URL, type TestDatabase } from '../../helpers/db.js';
import { startPgBouncer, type PgBouncerTarget, type SwitchMethod } from '../../helpers/pgbouncer.js';
import { startSecondPostgres, type SecondPostgres } from '../../helpers/second-postgres.js';

interface Servers {
  first: { db: TestDatabase; target: PgBouncerTarget; versionNum: number; oids: Oids };
  second: { server: SecondPostgres; target: PgBouncerTarget; versionNum: number; oids: Oids };
}
type Oids = Record<'hstore' | 'citext' | '_hstore' | '_citext', number>;

const test = anyTest as TestFn<Servers>;

const MAX_STALENESS_MS = 200;
const EXPECTED = {
  attrs: { a: '1', 'b c': null, 'q"x': 'back\\slash', empty: '', null: 'NULL' },
  email: 'Alice@Example.COM',
  attrList: [{ k: 'v' }, null, {}],
  emails: ['X@y.z', 'with space', null],
};

async function prepare(connection: string, order: 'hstore-first' | 'citext-first'): Promise<{ versionNum: number; oids: Oids }> {
  const client = new pg.Client({ connectionString: connection });
  await client.connect();
  try {
    const [first, second] = order === 'hstore-first' ? ['hstore', 'citext'] : ['citext', 'hstore'];
    await client.query(`CREATE EXTENSION ${first}`);
    await client.query('CREATE TYPE filler AS (a int)');
    await client.query(`CREATE EXTENSION ${second}`);
    await client.query('CREATE TABLE items (id int PRIMARY KEY, attrs hstore, email citext, attr_list hstore[], emails citext[])');
    await client.query(
      `INSERT INTO items VALUES (1, '"a"=>"1", "b c"=>NULL, "q\\"x"=>"back\\\\slash", "empty"=>"", "null"=>"NULL"',
        'Alice@Example.COM', ARRAY['k=>v', NULL, '']::hstore[], ARRAY['X@y.z', 'with space', NULL]::citext[])`,
    );
    const rows = (
      await client.query<{ typname: keyof Oids; oid: string }>(
        "SELECT typname, oid::int8::text AS oid FROM pg_type WHERE typname IN ('hstore', 'citext', '_hstore', '_citext')",
      )
    ).rows;
    const oids = Object.fromEntries(rows.map((r) => [r.typname, Number(r.oid)])) as Oids;
    const versionNum = Number((await client.query('SHOW server_version_num')).rows[0].server_version_num);
    return { versionNum, oids };
  } finally {
    await client.end();
  }
}

test.before(async (t) => {
  const second = await startSecondPostgres();
  let db: TestDatabase | undefined;
  try {
    db = await createTestDatabase('zd_hot');
    const firstInfo = await prepare(db.url, 'hstore-first');
    const admin = new pg.Client({ connectionString: second.url() });
    await admin.connect();
    await admin.query(`CREATE DATABASE "${db.name}"`);
    await admin.end();
    const secondInfo = await prepare(second.url(db.name), 'citext-first');
    const host = new URL(PG_SERVER_URL);
    t.context = {
      first: { db, target: { host: host.hostname, port: Number(host.port || 5432), database: db.name }, ...firstInfo },
      second: { server: second, target: { host: '127.0.0.1', port: second.port, database: db.name }, ...secondInfo },
    };
  } catch (error) {
    await db?.drop();
    await second.stop();
    throw error;
  }
});

test.after.always(async (t) => {
  await t.context.first?.db.drop();
  await t.context.second?.server.stop();
});

test('the two servers are different major versions and every registered OID differs', (t) => {
  const { first, second } = t.context;
  t.is(Math.floor(first.versionNum / 10000), 15);
  t.true(Math.floor(second.versionNum / 10000) >= 16);
  for (const name of ['hstore', 'citext', '_hstore', '_citext'] as const) {
    t.not(first.oids[name], second.oids[name], `${name} has the same OID on both servers`);
  }
  // Opposite creation orders: hstore is older than citext on 15, younger on 17.
  t.true(first.oids.hstore < first.oids.citext);
  t.true(second.oids.citext < second.oids.hstore);
});

interface Read {
  readonly startedAt: number;
  readonly versionNum: number;
  readonly right: boolean;
  readonly row: Record<string, unknown>;
}

function isRight(row: Record<string, unknown>): boolean {
  return (
    isDeepStrictEqual(row.attrs, EXPECTED.attrs) &&
    row.email === EXPECTED.email &&
    isDeepStrictEqual(row.attr_list, EXPECTED.attrList) &&
    isDeepStrictEqual(row.emails, EXPECTED.emails)
  );
}

/** Reads the row in `parallel` loops until `until` says stop; a read that fails counts as wrong. */
async function readLoop(db: Knex, parallel: number, reads: Read[], until: () => boolean): Promise<void> {
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (!until()) {
        const startedAt = performance.now();
        try {
          const result = await db.raw(
            "SELECT attrs, email, attr_list, emails, current_setting('server_version_num')::int AS version_num FROM items WHERE id = 1",
          );
          const row = result.rows[0] as Record<string, unknown>;
          reads.push({ startedAt, versionNum: row.version_num as number, right: isRight(row), row });
        } catch (error) {
          reads.push({ startedAt, versionNum: 0, right: false, row: { error: String(error) } });
        }
        await new Promise((r) => setTimeout(r, 5));
      }
    }),
  );
}

/** The usual application pattern: look the OIDs up once at start-up and install parsers for them. */
async function lookedUpOnceConfig(base: Knex.Config, url: string): Promise<Knex.Config> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const rows = (await client.query("SELECT typname, oid::int8::text AS oid FROM pg_type WHERE typname IN ('hstore', '_hstore', '_citext')")).rows;
  await client.end();
  const oid = (name: string) => Number(rows.find((r) => r.typname === name).oid);
  const { parseHstore } = await import('../../../src/hot-upgrade/hstore.js');
  const { parsePgArray } = await import('../../../src/hot-upgrade/pg-array.js');
  return {
    ...base,
    pool: {
      ...base.pool,
      // Per connection, so that the other tests of this process keep the global pg.types untouched.
      afterCreate(connection: pg.Client, done: (error: Error | null, connection: pg.Client) => void) {
        connection.setTypeParser(oid('hstore'), 'text', parseHstore);
        connection.setTypeParser(oid('_hstore'), 'text', (text) => parsePgArray(text, parseHstore));
        connection.setTypeParser(oid('_citext'), 'text', (text) => parsePgArray(text, String));
        done(null, connection);
      },
    },
  };
}

interface Outcome {
  before: Read[];
  after: Read[];
  /** Reads that started later than maxStaleness after the switch was complete. */
  settled: Read[];
  createdBefore: number;
  createdAfter: number;
  events: ServerChangeEvent[];
}

async function scenario(
  servers: Servers,
  poolMode: 'session' | 'transaction',
  method: SwitchMethod,
  feature: boolean,
): Promise<Outcome> {
  const bouncer = await startPgBouncer({ poolMode, target: servers.first.target, poolSize: 4 });
  let db: Knex | undefined;
  try {
    let created = 0;
    const base: Knex.Config = {
      client: 'pg',
      connection: bouncer.url,
      pool: {
        min: 0,
        max: 3,
        // In session pooling a client keeps its server until it disconnects: connections are recycled, as apps do.
        ...(poolMode === 'session' ? { maxConnectionLifetimeMillis: 300 } : {}),
        afterCreate(connection: unknown, done: (error: Error | null, connection: unknown) => void) {
          created++;
          done(null, connection);
        },
      },
    };
    const events: ServerChangeEvent[] = [];
    const config = feature
      ? withHotUpgrade(base, { types: ['hstore', 'citext'], maxStaleness: MAX_STALENESS_MS, onServerChange: (e) => events.push(e) })
      : await lookedUpOnceConfig(
          { ...base, pool: { ...base.pool, afterCreate: undefined } },
          `postgres://postgres@${servers.first.target.host}:${servers.first.target.port}/${servers.first.target.database}`,
        );
    db = knexFactory(config);

    const before: Read[] = [];
    await readLoop(db, 3, before, () => before.length >= 30);
    const createdBefore = created;

    const after: Read[] = [];
    let switchedAt = Number.POSITIVE_INFINITY;
    let stop = false;
    const reading = readLoop(db, 3, after, () => stop);
    try {
      await bouncer.switchTo(servers.second.target, method);
      switchedAt = performance.now();
      // Read until 30 reads that started after the bound all came from the new server.
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline) {
        const settled = after.filter((r) => r.startedAt >= switchedAt + MAX_STALENESS_MS);
        if (settled.length >= 30 && settled.slice(-30).every((r) => r.versionNum === servers.second.versionNum)) break;
        await new Promise((r) => setTimeout(r, 20));
      }
    } finally {
      stop = true;
      await reading;
    }
    await new Promise((r) => setImmediate(r));
    return {
      before,
      after,
      settled: after.filter((r) => r.startedAt >= switchedAt + MAX_STALENESS_MS),
      createdBefore,
      createdAfter: created,
      events,
    };
  } finally {
    await db?.destroy();
    await bouncer.stop();
  }
}

const cases: Array<[poolMode: 'session' | 'transaction', method: SwitchMethod]> = [
  ['transaction', 'reload'],
  ['transaction', 'pause-reconnect-resume'],
  ['session', 'reload'],
  ['session', 'pause-reconnect-resume'],
];

for (const [poolMode, method] of cases) {
  test(`${poolMode} pooling, switch by ${method}: every value read after maxStaleness is parsed right`, async (t) => {
    const { first, second } = t.context;
    const outcome = await scenario(t.context, poolMode, method, true);
    const wrongInWindow = outcome.after.filter((r) => !r.right && !outcome.settled.includes(r));
    t.log(
      `${outcome.before.length} reads before, ${outcome.after.length} after (${outcome.settled.length} past the bound), ` +
        `${wrongInWindow.length} wrong inside the window, connections created ${outcome.createdBefore} → ${outcome.createdAfter}`,
    );

    t.true(outcome.before.every((r) => r.right && r.versionNum === first.versionNum));
    t.true(outcome.settled.length >= 30);
    t.true(outcome.settled.slice(-30).every((r) => r.versionNum === second.versionNum), 'the last reads came from the new server');
    const wrongSettled = outcome.settled.filter((r) => !r.right);
    t.deepEqual(wrongSettled.map((r) => r.row), [], 'a value read after the bound was parsed wrong');

    if (poolMode === 'transaction') {
      // The client connections outlived the switch: the bounded re-check did the work, not new connections.
      t.is(outcome.createdAfter, outcome.createdBefore);
    } else {
      // In session pooling a client never changes server, and a new one looks its OIDs up first: nothing is ever wrong.
      t.true(outcome.createdAfter > outcome.createdBefore);
      t.deepEqual(wrongInWindow.map((r) => r.row), []);
    }

    const change = outcome.events.find((e) => e.previous.versionNum === first.versionNum && e.current.versionNum === second.versionNum);
    t.truthy(change, 'serverChange was emitted for the switch');
    t.deepEqual(
      change?.moved.map((m) => [m.name, m.from.oid, m.from.arrayOid, m.to.oid, m.to.arrayOid]),
      [
        ['hstore', first.oids.hstore, first.oids._hstore, second.oids.hstore, second.oids._hstore],
        ['citext', first.oids.citext, first.oids._citext, second.oids.citext, second.oids._citext],
      ],
    );
    t.is(outcome.events.at(-1)?.current.versionNum, second.versionNum);
  });
}

for (const poolMode of ['transaction', 'session'] as const) {
  test(`negative control, ${poolMode} pooling: OIDs looked up once at start-up parse the new server's values wrong`, async (t) => {
    const { first, second } = t.context;
    const outcome = await scenario(t.context, poolMode, 'reload', false);
    t.true(outcome.before.every((r) => r.right && r.versionNum === first.versionNum), 'the control parses right before the switch');
    const fromSecond = outcome.settled.filter((r) => r.versionNum === second.versionNum);
    t.true(fromSecond.length >= 30);
    t.true(fromSecond.every((r) => !r.right), 'values of the new server are parsed wrong without the feature');
    t.is(typeof fromSecond[0].row.attrs, 'string', 'hstore comes back as the raw text');
    t.is(typeof fromSecond[0].row.emails, 'string', 'citext[] comes back as the raw text');
  });
}
