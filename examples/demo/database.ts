/**
 * The demo's PostgreSQL: the server of DATABASE_URL when it is set, otherwise an embedded
 * PostgreSQL 17 (embedded-postgres.ts) in a private temporary folder, removed when it stops.
 */
import knexFactory from 'knex';
import { startEmbeddedPostgres } from './embedded-postgres.js';

/** A PostgreSQL server the demo creates its scratch databases on. */
export interface DemoServer {
  /** What it is, for the report, e.g. "embedded PostgreSQL 17.6". */
  readonly description: string;
  readonly version: string;
  /** Connection URL of `database` on this server. */
  url(database: string): string;
  createDatabase(name: string, template?: string): Promise<void>;
  dropDatabase(name: string): Promise<void>;
  stop(): Promise<void>;
}

function urlOn(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

async function admin<T>(serverUrl: string, fn: (knex: knexFactory.Knex) => Promise<T>): Promise<T> {
  // knex warns of a failed connection with its stack; the error itself is what the demo reports.
  const knex = knexFactory({ client: 'pg', connection: serverUrl, pool: { min: 0, max: 1 }, log: { warn: () => undefined } });
  try {
    return await fn(knex);
  } finally {
    await knex.destroy();
  }
}

function serverOn(serverUrl: string, description: string, version: string, stop: () => Promise<void>): DemoServer {
  return {
    description,
    version,
    url: (database) => urlOn(serverUrl, database),
    async createDatabase(name, template) {
      await admin(serverUrl, async (knex) => {
        if (template) {
          // A template must have no other session; the demo closes its pools first, this ends stragglers.
          await knex.raw('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = ? AND pid <> pg_backend_pid()', [template]);
          await knex.raw('CREATE DATABASE ?? TEMPLATE ??', [name, template]);
        } else {
          await knex.raw('CREATE DATABASE ??', [name]);
        }
      });
    },
    async dropDatabase(name) {
      await admin(serverUrl, (knex) => knex.raw('DROP DATABASE IF EXISTS ?? WITH (FORCE)', [name]));
    },
    stop,
  };
}

async function serverVersion(serverUrl: string): Promise<string> {
  return admin(serverUrl, async (knex) => {
    const result = await knex.raw<{ rows: Array<{ server_version: string }> }>('SHOW server_version');
    return result.rows[0].server_version;
  });
}

/** Uses the server of `databaseUrl` (the demo only creates and drops its own scratch databases there). */
export async function useServer(databaseUrl: string): Promise<DemoServer> {
  const shown = URL.canParse(databaseUrl) ? new URL(databaseUrl) : null;
  if (!shown || !['postgres:', 'postgresql:'].includes(shown.protocol)) {
    throw new Error('DATABASE_URL is not a postgres:// URL; expected e.g. postgres://user:password@host:5432/postgres');
  }
  shown.password = shown.password ? '***' : '';
  let version: string;
  try {
    version = await serverVersion(databaseUrl);
  } catch (error) {
    throw new Error(`cannot connect to DATABASE_URL (${shown.toString()}): ${(error as Error).message}. Unset DATABASE_URL to use an embedded PostgreSQL.`, { cause: error });
  }
  return serverOn(databaseUrl, `PostgreSQL ${version} at ${shown.host} (DATABASE_URL)`, version, async () => {});
}

/** Starts an embedded PostgreSQL (see embedded-postgres.ts); `stop()` shuts it down and removes its folder. */
export async function startEmbedded(): Promise<DemoServer> {
  const pg = await startEmbeddedPostgres({ prefix: 'knex-zd-demo-pg-' });
  const runAs = pg.user ? `, run as ${pg.user}${pg.staged ? ` from a copy of its binaries it can reach` : ''}` : '';
  return serverOn(pg.url(), `embedded PostgreSQL ${pg.version} (port ${pg.port}${runAs})`, pg.version, () => pg.stop());
}
