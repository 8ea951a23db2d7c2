import { randomBytes } from 'node:crypto';
import knexFactory, { type Knex } from 'knex';

/** Server URL used by the tests; override with ZD_TEST_PG_URL. */
export const PG_SERVER_URL = process.env.ZD_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** A fresh, uniquely named database on the test server, dropped by `drop()`. */
export interface TestDatabase {
  readonly name: string;
  readonly url: string;
  /** A knex instance on the database (destroyed by `drop()`). */
  readonly knex: Knex;
  drop(): Promise<void>;
}

function urlFor(database: string): string {
  const url = new URL(PG_SERVER_URL);
  url.pathname = `/${database}`;
  return url.toString();
}

/** Creates a fresh database for one test. */
export async function createTestDatabase(prefix = 'zd'): Promise<TestDatabase> {
  const name = `${prefix}_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`.toLowerCase();
  const admin = knexFactory({ client: 'pg', connection: PG_SERVER_URL, pool: { min: 0, max: 1 } });
  try {
    await admin.raw('CREATE DATABASE ??', [name]);
  } finally {
    await admin.destroy();
  }
  const url = urlFor(name);
  const knex = knexFactory({ client: 'pg', connection: url, pool: { min: 0, max: 4 } });
  return {
    name,
    url,
    knex,
    async drop() {
      await knex.destroy();
      const dropper = knexFactory({ client: 'pg', connection: PG_SERVER_URL, pool: { min: 0, max: 1 } });
      try {
        await dropper.raw('DROP DATABASE IF EXISTS ?? WITH (FORCE)', [name]);
      } finally {
        await dropper.destroy();
      }
    },
  };
}
