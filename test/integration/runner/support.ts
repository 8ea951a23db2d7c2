import knexFactory, { type Knex } from 'knex';
import pg from 'pg';
import { parseSettings } from '../../../src/config.js';
import { wrapMigration } from '../../../src/runner/wrap-migration.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.js';

/** A test database with tables `a`, `b`, `c`, `d` (id serial, n int, note text), 1,000 rows each. */
export async function withTables<T>(prefix: string, fn: (db: TestDatabase) => Promise<T>): Promise<T> {
  const db = await createTestDatabase(prefix);
  try {
    for (const table of ['a', 'b', 'c', 'd']) {
      await db.knex.raw(`CREATE TABLE ${table} (id serial PRIMARY KEY, n int, note text)`);
      await db.knex.raw(`INSERT INTO ${table} (n) SELECT g FROM generate_series(1, 1000) g`);
    }
    return await fn(db);
  } finally {
    await db.drop();
  }
}

/** A session that holds a lock in an open transaction (like a forgotten `BEGIN` in psql), directly on PostgreSQL. */
export interface Blocker {
  readonly pid: number;
  /** True once the release began: a statement that finishes after it has waited for the blocker. */
  readonly released: boolean;
  release(): Promise<void>;
}

/**
 * Holds `sql` (e.g. `LOCK TABLE "a" IN ACCESS SHARE MODE`, or an INSERT, whose ROW EXCLUSIVE
 * lock makes a concurrent index build wait) in an open transaction until `release()`, or
 * until `releaseAfterMs` when given.
 */
export async function holdLock(url: string, sql: string, releaseAfterMs?: number): Promise<Blocker> {
  const client = new pg.Client({ connectionString: url, application_name: 'long transaction' });
  client.on('error', () => undefined);
  await client.connect();
  const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  await client.query('BEGIN');
  await client.query(sql);
  let releasing: Promise<void> | undefined;
  const release = () =>
    (releasing ??= (async () => {
      clearTimeout(timer);
      await client.query('ROLLBACK').catch(() => undefined);
      await client.end().catch(() => undefined);
    })());
  const timer = releaseAfterMs === undefined ? undefined : setTimeout(() => void release(), releaseAfterMs);
  return {
    pid: rows[0].pid,
    get released() {
      return releasing !== undefined;
    },
    release,
  };
}

/** What the watchers read. */
export interface SettingsReport {
  readonly reads: number;
  /** Reads that saw a `lock_timeout`, `statement_timeout` or `application_name` other than the server's (`0`, `0`, empty). */
  readonly leaked: number;
  /** A few of the values seen by leaked reads. */
  readonly samples: readonly string[];
}

/**
 * `clients` connections on `url` that read `current_setting('lock_timeout')`,
 * `statement_timeout` and `application_name` in a loop, as any other client of a pooler
 * would see them. They set no `application_name` of their own (pgbouncer would pass it on).
 */
export async function watchSettings(url: string, clients: number): Promise<{ stop(): Promise<SettingsReport> }> {
  let running = true;
  let reads = 0;
  let leaked = 0;
  const samples: string[] = [];
  const failures: Error[] = [];
  const connected = await Promise.all(
    Array.from({ length: clients }, async () => {
      const client = new pg.Client({ connectionString: url });
      client.on('error', () => undefined);
      await client.connect();
      return client;
    }),
  );
  const loops = connected.map(async (client) => {
    try {
      while (running) {
        const { rows } = await client.query<{ l: string; s: string; a: string }>(
          "SELECT current_setting('lock_timeout') AS l, current_setting('statement_timeout') AS s, current_setting('application_name') AS a",
        );
        reads++;
        if (rows[0].l !== '0' || rows[0].s !== '0' || rows[0].a !== '') {
          leaked++;
          if (samples.length < 5) samples.push(`${rows[0].l}/${rows[0].s}/${JSON.stringify(rows[0].a)}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    } catch (error) {
      // A reader that fails while the test still runs is a failure of the test; one cut off
      // by the pooler stopping under a failed test is not worth a second report.
      if (running) failures.push(error as Error);
    } finally {
      await client.end().catch(() => undefined);
    }
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      if (failures.length > 0) throw failures[0];
      return { reads, leaked, samples };
    },
  };
}

/** A knex instance on `url` (destroy it when done). */
export function knexOn(url: string, max = 4): Knex {
  return knexFactory({ client: 'pg', connection: url, pool: { min: 0, max } });
}

/** Runs `up` as a migration outside a transaction, through the runner, with `zeroDowntime` option `options`. */
export async function runOutside(knex: Knex, name: string, options: unknown, up: (knex: Knex) => Promise<unknown>): Promise<void> {
  const migration = wrapMigration({ up }, { name, direction: 'up', transaction: false, settings: parseSettings(options) });
  await migration.up(knex);
}

/** The indexes of `table`: name → valid. */
export async function indexesOf(knex: Knex, table: string): Promise<Record<string, boolean>> {
  const { rows } = await knex.raw<{ rows: { name: string; valid: boolean }[] }>(
    'SELECT c.relname AS name, i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = ?::regclass ORDER BY 1',
    [table],
  );
  return Object.fromEntries(rows.map((r) => [r.name, r.valid]));
}
