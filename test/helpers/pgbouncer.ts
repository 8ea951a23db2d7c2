/**
 * A pgbouncer of the test's own, on a free port, pointing one database alias at a PostgreSQL server
 * that the test can switch (config rewrite + RELOAD, or PAUSE / RECONNECT / RESUME).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chown, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { freePort, killOnExit, serviceTempDir, serviceUser, stopProcess, waitFor } from './second-postgres.js';

/** Where pgbouncer sends the alias. */
export interface PgBouncerTarget {
  readonly host: string;
  readonly port: number;
  readonly database: string;
}

/** How a test moves pgbouncer to another server. */
export type SwitchMethod =
  /** Rewrite the ini file and `RELOAD`: pgbouncer closes the old server connections once they are released. */
  | 'reload'
  /** `PAUSE` (waits for running transactions), rewrite + `RELOAD`, `RECONNECT`, `RESUME`. */
  | 'pause-reconnect-resume';

/** A running pgbouncer. */
export interface PgBouncer {
  readonly port: number;
  /** The alias that clients connect to. */
  readonly alias: string;
  /** URL of the alias through pgbouncer. */
  readonly url: string;
  /** Runs a command on the admin console (simple protocol only). */
  admin(command: string): Promise<Array<Record<string, unknown>>>;
  /** Points the alias at another server. */
  switchTo(target: PgBouncerTarget, method: SwitchMethod): Promise<void>;
  stop(): Promise<void>;
}

/** Options of {@link startPgBouncer}. */
export interface PgBouncerOptions {
  readonly target: PgBouncerTarget;
  readonly poolMode: 'session' | 'transaction';
  /** @default 'app' */
  readonly alias?: string;
  /** @default 4 */
  readonly poolSize?: number;
}

/** The pgbouncer binary: on PATH or where Debian installs it (`apt-get install pgbouncer`). */
export function pgbouncerBinary(): string {
  for (const candidate of ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer', '/usr/local/bin/pgbouncer']) {
    if (existsSync(candidate)) return candidate;
  }
  return 'pgbouncer';
}

/** Starts a pgbouncer on a free port as a non-root user; `stop()` ends it and removes its files. */
export async function startPgBouncer(options: PgBouncerOptions): Promise<PgBouncer> {
  const alias = options.alias ?? 'app';
  const dir = await serviceTempDir('zd-pgbouncer-');
  const user = serviceUser();
  const iniPath = join(dir, 'pgbouncer.ini');
  const userlist = join(dir, 'userlist.txt');
  await writeFile(userlist, '"postgres" ""\n', { mode: 0o644 });

  const writeIni = async (port: number, target: PgBouncerTarget): Promise<void> => {
    const ini = [
      '[databases]',
      `${alias} = host=${target.host} port=${target.port} dbname=${target.database} user=postgres`,
      '',
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      `unix_socket_dir = ${dir}`,
      'auth_type = trust',
      `auth_file = ${userlist}`,
      'admin_users = postgres',
      `pool_mode = ${options.poolMode}`,
      `default_pool_size = ${options.poolSize ?? 4}`,
      'max_client_conn = 200',
      'ignore_startup_parameters = extra_float_digits,options',
      `logfile = ${join(dir, 'pgbouncer.log')}`,
      `pidfile = ${join(dir, 'pgbouncer.pid')}`,
      'server_reset_query = DISCARD ALL',
      '',
    ].join('\n');
    await writeFile(iniPath, ini, { mode: 0o644 });
    if (user) await chown(iniPath, user.uid, user.gid);
  };

  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    await writeIni(port, options.target);
    const child = spawn(pgbouncerBinary(), [iniPath], { ...user, cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    killOnExit(child, 'SIGINT');
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
    let spawnError: Error | null = null;
    child.once('error', (error) => (spawnError = error));

    const admin = async (command: string): Promise<Array<Record<string, unknown>>> => {
      const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'pgbouncer' });
      client.on('error', () => {});
      await client.connect();
      try {
        return (await client.query(command)).rows;
      } finally {
        await client.end();
      }
    };

    try {
      await waitFor(() => admin('SHOW VERSION'), 15_000, () =>
        spawnError ? `pgbouncer could not start: ${String(spawnError)}` : child.exitCode !== null ? `pgbouncer exited with ${child.exitCode}: ${stderr}` : null,
      );
    } catch (error) {
      await stopProcess(child);
      if (attempt < 3 && /address already in use/i.test(stderr)) continue;
      await rm(dir, { recursive: true, force: true });
      throw error;
    }

    return {
      port,
      alias,
      url: `postgres://postgres@127.0.0.1:${port}/${alias}`,
      admin,
      async switchTo(target, method) {
        if (method === 'reload') {
          await writeIni(port, target);
          await admin('RELOAD');
          return;
        }
        await admin(`PAUSE ${alias}`);
        try {
          await writeIni(port, target);
          await admin('RELOAD');
          await admin(`RECONNECT ${alias}`);
        } finally {
          await admin(`RESUME ${alias}`);
        }
      },
      async stop() {
        await stopProcess(child);
        await rm(dir, { recursive: true, force: true });
      },
    };
  }
}
