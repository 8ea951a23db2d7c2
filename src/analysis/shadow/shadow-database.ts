/**
 * The shadow database's life: a temporary database on the target's server (`shadow: 'auto'`),
 * created from `template0` with the target's encoding and collation, marked as knex-zd's own,
 * and dropped afterwards; or a scratch database the user names, which knex-zd empties and
 * fills (only when it is empty or was marked by knex-zd before). Leftovers of killed runs,
 * recognised by their mark and by having no session, are dropped by the next run.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import type { ShadowSetting } from '../../config.js';
import { ConfigError } from '../../errors.js';
import { connectionSettingsOf } from '../../connection-settings.js';

/** A connection to a database: what node-postgres' `Client` takes. */
export type ConnectionSettings = Record<string, unknown>;

/** A node-postgres client, as far as the shadow's set-up uses it. */
export interface PgClient {
  connect(): Promise<unknown>;
  query(sql: string, values?: unknown[]): Promise<{ rows: Array<Record<string, unknown>> }>;
  end(): Promise<void>;
}

export type PgClientClass = new (settings: ConnectionSettings) => PgClient;

/** A shadow database ready to be filled. */
export interface ShadowDatabase {
  readonly name: string;
  /** Connection settings of the shadow, for a knex config. */
  readonly connection: ConnectionSettings;
  /** True when knex-zd created it (and drops it); false for a scratch database the user named. */
  readonly temporary: boolean;
  /** Drops a temporary shadow (its pool must be closed first); a scratch database is left as it is. */
  dispose(): Promise<void>;
}

/** Why no shadow could be had: said in one line, and analysis falls back to capture mode. */
export class NoShadow {
  constructor(readonly reason: string) {}
}

const MARK = 'knex-zero-downtime shadow';
const SCRATCH_MARK = 'knex-zero-downtime scratch';
export const SHADOW_PREFIX = 'knex_zd_shadow_';
/** A leftover younger than this may belong to a run that is still starting. */
const ORPHAN_MIN_AGE_MS = 10 * 60_000;

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function quoteLiteral(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

/** The target's connection settings with another database. */
export function withDatabase(settings: ConnectionSettings, database: string): ConnectionSettings {
  if (typeof settings.connectionString === 'string') {
    const url = new URL(settings.connectionString);
    url.pathname = `/${encodeURIComponent(database)}`;
    return { ...settings, connectionString: url.toString() };
  }
  return { ...settings, database };
}

/** The node-postgres `Client` class of the target's knex, if it is node-postgres. */
export function driverOf(knex: Knex): PgClientClass | null {
  const driver = knex.client.driver as { Client?: PgClientClass } | undefined;
  return driver?.Client ?? null;
}

/** The target's connection settings, password included (see `connectionSettingsOf`). */
export function settingsOf(knex: Knex): ConnectionSettings | null {
  return connectionSettingsOf(knex.client);
}

/** Runs `fn` with a client of its own on `settings`, closed afterwards. */
export async function withClient<T>(Client: PgClientClass, settings: ConnectionSettings, fn: (client: PgClient) => Promise<T>): Promise<T> {
  // No application_name: through pgbouncer's transaction pooling it would stay on a server
  // connection that other clients then use.
  const client = new Client({ ...settings });
  try {
    await client.connect();
  } catch (error) {
    // A connection refused during authentication stays open until the server's
    // authentication_timeout (a minute) unless it is ended: the process could not exit before.
    await client.end().catch(() => undefined);
    throw error;
  }
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

function sqlStateOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: string }).code === 'EPERM';
  }
}

/**
 * Drops shadow databases that killed runs left: knex-zd's mark, no session connected, and
 * either older than ten minutes or made on this host by a process that is gone. Never touches
 * a database without the mark.
 */
export async function dropOrphanShadows(admin: PgClient, versionNum: number): Promise<string[]> {
  const { rows } = await admin.query(
    `SELECT d.datname, pg_catalog.shobj_description(d.oid, 'pg_database') AS mark,
       (SELECT count(*) FROM pg_catalog.pg_stat_activity a WHERE a.datname = d.datname)::int AS sessions
     FROM pg_catalog.pg_database d WHERE d.datname LIKE $1`,
    [`${SHADOW_PREFIX.replace(/_/g, '\\_')}%`],
  );
  const dropped: string[] = [];
  for (const row of rows) {
    const mark = typeof row.mark === 'string' ? row.mark : '';
    if (!mark.startsWith(`${MARK}: `) || Number(row.sessions) > 0) continue;
    let owner: { host?: string; pid?: number; created?: number };
    try {
      owner = JSON.parse(mark.slice(MARK.length + 2)) as typeof owner;
    } catch {
      continue;
    }
    const old = typeof owner.created === 'number' && Date.now() - owner.created > ORPHAN_MIN_AGE_MS;
    const dead = owner.host === hostname() && typeof owner.pid === 'number' && !pidAlive(owner.pid);
    if (!old && !dead) continue;
    try {
      await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(String(row.datname))}${versionNum >= 130000 ? ' WITH (FORCE)' : ''}`);
      dropped.push(String(row.datname));
    } catch {
      // Not ours to drop after all (another role's), or gone meanwhile: leave it.
    }
  }
  return dropped;
}

/** Creates a temporary shadow database on the target's server, or says why it cannot. */
async function createTemporary(target: Knex, Client: PgClientClass, settings: ConnectionSettings): Promise<ShadowDatabase | NoShadow> {
  const name = `${SHADOW_PREFIX}${randomBytes(6).toString('hex')}`;
  try {
    await withClient(Client, settings, async (admin) => {
      const [facts] = (
        await admin.query(
          `SELECT current_setting('server_version_num')::int AS version, pg_catalog.pg_encoding_to_char(encoding) AS encoding,
             datcollate, datctype FROM pg_catalog.pg_database WHERE datname = current_database()`,
        )
      ).rows;
      const version = Number(facts.version);
      await dropOrphanShadows(admin, version);
      await admin.query(
        `CREATE DATABASE ${quoteIdent(name)} TEMPLATE template0 ENCODING ${quoteLiteral(String(facts.encoding))} ` +
          `LC_COLLATE ${quoteLiteral(String(facts.datcollate))} LC_CTYPE ${quoteLiteral(String(facts.datctype))}`,
      );
      const owner = { host: hostname(), pid: process.pid, created: Date.now(), target: typeof settings.database === 'string' ? settings.database : null };
      await admin.query(`COMMENT ON DATABASE ${quoteIdent(name)} IS ${quoteLiteral(`${MARK}: ${JSON.stringify(owner)}`)}`);
    });
  } catch (error) {
    const state = sqlStateOf(error);
    if (state === '42501') return new NoShadow(`the role may not create databases (${(error as Error).message})`);
    return new NoShadow(`creating a database on the target's server failed: ${(error as Error).message}`);
  }
  const connection = withDatabase(settings, name);
  const dispose = async () => {
    await withClient(Client, settings, async (admin) => {
      const version = Number((await admin.query("SELECT current_setting('server_version_num')::int AS v")).rows[0]?.v ?? 0);
      await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)}${version >= 130000 ? ' WITH (FORCE)' : ''}`);
    });
  };
  try {
    await withClient(Client, connection, async (client) => {
      await client.query('SELECT 1');
    });
  } catch (error) {
    await dispose().catch(() => undefined);
    return new NoShadow(`the new database ${name} cannot be reached with the target's connection (${(error as Error).message}); behind a pooler, name a scratch database in zeroDowntime.shadow`);
  }
  void target;
  return { name, connection, temporary: true, dispose };
}

/** Opens the scratch database the user named: never the target, and only an empty or knex-zd-marked one, emptied. */
async function openScratch(target: Knex, Client: PgClientClass, settings: ConnectionSettings, given: string | Readonly<Record<string, unknown>>): Promise<ShadowDatabase> {
  const connection: ConnectionSettings = typeof given === 'string' ? { connectionString: given } : { ...given };
  const identity = `SELECT pg_catalog.pg_postmaster_start_time()::text AS started, d.oid::int AS oid, current_database() AS name,
      pg_catalog.shobj_description(d.oid, 'pg_database') AS mark
    FROM pg_catalog.pg_database d WHERE d.datname = current_database()`;
  let scratch: Record<string, unknown>;
  let targetIdentity: Record<string, unknown>;
  try {
    targetIdentity = await withClient(Client, settings, async (client) => (await client.query(identity)).rows[0]);
    scratch = await withClient(Client, connection, async (client) => (await client.query(identity)).rows[0]);
  } catch (error) {
    throw new ConfigError(`zeroDowntime.shadow: cannot connect to the shadow database: ${(error as Error).message}. Nothing was changed.`, { cause: error });
  }
  if (scratch.started === targetIdentity.started && scratch.oid === targetIdentity.oid) {
    throw new ConfigError(
      `zeroDowntime.shadow names the target database itself (${String(scratch.name)}): the shadow is a scratch database that knex-zd empties and fills. Give it a database of its own. Nothing was changed.`,
    );
  }
  const name = String(scratch.name);
  await withClient(Client, connection, async (client) => {
    const marked = typeof scratch.mark === 'string' && scratch.mark.startsWith(SCRATCH_MARK);
    const { rows } = await client.query(
      `SELECT count(*)::int AS n FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'`,
    );
    if (!marked && Number(rows[0]?.n) > 0) {
      throw new ConfigError(
        `zeroDowntime.shadow: the database ${name} is not empty and knex-zd did not make it its scratch database; knex-zd empties the shadow before each use and never drops what it did not create. Give it an empty database. Nothing was changed.`,
      );
    }
    try {
      await client.query(`COMMENT ON DATABASE ${quoteIdent(name)} IS ${quoteLiteral(`${SCRATCH_MARK}: emptied and filled by knex-zd before each analysis`)}`);
    } catch (error) {
      throw new ConfigError(`zeroDowntime.shadow: knex-zd cannot mark ${name} as its scratch database (${(error as Error).message}); the role must own it. Nothing was changed.`, { cause: error });
    }
    await emptyDatabase(client);
  });
  void target;
  return { name, connection, temporary: false, dispose: () => Promise.resolve() };
}

/** Drops every schema of a scratch database (with what is in it) and gives it a fresh `public`. */
export async function emptyDatabase(client: PgClient): Promise<void> {
  const { rows } = await client.query(
    `SELECT nspname FROM pg_catalog.pg_namespace WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema' ORDER BY 1`,
  );
  for (const row of rows) await client.query(`DROP SCHEMA ${quoteIdent(String(row.nspname))} CASCADE`);
  await client.query('CREATE SCHEMA public');
}

/**
 * A shadow database for `target` as `setting` says, or a {@link NoShadow} saying why there is none
 * (analysis then runs in capture mode). A scratch database that is the target, not empty and not
 * knex-zd's, or unreachable, is a {@link ConfigError}: the user asked for it explicitly.
 */
export async function openShadowDatabase(target: Knex, setting: ShadowSetting): Promise<ShadowDatabase | NoShadow> {
  if (setting.mode === 'off') return new NoShadow('zeroDowntime.shadow is false');
  const Client = driverOf(target);
  const settings = settingsOf(target);
  if (!Client || !settings) return new NoShadow('the knexfile connection is not a node-postgres connection knex-zd can copy');
  if (setting.mode === 'database') return openScratch(target, Client, settings, setting.connection);
  return createTemporary(target, Client, settings);
}
