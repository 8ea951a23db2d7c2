/**
 * Copies the target's schema into the shadow with `pg_dump --schema-only`, when a `pg_dump` of
 * the server's major version or newer is at hand: the exact current schema, objects made by hand
 * and extensions included (`--no-owner --no-privileges`: no role is named; no publication or
 * subscription). `pg_dump` waits for a lock at most `--lock-wait-timeout` and takes only
 * ACCESS SHARE locks for the moment of the dump, in one read-only snapshot.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { parseStatements } from '../parser.js';
import { sandboxVerdict } from './sandbox.js';
import type { ConnectionSettings } from './shadow-database.js';

const run = promisify(execFile);

/** A `pg_dump` binary and its major version. */
export interface PgDump {
  readonly path: string;
  readonly major: number;
}

/** Where `pg_dump` binaries usually are, besides `PATH`. */
function candidates(): string[] {
  const out = new Set<string>();
  if (process.env.KNEX_ZD_PG_DUMP) out.add(process.env.KNEX_ZD_PG_DUMP);
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) if (dir) out.add(path.join(dir, 'pg_dump'));
  for (const root of ['/usr/lib/postgresql', '/usr/pgsql', '/opt/homebrew/opt', '/usr/local/opt']) {
    try {
      for (const entry of readdirSync(root)) out.add(path.join(root, entry, 'bin', 'pg_dump'));
    } catch {
      // not there
    }
  }
  return [...out].filter((file) => existsSync(file));
}

let found: Promise<PgDump[]> | undefined;

/** Every `pg_dump` found, newest first (`KNEX_ZD_PG_DUMP` names one explicitly; `KNEX_ZD_PG_DUMP=none` disables the copy). */
export function findPgDumps(): Promise<PgDump[]> {
  found ??= (async () => {
    if (process.env.KNEX_ZD_PG_DUMP === 'none') return [];
    const out: PgDump[] = [];
    for (const file of candidates()) {
      try {
        const { stdout } = await run(file, ['--version'], { timeout: 10_000 });
        const major = Number(/\(PostgreSQL\)\s+(\d+)/.exec(stdout)?.[1]);
        if (Number.isInteger(major)) out.push({ path: file, major });
      } catch {
        // not runnable
      }
    }
    return out.sort((a, b) => b.major - a.major);
  })();
  return found;
}

/** The `pg_dump` that can dump a server of `serverMajor` (its own major or newer), if any. */
export async function pgDumpFor(serverMajor: number): Promise<PgDump | null> {
  return (await findPgDumps()).find((d) => d.major >= serverMajor) ?? null;
}

/** libpq environment for `settings` (the password travels in the environment, never on the command line). */
function libpqEnv(settings: ConnectionSettings): NodeJS.ProcessEnv | null {
  const env: NodeJS.ProcessEnv = {};
  if (typeof settings.connectionString === 'string') {
    env.KNEX_ZD_DBNAME = settings.connectionString;
    return env;
  }
  const map: Array<[string, string]> = [
    ['host', 'PGHOST'],
    ['port', 'PGPORT'],
    ['user', 'PGUSER'],
    ['password', 'PGPASSWORD'],
    ['database', 'PGDATABASE'],
  ];
  for (const [key, variable] of map) {
    const value = settings[key];
    if (typeof value === 'string' || typeof value === 'number') env[variable] = String(value);
    else if (value !== undefined && value !== null) return null; // e.g. a password function
  }
  if (settings.ssl === true) env.PGSSLMODE = 'require';
  else if (settings.ssl && typeof settings.ssl === 'object') return null; // certificates: not passed along
  return env;
}

/** The target's schema as `pg_dump --schema-only` writes it; `null` when the connection settings cannot be handed to pg_dump. */
export async function dumpSchema(dump: PgDump, settings: ConnectionSettings, lockWaitMs: number): Promise<string | null> {
  const env = libpqEnv(settings);
  if (!env) return null;
  const dbname = env.KNEX_ZD_DBNAME;
  delete env.KNEX_ZD_DBNAME;
  const args = [
    '--schema-only',
    '--no-owner',
    '--no-privileges',
    '--no-publications',
    '--no-subscriptions',
    '--no-security-labels',
    '--no-comments',
    `--lock-wait-timeout=${Math.max(1, Math.round(lockWaitMs))}`,
    ...(dbname ? [`--dbname=${dbname}`] : []),
  ];
  const { stdout } = await run(dump.path, args, {
    env: { ...process.env, ...env, PGOPTIONS: '' },
    maxBuffer: 512 * 1024 * 1024,
    timeout: 10 * 60_000,
  });
  return stdout;
}

/** SQLSTATEs of restore statements that change nothing we need: the object exists already (`public`, an extension). */
const HARMLESS = new Set(['42P06', '42710', '42P07']);

/**
 * Runs a dump's statements in the shadow one by one (each through the sandbox). Returns the
 * statements that failed for a reason other than "already there"; an empty list means the copy
 * is complete.
 */
export async function restoreSchema(dumpText: string, execute: (sql: string) => Promise<void>): Promise<string[]> {
  const failures: string[] = [];
  // pg_dump (since the 2025 security releases) brackets a dump with psql's \restrict/\unrestrict meta-commands: not SQL.
  const sql = dumpText.replace(/^\\(un)?restrict\b.*$/gm, '');
  for (const statement of parseStatements(sql)) {
    if (!statement.ok) {
      failures.push(`${statement.sql.slice(0, 120)}: ${statement.error}`);
      continue;
    }
    if (!sandboxVerdict(statement.node).run) continue;
    try {
      await execute(statement.sql);
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (typeof code === 'string' && HARMLESS.has(code)) continue;
      failures.push(`${statement.sql.replace(/\s+/g, ' ').slice(0, 120)}: ${(error as Error).message}`);
    }
  }
  return failures;
}
